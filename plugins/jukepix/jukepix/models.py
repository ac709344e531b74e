"""Jukepix's networks: painting encoder, temporal source, bar generator and phrase critic.

The generator follows section III-B and Table I of the Jukepix paper::

    painting (B, 3, 256, 256) --PaintingEncoder--> feature (B, 64)
    noise (B, 32) --BarTemporalSource--> one vector per bar (B, 4, 64)
    [feature, bar vector] (B * 4, 128) --PianoRollBarDecoder (one per track)--> bar (B * 4, 96, 128)

and the critic judges a whole phrase of 4 bars and 2 tracks together with the painting::

    (painting (B, 3, 256, 256), phrase (B, 4, 96, 128, 2)) --PhraseCritic--> score (B,)

Music tensors are laid out ``(batch, bars, time, pitch, tracks)``: time in steps at
:data:`~jukepix.constants.STEPS_PER_BEAT` per beat, pitch as the MIDI number 0-127, values in
[0, 1] (probabilities from the generator, binary in the data). Paintings are RGB floats in [0, 1].

Public classes (registered by the plugin under the names in brackets, so their constructor
signatures are the options a recipe may give): :class:`PaintingEncoder` ("painting-encoder"),
:class:`BarTemporalSource` ("bar-temporal"), :class:`PianoRollBarDecoder` ("pianoroll-bar"),
:class:`PhraseCritic` ("phrase-critic").

All modules work under ``torch.autocast("cpu", dtype=torch.bfloat16)`` and with
``channels_last`` weights; the critic's gradient penalty (a double backward) works under both.
bf16 pays off only on CPUs with native bf16 (AVX-512 BF16 / AMX): on an AVX2-only CPU its matrix
products and convolutions fall back to reference kernels and a training step is about ten times
slower than in fp32 (``benchmarks/bench_models.py`` measures both and reports which applies).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from crossmodal import Critic, Decoder, Encoder, TemporalSource, check_shape

from .constants import (
    BARS_PER_PHRASE,
    BEATS_PER_BAR,
    IMAGE_SHAPE,
    N_OCTAVES,
    N_PITCHES,
    N_TRACKS,
    PHRASE_SHAPE,
    SEMITONES_PER_OCTAVE,
    STEPS_PER_BAR,
)

__all__ = [
    "PaintingEncoder",
    "BarTemporalSource",
    "PianoRollBarDecoder",
    "PhraseCritic",
    "BlockConvTranspose2d",
    "BAR_GENERATOR_LAYERS",
    "DECODER_TIME_FACTORS",
    "DECODER_PITCH_FACTORS",
]

LEAKY_SLOPE = 0.2
"""Negative slope of every LeakyReLU (encoder and critic), as in DCGAN and Table I."""

BAR_GENERATOR_LAYERS = (
    # (output channels, kernel = stride (time, pitch)),  # output (time steps x pitches)
    (512, (1, 1)),  #  1 x   1: the code as a 1x1 map
    (512, (4, 1)),  #  4 x   1
    (512, (2, 1)),  #  8 x   1
    (256, (2, 1)),  # 16 x   1
    (256, (2, 1)),  # 32 x   1
    (256, (3, 1)),  # 96 x   1: the time axis is complete
    (64, (1, 2)),   # 96 x   2
    (16, (1, 8)),   # 96 x  16
    (1, (1, 8)),    # 96 x 128: one bar of one track (then a sigmoid)
)
"""The bar generator's nine transposed convolutions, the ``transconv`` rows of Table I. Each
kernel equals its stride, so every output cell has one parent. The first row maps the code, the
next five grow the time axis, the last three the pitch axis. :class:`PianoRollBarDecoder`'s
options ``channels``, ``steps_per_cell`` and ``pitch_factors`` change these rows
(:func:`_bar_layers`); its defaults build exactly these."""

DECODER_TIME_FACTORS = tuple(kernel[0] for _, kernel in BAR_GENERATOR_LAYERS if kernel[0] > 1)
"""Time up-sampling of the bar generator (1 -> 4 -> 8 -> 16 -> 32 -> 96 steps)."""

DECODER_PITCH_FACTORS = tuple(kernel[1] for _, kernel in BAR_GENERATOR_LAYERS if kernel[1] > 1)
"""Pitch up-sampling of the bar generator after the time axis is complete (1 -> 2 -> 16 -> 128
pitches)."""

DECODER_CHANNELS = tuple(channels for channels, _ in BAR_GENERATOR_LAYERS[:-1])
"""Output channels of the bar generator's layers but the last (which has one: the roll)."""

IMAGE_THUMBNAIL_SIZE = 32
"""Side in pixels of the painting thumbnail the critic's image branch looks at."""

INITIAL_ON_RATE = 0.02
"""Probability that a cell of an untrained bar generator's output is on: the output layer's bias
starts at ``logit(INITIAL_ON_RATE)``. Real piano-rolls have about 1-3% of their cells on, so the
generator starts from near-silence and learns to add notes, instead of first having to remove half
of all cells (with a zero bias the paper's decoder stayed at every cell on for its first 60 steps)."""

CRITIC_TIME_FACTORS = (3, 4, 2, BEATS_PER_BAR)
"""Time reduction of the critic's bar branch, kernel = stride: 96 steps -> 32 (a 32nd note,
3 steps) -> 8 (an 8th note) -> 4 (beats) -> 1 (the bar)."""

assert BAR_GENERATOR_LAYERS[0][1] == (1, 1), "the first layer maps the code without up-sampling"
assert math.prod(DECODER_TIME_FACTORS) == STEPS_PER_BAR, "decoder time factors must give a bar"
assert math.prod(DECODER_PITCH_FACTORS) == N_PITCHES, "decoder pitch factors must give 128 pitches"
assert math.prod(CRITIC_TIME_FACTORS) == STEPS_PER_BAR, "critic time factors must cover a bar"
assert IMAGE_SHAPE[1] % IMAGE_THUMBNAIL_SIZE == 0, "the thumbnail must tile the painting"


def _leaky() -> nn.LeakyReLU:
    return nn.LeakyReLU(LEAKY_SLOPE, inplace=False)


STD_EPS = 1e-8
"""Added to a variance before its square root, so the gradient stays finite where it is 0."""


def _std(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Population standard deviation along ``dim``, differentiable at 0 (:data:`STD_EPS`)."""
    return (x.var(dim=dim, unbiased=False) + STD_EPS).sqrt()


# -------------------------------------------------------------------------------------------
# Generator
# -------------------------------------------------------------------------------------------


class BlockConvTranspose2d(nn.ConvTranspose2d):
    """A transposed convolution whose kernel equals its stride, computed as one matrix product.

    With kernel = stride and no padding the output blocks do not overlap: input cell (h, w)
    alone gives output block ``[h*kh:(h+1)*kh, w*kw:(w+1)*kw]``. That is a matrix product of
    the ``(N*H*W, C_in)`` input cells with the ``(C_in, kh*kw*C_out)`` weight, which runs about
    twice as fast as ``nn.ConvTranspose2d`` on CPU (forward + backward, measured on the bar
    generator's layers). Parameters, state-dict keys and results are those of
    ``nn.ConvTranspose2d(in_channels, out_channels, kernel, stride=kernel)``.

    Input ``(N, C_in, H, W)``; output ``(N, C_out, H*kh, W*kw)``, laid out channels-last (no
    copy is made when one of the kernel's sides is 1 and the matching input side is 1, as in
    every layer of :class:`PianoRollBarDecoder`).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int]) -> None:
        super().__init__(in_channels, out_channels, kernel, stride=kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        n, _, height, width = x.shape
        kh, kw = self.kernel_size
        # weight (C_in, C_out, kh, kw) -> (C_in, kh * kw * C_out), output channels fastest
        weight = self.weight.permute(0, 2, 3, 1).reshape(self.in_channels, -1)
        cells = x.permute(0, 2, 3, 1).reshape(-1, self.in_channels)  # (N*H*W, C_in)
        blocks = torch.addmm(self.bias.repeat(kh * kw), cells, weight)  # (N*H*W, kh*kw*C_out)
        blocks = blocks.reshape(n, height, width, kh, kw, self.out_channels).permute(0, 1, 3, 2, 4, 5)
        out = blocks.reshape(n, height * kh, width * kw, self.out_channels)  # (N, H', W', C_out)
        return out.permute(0, 3, 1, 2)  # (N, C_out, H', W'), channels-last


class PaintingEncoder(Encoder):
    """Image feature encoder F(i) (Table I, the five ``conv`` rows).

    Five strided 4x4 convolutions with ``channels`` = (16, 32, 64, 64, 64) output channels, each
    halving height and width (256 -> 8 pixels) and followed by LeakyReLU(0.2), then flatten and
    one linear layer to ``feature_dim``. About 0.44 M parameters at the defaults.

    Input ``condition``: float ``(B, 3, 256, 256)``, RGB in [0, 1].
    Output: float ``(B, feature_dim)``, unbounded (the linear layer has no activation).

    :param feature_dim: size of the painting feature (the paper's 64).
    :param channels: output channels of the five convolutions.
    :param normalize: standardise each feature vector (zero mean, unit variance over its
        ``feature_dim`` entries, no learned scale). The paper's linear output is unbounded: measured
        after 900 updates at lr 1e-3 its entries averaged ~7,000 in size against ~1 for the bar
        vectors beside it in the decoder's input, so the noise no longer mattered and all four
        bars came out identical.
    :raises ValueError: the 256 pixels do not halve ``len(channels)`` times.
    """

    condition_shape = IMAGE_SHAPE

    def __init__(
        self, feature_dim: int = 64, channels: Sequence[int] = (16, 32, 64, 64, 64), normalize: bool = False
    ) -> None:
        super().__init__()
        if IMAGE_SHAPE[1] % 2 ** len(channels):
            raise ValueError(
                f"PaintingEncoder: {IMAGE_SHAPE[1]} pixels cannot be halved by {len(channels)} convolutions"
            )
        self.feature_dim = feature_dim
        layers: list[nn.Module] = []
        in_channels, side = IMAGE_SHAPE[0], IMAGE_SHAPE[1]
        for out_channels in channels:
            # kernel 4, stride 2, padding 1: (side) -> (side / 2)
            layers += [nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1), _leaky()]
            in_channels, side = out_channels, side // 2
        self.convs = nn.Sequential(*layers)
        self.to_feature = nn.Linear(in_channels * side * side, feature_dim)
        self.normalize = nn.LayerNorm(feature_dim, elementwise_affine=False) if normalize else nn.Identity()

    def forward(self, condition: torch.Tensor) -> torch.Tensor:
        check_shape(self, "condition", condition, (None, *self.condition_shape))
        maps = self.convs(condition)  # (B, channels[-1], side, side), 8x8 at the defaults
        return self.normalize(self.to_feature(maps.flatten(1)))  # (B, feature_dim)


class BarTemporalSource(TemporalSource):
    """Temporal input generator G_temporal(z), as MuseGAN's temporal generator.

    A linear layer maps the noise to ``hidden_channels`` x 1 bar, then two transposed 1-D
    convolutions (kernel 2, stride 2) over the bar axis grow it to 2 and then 4 bars, so
    neighbouring bars share parents and are correlated. BatchNorm + ReLU between layers; the
    output layer is linear. About 0.03 M parameters at the defaults.

    Input ``noise``: float ``(B, noise_dim)``, standard normal.
    Output: float ``(B, 4, temporal_dim)`` (bars, features), unbounded.

    :param noise_dim: size of the noise vector z.
    :param temporal_dim: size of each bar's temporal vector.
    :param hidden_channels: channels after the linear layer and after the first up-sampling.
    """

    def __init__(self, noise_dim: int = 32, temporal_dim: int = 64, hidden_channels: Sequence[int] = (128, 64)) -> None:
        super().__init__()
        assert BARS_PER_PHRASE == 4, "two stride-2 up-samplings give exactly 4 bars"
        self.noise_dim = noise_dim
        self.n_segments = BARS_PER_PHRASE
        self.temporal_dim = temporal_dim
        first, second = hidden_channels
        self.dense = nn.Sequential(nn.Linear(noise_dim, first), nn.BatchNorm1d(first), nn.ReLU())
        self.upsample = nn.Sequential(
            nn.ConvTranspose1d(first, second, 2, stride=2),  # 1 -> 2 bars
            nn.BatchNorm1d(second),
            nn.ReLU(),
            nn.ConvTranspose1d(second, temporal_dim, 2, stride=2),  # 2 -> 4 bars
        )

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        check_shape(self, "noise", noise, (None, self.noise_dim))
        hidden = self.dense(noise).unsqueeze(-1)  # (B, C, 1 bar)
        return self.upsample(hidden).transpose(1, 2)  # (B, C, 4) -> (B, 4 bars, temporal_dim)


class PianoRollBarDecoder(Decoder):
    """Bar generator G_bar: one bar of one track from ``[painting feature, bar vector]``.

    Nine transposed convolutions over a (time, pitch) map, the rows of
    :data:`BAR_GENERATOR_LAYERS` (Table I, the ``transconv`` rows). The input code is a 1x1 map;
    the first layer (kernel 1) maps it to ``channels[0]`` channels at [1, 1]; then the time axis
    grows 1 -> 4 -> 8 -> 16 -> 32 -> 96 and then the pitch axis 1 -> 2 -> 16 -> 128, kernel =
    stride in each layer. BatchNorm2d + ReLU between layers, as in DCGAN. About 2.3 M parameters at the
    defaults; one decoder is built per track.

    The output activation is a sigmoid: the targets are binary piano-rolls in {0, 1}, and the
    sigmoid gives each cell's probability of being on, which the critic sees as is (keeping the
    generator differentiable) and which is binarised at 0.5 when a phrase is written to MIDI.

    Input ``code``: float ``(N, input_dim)``, ``input_dim = feature_dim + temporal_dim`` (the
    paper's 64 + 64 = 128), N = batch x bars.
    Output: float ``(N, 96, 128)`` (time steps at 24 per beat, MIDI pitches), values in (0, 1).

    :param feature_dim: size of the painting feature the code starts with.
    :param temporal_dim: size of the bar vector that follows it.
    :param channels: output channels of the first eight layers (the ninth has one).
    :param binary_neurons: ``None`` (probabilities, the paper) or ``"deterministic"``: binary
        output, the probabilities thresholded at 0.5, with a straight-through gradient (see
        :data:`BINARY_NEURONS`), so the critic sees 0/1 rolls like the real ones.
    :param steps_per_cell: time steps each generated cell is held for: 1 (the paper: every step
        its own cell) or a divisor of 96, e.g. 3 (a 32nd-note grid: every note lasts at least 3
        steps, the qualified-note length). The time layers grow the bar to ``96 / steps_per_cell``
        cells (:func:`_time_factors`), and each cell is repeated ``steps_per_cell`` times.
    :param pitch_range: ``(lowest, highest + 1)`` MIDI pitches generated; pitches outside stay
        silent (the paper: all 128).
    :param pitch_factors: pitch up-sampling of the last three layers; their product is the number
        of pitches in ``pitch_range``.

    The output layer's bias starts at logit(:data:`INITIAL_ON_RATE`), so an untrained bar generator
    is near-silent.
    """

    segment_shape = (STEPS_PER_BAR, N_PITCHES)

    def __init__(
        self,
        feature_dim: int = 64,
        temporal_dim: int = 64,
        channels: Sequence[int] = DECODER_CHANNELS,
        binary_neurons: str | None = None,
        steps_per_cell: int = 1,
        pitch_range: tuple[int, int] = (0, N_PITCHES),
        pitch_factors: Sequence[int] = DECODER_PITCH_FACTORS,
    ) -> None:
        super().__init__()
        if binary_neurons not in BINARY_NEURONS:
            raise ValueError(f"PianoRollBarDecoder: binary_neurons must be one of {BINARY_NEURONS}, got {binary_neurons!r}")
        if steps_per_cell < 1 or STEPS_PER_BAR % steps_per_cell:
            raise ValueError(f"PianoRollBarDecoder: steps_per_cell must divide {STEPS_PER_BAR}, got {steps_per_cell}")
        low, high = (int(p) for p in pitch_range)
        if not 0 <= low < high <= N_PITCHES or math.prod(pitch_factors) != high - low:
            raise ValueError(
                f"PianoRollBarDecoder: pitch_range {tuple(pitch_range)} must lie in [0, {N_PITCHES}] and "
                f"span the product of pitch_factors {tuple(pitch_factors)}"
            )
        layers_spec = _bar_layers(channels, steps_per_cell, pitch_factors)
        self.feature_dim = feature_dim
        self.temporal_dim = temporal_dim
        self.input_dim = feature_dim + temporal_dim
        self.binary_neurons = binary_neurons
        self.steps_per_cell = steps_per_cell
        self.pitch_padding = (low, N_PITCHES - high)  # silent pitches below and above the range
        in_channels = self.input_dim
        layers: list[nn.Module] = []
        for out_channels, kernel in layers_spec[:-1]:
            layers += [
                BlockConvTranspose2d(in_channels, out_channels, kernel),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(),
            ]
            in_channels = out_channels
        output = BlockConvTranspose2d(in_channels, *layers_spec[-1])
        with torch.no_grad():  # start near the data's sparsity instead of at p = 0.5 everywhere
            output.bias.fill_(math.log(INITIAL_ON_RATE / (1.0 - INITIAL_ON_RATE)))
        layers.append(output)
        self.layers = nn.Sequential(*layers)  # logits; the sigmoid is applied in forward

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        check_shape(self, "code", code, (None, self.input_dim))
        logits = self.layers(code[:, :, None, None])[:, 0]  # (N, input_dim, 1, 1) -> (N, cells, pitches)
        bar = torch.sigmoid(logits)
        if self.binary_neurons is not None:
            with torch.no_grad():
                hard = (bar > 0.5).to(bar.dtype)
            bar = _StraightThrough.apply(bar, hard)
        bar = bar.repeat_interleave(self.steps_per_cell, dim=1)  # (N, 96, pitches): each cell held
        return F.pad(bar, self.pitch_padding)  # (N, time, 128 pitches)


BINARY_NEURONS = (None, "deterministic")
"""Output modes of the bar generator: probabilities (``None``, the paper), or binary values
thresholded at 0.5 with a straight-through gradient to the probabilities (``"deterministic"``,
BinaryMuseGAN's deterministic binary neurons)."""


class _StraightThrough(torch.autograd.Function):
    """Forward: the given 0/1 values exactly; backward: the gradient passed on unchanged to the
    probabilities they were thresholded from."""

    @staticmethod
    def forward(ctx, source: torch.Tensor, hard: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return hard

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return grad, None


def _bar_layers(
    channels: Sequence[int], steps_per_cell: int, pitch_factors: Sequence[int]
) -> list[tuple[int, tuple[int, int]]]:
    """:data:`BAR_GENERATOR_LAYERS` with a decoder's options applied, in the same
    ``(output channels, kernel = stride (time, pitch))`` rows.

    The first row keeps its kernel; the time rows grow 1 cell to ``96 / steps_per_cell`` cells
    (:func:`_time_factors`); one pitch row per entry of ``pitch_factors``; ``channels`` gives the
    output channels of every row but the last, which has one (the roll).

    :raises ValueError: ``channels`` does not have one entry per row but the last.
    """
    kernels = [BAR_GENERATOR_LAYERS[0][1]]
    kernels += [(factor, 1) for factor in _time_factors(STEPS_PER_BAR // steps_per_cell)]
    kernels += [(1, int(factor)) for factor in pitch_factors]
    if len(channels) != len(kernels) - 1:
        raise ValueError(
            f"PianoRollBarDecoder: channels needs {len(kernels) - 1} entries (one per layer "
            f"but the last), got {len(channels)}"
        )
    return [(int(out), kernel) for out, kernel in zip([*channels, 1], kernels)]


def _time_factors(cells: int) -> tuple[int, ...]:
    """:data:`DECODER_TIME_FACTORS` cut down to grow 1 time cell to ``cells`` (a divisor of 96).

    Each factor keeps its greatest common divisor with what is still missing, e.g. 32 cells
    (``steps_per_cell=3``) -> (4, 2, 2, 2, 1): the same nine layers, the last time layer a 1x1.
    """
    factors, missing = [], cells
    for factor in DECODER_TIME_FACTORS:
        kept = math.gcd(factor, missing)
        factors.append(kept)
        missing //= kept
    assert missing == 1, f"{cells} time cells cannot be grown from {DECODER_TIME_FACTORS}"
    return tuple(factors)


# -------------------------------------------------------------------------------------------
# Critic
# -------------------------------------------------------------------------------------------


class PhraseCritic(Critic):
    """Phrase discriminator D(i, y): a WGAN critic of a 4-bar, 2-track phrase and its painting.

    Designed for cost (PITFALLS.md: merging bars first at 96x128 is ~17x slower than reducing
    pitch and time first). Each bar is judged on its own first, with the tracks as channels:

    1. pitch: pad 128 -> 132 pitches (:data:`~jukepix.constants.N_OCTAVES` = 11 octaves from
       C-1); a (1, 12) convolution of stride 12
       (one octave, aligned on C: chord shapes of both tracks) and a (1, 11) convolution over
       all octaves (register) -> ``pitch_channels[1]`` features per time step;
    2. time: convolutions of kernel = stride over 96 -> 32 -> 8 -> 4 -> 1 steps
       (:data:`CRITIC_TIME_FACTORS`) -> a ``time_channels[-1]`` vector per bar;
    3. bars: a convolution of width 2 over the bar axis and a linear layer -> ``phrase_dim``.

    Every convolution in steps 1 and 2 has kernel = stride, so its patches do not overlap and it
    is computed as a linear layer applied to each patch of a reshaped view (the weights of
    ``nn.Linear(kernel * C_in, C_out)``, patch cells ordered (position, channel)); on CPU this
    is several times faster than ``nn.Conv2d`` on these thin shapes, in the gradient penalty's
    double backward above all.

    An image branch reduces the painting to a 32x32 thumbnail (area average), then three strided
    4x4 convolutions (-> 4x4 pixels) and a linear layer give an ``image_dim`` vector. The two
    vectors are concatenated and a two-layer head gives the score. LeakyReLU(0.2) everywhere,
    no BatchNorm (it would couple the samples of a batch and break the per-sample gradient
    penalty).

    Inputs: ``condition`` float ``(B, 3, 256, 256)``, RGB in [0, 1]; ``sample`` float
    ``(B, 4, 96, 128, 2)`` (bars, time steps, pitches, tracks) in [0, 1].
    Output: float ``(B,)``, the unbounded critic score (higher = more real).

    :param pitch_channels: features per octave, then per time step after merging octaves.
    :param time_channels: channels after each time reduction (the last is the bar vector size).
    :param phrase_dim: size of the phrase vector after merging bars.
    :param image_channels: channels of the image branch's three convolutions.
    :param image_dim: size of the image vector.
    :param head_dim: hidden size of the head.
    :param bar_contrast: give the head the standard deviation of the bar vectors over the 4 bars of
        the phrase (``time_channels[-1]`` more inputs): a phrase that repeats one bar has 0
        there, so the critic sees repetition directly. Per sample, so the penalty stays per sample.
        Measured: with the paper's critic a trained generator ignored its bar vectors (zeroing
        them flipped 0.02% of the cells) and every phrase was one bar four times.
    """

    condition_shape = IMAGE_SHAPE
    sample_shape = PHRASE_SHAPE

    def __init__(
        self,
        pitch_channels: Sequence[int] = (32, 64),
        time_channels: Sequence[int] = (64, 128, 128, 128),
        phrase_dim: int = 256,
        image_channels: Sequence[int] = (32, 64, 64),
        image_dim: int = 128,
        head_dim: int = 256,
        bar_contrast: bool = False,
    ) -> None:
        super().__init__()
        if len(time_channels) != len(CRITIC_TIME_FACTORS):
            raise ValueError(
                f"PhraseCritic: time_channels needs {len(CRITIC_TIME_FACTORS)} entries, got {len(time_channels)}"
            )
        self.n_octaves = N_OCTAVES
        self.pitch_padding = N_OCTAVES * SEMITONES_PER_OCTAVE - N_PITCHES  # 4 pitches above G9
        octave_channels, pitch_out = pitch_channels
        # (1, 12) stride-12 convolution over (pitch, tracks) patches of one octave
        self.octave = nn.Linear(SEMITONES_PER_OCTAVE * N_TRACKS, octave_channels)
        # (1, 11) convolution over all octaves
        self.across_octaves = nn.Linear(self.n_octaves * octave_channels, pitch_out)
        self.time = nn.ModuleList()  # (factor, 1) stride-factor convolutions over time
        in_channels = pitch_out
        for out_channels, factor in zip(time_channels, CRITIC_TIME_FACTORS):
            self.time.append(nn.Linear(factor * in_channels, out_channels))
            in_channels = out_channels
        bar_dim = in_channels
        bar_kernel = 2
        self.bars = nn.Sequential(
            nn.Conv1d(bar_dim, bar_dim, bar_kernel),  # 4 bars -> 3 pairs of neighbours
            _leaky(),
            nn.Flatten(),
            nn.Linear(bar_dim * (BARS_PER_PHRASE - bar_kernel + 1), phrase_dim),
            _leaky(),
        )
        self.thumbnail_pool = IMAGE_SHAPE[1] // IMAGE_THUMBNAIL_SIZE
        image_layers: list[nn.Module] = []
        in_channels, side = IMAGE_SHAPE[0], IMAGE_THUMBNAIL_SIZE
        for out_channels in image_channels:
            image_layers += [nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1), _leaky()]
            in_channels, side = out_channels, side // 2
        image_layers += [nn.Flatten(), nn.Linear(in_channels * side * side, image_dim), _leaky()]
        self.image = nn.Sequential(*image_layers)
        self.bar_contrast = bar_contrast
        head_in = phrase_dim + image_dim + (bar_dim if bar_contrast else 0)
        self.head = nn.Sequential(nn.Linear(head_in, head_dim), _leaky(), nn.Linear(head_dim, 1))

    def forward(self, condition: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        check_shape(self, "condition", condition, (None, *self.condition_shape))
        check_shape(self, "sample", sample, (None, *self.sample_shape))
        batch, bars, steps = sample.shape[:3]
        x = F.pad(sample, (0, 0, 0, self.pitch_padding))  # (B, bars, time, 132, tracks), silent above G9
        x = x.reshape(batch, bars, steps, self.n_octaves, -1)  # octave patches: 12 pitches x tracks
        x = F.leaky_relu(self.octave(x), LEAKY_SLOPE)  # (B, bars, time, octaves, C)
        x = F.leaky_relu(self.across_octaves(x.flatten(3)), LEAKY_SLOPE)  # (B, bars, time, C)
        for factor, layer in zip(CRITIC_TIME_FACTORS, self.time):
            steps //= factor
            x = F.leaky_relu(layer(x.reshape(batch, bars, steps, -1)), LEAKY_SLOPE)  # (B, bars, steps, C)
        bar_vectors = x[:, :, 0]  # (B, bars, bar_dim)
        phrase = self.bars(bar_vectors.transpose(1, 2))  # (B, bar_dim, bars) -> (B, phrase_dim)
        thumbnail = F.avg_pool2d(condition, self.thumbnail_pool)  # (B, 3, 32, 32)
        features = [phrase, self.image(thumbnail)]  # (B, phrase_dim), (B, image_dim)
        if self.bar_contrast:
            features.append(_std(bar_vectors, dim=1))  # (B, bar_dim): 0 when the bars are alike
        return self.head(torch.cat(features, dim=1))[:, 0]  # (B,)
