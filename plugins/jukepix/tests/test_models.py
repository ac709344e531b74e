"""Jukepix networks: Table I shapes, parameter counts, gradients, shape errors, autocast, and the
default recipe's generator on hand-set weights."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from crossmodal import ConditionalGenerator, Critic, Decoder, Encoder, ShapeError, TemporalSource
from jukepix.constants import BARS_PER_PHRASE, IMAGE_SHAPE, N_PITCHES, N_TRACKS, PHRASE_SHAPE, STEPS_PER_BAR
from jukepix.models import (
    BAR_GENERATOR_LAYERS,
    INITIAL_ON_RATE,
    BarTemporalSource,
    BlockConvTranspose2d,
    PaintingEncoder,
    PhraseCritic,
    PianoRollBarDecoder,
)
from jukepix.recipes import MUSIC_OPTIONS

TABLE_I_CONV_CHANNELS = [16, 32, 64, 64, 64]
"""Output channels of the encoder's conv rows in Table I of the paper."""

TABLE_I_TRANSCONV_SHAPES = [(1, 1), (4, 1), (8, 1), (16, 1), (32, 1), (96, 1), (96, 2), (96, 16), (96, 128)]
"""(time, pitch) output shapes of the bar generator's transconv rows in Table I of the paper."""

BATCH = 2


def n_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def generate(encoder, temporal, decoders, images, noise):
    """The core's generator of these parts: (B, 3, 256, 256), (B, noise) -> (B, 4, 96, 128, 2)."""
    return ConditionalGenerator(encoder, temporal, decoders)(images, noise)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Run these tests on one intra-op thread: on a shared 2-core machine, two OpenMP threads
    competing with other processes made the tests up to 20x slower (measured)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def parts():
    torch.manual_seed(0)
    return PaintingEncoder(), BarTemporalSource(), [PianoRollBarDecoder() for _ in range(N_TRACKS)], PhraseCritic()


def test_factories_build_the_interfaces(parts):
    encoder, temporal, decoders, critic = parts
    assert isinstance(encoder, Encoder) and encoder.condition_shape == IMAGE_SHAPE and encoder.feature_dim == 64
    assert isinstance(temporal, TemporalSource)
    assert (temporal.noise_dim, temporal.n_segments, temporal.temporal_dim) == (32, BARS_PER_PHRASE, 64)
    assert isinstance(decoders[0], Decoder)
    assert decoders[0].input_dim == encoder.feature_dim + temporal.temporal_dim == 128
    assert decoders[0].segment_shape == (STEPS_PER_BAR, N_PITCHES)
    assert isinstance(critic, Critic)
    assert critic.condition_shape == IMAGE_SHAPE and critic.sample_shape == PHRASE_SHAPE
    assert PianoRollBarDecoder(feature_dim=32, temporal_dim=16).input_dim == 48


def test_encoder_layers_follow_table_i():
    encoder = PaintingEncoder()
    convs = [m for m in encoder.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == TABLE_I_CONV_CHANNELS
    shapes, x = [], torch.rand(1, *IMAGE_SHAPE)
    for layer in encoder.convs:
        x = layer(x)
        if isinstance(layer, nn.Conv2d):
            shapes.append(tuple(x.shape[1:]))
    assert shapes == [(16, 128, 128), (32, 64, 64), (64, 32, 32), (64, 16, 16), (64, 8, 8)]
    assert isinstance(encoder.convs[1], nn.LeakyReLU) and encoder.convs[1].negative_slope == 0.2


def test_decoder_layers_follow_table_i():
    decoder = PianoRollBarDecoder().eval()
    code = torch.randn(3, decoder.input_dim)
    x = code[:, :, None, None]
    shapes = []
    for layer in decoder.layers:
        x = layer(x)
        if isinstance(layer, BlockConvTranspose2d):
            shapes.append(tuple(x.shape[2:]))
    assert shapes == TABLE_I_TRANSCONV_SHAPES
    assert shapes[-1] == (STEPS_PER_BAR, N_PITCHES)
    torch.testing.assert_close(decoder(code), torch.sigmoid(x[:, 0]))  # the sigmoid of the last transconv
    assert sum(isinstance(m, nn.BatchNorm2d) for m in decoder.modules()) == len(TABLE_I_TRANSCONV_SHAPES) - 1


def test_default_decoder_builds_the_listed_layers():
    convs = [m for m in PianoRollBarDecoder().modules() if isinstance(m, BlockConvTranspose2d)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == list(BAR_GENERATOR_LAYERS)
    assert all(c.stride == c.kernel_size for c in convs)


def test_parameter_counts_match_the_paper_sizes(parts):
    encoder, temporal, decoders, critic = parts
    assert 0.40e6 < n_parameters(encoder) < 0.48e6
    assert 0.02e6 < n_parameters(temporal) < 0.04e6
    assert 2.1e6 < n_parameters(decoders[0]) < 2.5e6
    generator = n_parameters(encoder) + n_parameters(temporal) + sum(map(n_parameters, decoders))
    assert 4.7e6 < generator < 5.5e6
    assert n_parameters(critic) < 1.0e6


def test_generator_and_critic_forward_backward(parts):
    encoder, temporal, decoders, critic = parts
    images, noise = torch.rand(BATCH, *IMAGE_SHAPE), torch.randn(BATCH, temporal.noise_dim)
    assert temporal(noise).shape == (BATCH, BARS_PER_PHRASE, temporal.temporal_dim)
    fake = generate(encoder, temporal, decoders, images, noise)
    assert fake.shape == (BATCH, *PHRASE_SHAPE)
    assert fake.min() > 0 and fake.max() < 1
    score = critic(images, fake)
    assert score.shape == (BATCH,)
    score.sum().backward()
    modules = [encoder, temporal, *decoders, critic]
    for module in modules:
        for name, p in module.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), f"{type(module).__name__}.{name}"
        module.zero_grad(set_to_none=True)


def test_critic_gradient_penalty_double_backward(parts):
    critic = parts[3]
    images = torch.rand(BATCH, *IMAGE_SHAPE)
    mixed = torch.rand(BATCH, *PHRASE_SHAPE, requires_grad=True)
    (grad,) = torch.autograd.grad(critic(images, mixed).sum(), mixed, create_graph=True)
    assert grad.shape == mixed.shape
    penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    penalty.backward()
    first = critic.octave.weight.grad
    assert first is not None and torch.isfinite(first).all() and first.abs().sum() > 0
    critic.zero_grad(set_to_none=True)


def test_critic_has_no_batchnorm_and_scores_samples_independently(parts):
    critic = parts[3]
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules())
    images, phrases = torch.rand(2, *IMAGE_SHAPE), torch.rand(2, *PHRASE_SHAPE)
    with torch.no_grad():
        together = critic(images, phrases)
        alone = critic(images[1:], phrases[1:])
    torch.testing.assert_close(together[1:], alone, rtol=1e-4, atol=1e-5)


def test_critic_octave_layer_is_an_octave_convolution(parts):
    """The patch-wise linear layer equals a (1, 12) stride-12 convolution with tracks as channels."""
    critic = parts[3]
    phrases = torch.rand(BATCH, *PHRASE_SHAPE)
    padded = F.pad(phrases, (0, 0, 0, critic.pitch_padding))  # (B, bars, time, 132, tracks)
    with torch.no_grad():
        ours = critic.octave(padded.reshape(*padded.shape[:3], critic.n_octaves, -1))  # (B, bars, time, octaves, C)
        out_channels = critic.octave.out_features
        weight = critic.octave.weight.reshape(out_channels, 12, N_TRACKS).permute(0, 2, 1)[:, :, None, :]
        bars = padded.flatten(0, 1).permute(0, 3, 1, 2)  # (B * bars, tracks, time, pitch)
        conv = F.conv2d(bars, weight, critic.octave.bias, stride=(1, 12))  # (B * bars, C, time, octaves)
    torch.testing.assert_close(ours.flatten(0, 1).permute(0, 3, 1, 2), conv, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "module, argument",
    [
        (PaintingEncoder(), torch.rand(BATCH, 3, 128, 128)),
        (BarTemporalSource(), torch.randn(BATCH, 16)),
        (PianoRollBarDecoder(), torch.randn(BATCH, 100)),
    ],
    ids=["encoder", "temporal", "decoder"],
)
def test_wrong_input_shape_raises_shape_error(module, argument):
    with pytest.raises(ShapeError, match=type(module).__name__):
        module(argument)


def test_critic_wrong_shapes_raise_shape_error(parts):
    critic = parts[3]
    images = torch.rand(BATCH, *IMAGE_SHAPE)
    with pytest.raises(ShapeError, match=r"PhraseCritic: sample must have shape \(\*, 4, 96, 128, 2\)"):
        critic(images, torch.rand(BATCH, 4, 96, 128))  # tracks axis missing
    with pytest.raises(ShapeError, match="condition"):
        critic(torch.rand(BATCH, 1, 256, 256), torch.rand(BATCH, *PHRASE_SHAPE))


def test_decoder_rejects_wrong_number_of_channels():
    with pytest.raises(ValueError, match="8 entries"):
        PianoRollBarDecoder(channels=(64, 32))


@pytest.mark.parametrize("kernel, size", [((4, 1), (1, 1)), ((3, 1), (32, 1)), ((1, 8), (96, 2)), ((2, 3), (5, 7))])
def test_block_conv_transpose_equals_conv_transpose(kernel, size):
    torch.manual_seed(1)
    block = BlockConvTranspose2d(6, 5, kernel)
    reference = nn.ConvTranspose2d(6, 5, kernel, stride=kernel)
    reference.load_state_dict(block.state_dict())
    x = torch.randn(3, 6, *size, requires_grad=True)
    ours, theirs = block(x), reference(x)
    torch.testing.assert_close(ours, theirs)
    target = torch.randn_like(theirs)
    (grad_ours,) = torch.autograd.grad((ours * target).sum(), x)
    (grad_theirs,) = torch.autograd.grad((theirs * target).sum(), x)
    torch.testing.assert_close(grad_ours, grad_theirs)
    torch.testing.assert_close(F.conv_transpose2d(x, block.weight, block.bias, stride=kernel), ours)


def test_bf16_autocast_and_channels_last(parts):
    encoder, temporal, decoders, critic = parts
    modules = [encoder, temporal, *decoders, critic]
    for module in modules:
        module.to(memory_format=torch.channels_last)
    try:
        images = torch.rand(BATCH, *IMAGE_SHAPE).contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fake = generate(encoder, temporal, decoders, images, torch.randn(BATCH, temporal.noise_dim))
            mixed = fake.detach().float().requires_grad_(True)
            (grad,) = torch.autograd.grad(critic(images, mixed).sum(), mixed, create_graph=True)
            loss = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean() - critic(images, fake).mean()
        loss.backward()
        assert fake.shape == (BATCH, *PHRASE_SHAPE) and torch.isfinite(fake).all()
        for module in modules:
            assert all(p.grad is None or torch.isfinite(p.grad).all() for p in module.parameters())
    finally:
        for module in modules:
            module.to(memory_format=torch.contiguous_format)
            module.zero_grad(set_to_none=True)


def test_one_phrase_in_eval_mode(parts):
    encoder, temporal, decoders, _ = parts
    for module in [encoder, temporal, *decoders]:
        module.eval()
    try:
        with torch.no_grad():
            phrase = generate(encoder, temporal, decoders, torch.rand(1, *IMAGE_SHAPE), torch.randn(1, temporal.noise_dim))
        assert phrase.shape == (1, *PHRASE_SHAPE)
    finally:
        for module in [encoder, temporal, *decoders]:
            module.train()


def test_untrained_decoder_starts_near_its_initial_on_rate():
    torch.manual_seed(0)
    decoder = PianoRollBarDecoder()
    with torch.no_grad():
        bars = decoder(torch.randn(16, decoder.input_dim))
    assert bars.mean().item() == pytest.approx(INITIAL_ON_RATE, rel=0.5)  # not 0.5, as a zero bias would give


def test_the_default_recipes_generator_on_hand_set_weights():
    """The networks the ``jukepix`` recipes train (MUSIC_OPTIONS), checked on rolls known from
    weights set by hand: binary cells held 6 steps, silent outside MIDI 24-95, and an output layer
    whose weights are tied across octaves."""
    torch.manual_seed(0)
    options = MUSIC_OPTIONS["decoder"]
    low, high = options["pitch_range"]  # 24 (C1) to 96: six octaves, each from a C
    cell = options["steps_per_cell"]
    generator = ConditionalGenerator(
        PaintingEncoder(**MUSIC_OPTIONS["encoder"]), BarTemporalSource(),
        [PianoRollBarDecoder(**options) for _ in range(N_TRACKS)],
    ).eval()  # BatchNorm with its initial statistics: (x - 0) / sqrt(1 + eps)
    paintings, noise = torch.rand(3, *IMAGE_SHAPE), torch.randn(3, generator.noise_dim)
    convs = [m for m in generator.decoders[0].modules() if isinstance(m, BlockConvTranspose2d)]
    assert [c.kernel_size for c in convs[-3:]] == [(1, 1), (1, 6), (1, 12)]  # 1 -> 6 octaves -> 72 pitches
    with torch.no_grad():
        phrase = generator(paintings, noise)
        assert phrase.shape == (3, *PHRASE_SHAPE)
        assert set(phrase.unique().tolist()) <= {0.0, 1.0}  # binary neurons
        assert phrase[..., :low, :].abs().sum() == 0 and phrase[..., high:, :].abs().sum() == 0
        held = phrase.reshape(3, BARS_PER_PHRASE, STEPS_PER_BAR // cell, cell, N_PITCHES, N_TRACKS)
        assert torch.equal(held, held[:, :, :, :1].expand_as(held))  # every cell held `cell` steps

        convs[-1].weight.zero_()  # every cell of track 0 is its bias: logit(INITIAL_ON_RATE), off
        assert phrase.new_tensor(INITIAL_ON_RATE).logit().item() == pytest.approx(convs[-1].bias.item())
        assert generator(paintings, noise)[..., 0].abs().sum() == 0
        convs[-1].bias.fill_(1.0)  # logit 1 everywhere: every pitch of the range on, and only those
        track = generator(paintings, noise)[..., 0]
        assert track[..., low:high].min() == 1 and track.sum() == 3 * BARS_PER_PHRASE * STEPS_PER_BAR * (high - low)

        # Tied octaves: the last layer turns each octave's cell into its 12 pitches with the same
        # weights. With the layer before reduced to its bias, every octave's cell is the same, so
        # every octave plays the same pitch classes.
        torch.manual_seed(1)
        convs[-1].weight.normal_()
        convs[-1].bias.zero_()
        convs[-2].weight.zero_()
        convs[-2].bias.uniform_(0.5, 1.0)
        octaves = generator(paintings, noise)[..., low:high, 0].reshape(3, BARS_PER_PHRASE, STEPS_PER_BAR, 6, 12)
        assert torch.equal(octaves, octaves[..., :1, :].expand_as(octaves))
        assert 0 < octaves.mean() < 1  # some pitch classes on, some off
        assert torch.equal(generator(paintings, noise)[..., 1], phrase[..., 1])  # track 1 untouched


# -------------------------------------------------------------------------------------------
# The bar generator's options for a faster recipe: binary neurons, a coarser time grid, a pitch window


def _small_decoder(on_rate: float = INITIAL_ON_RATE, **options) -> PianoRollBarDecoder:
    """A small decoder whose output bias starts at logit(``on_rate``)."""
    torch.manual_seed(0)
    decoder = PianoRollBarDecoder(feature_dim=4, temporal_dim=4, channels=(8,) * 8, **options)
    with torch.no_grad():
        decoder.layers[-1].bias.fill_(math.log(on_rate / (1.0 - on_rate)))
    return decoder


def test_deterministic_binary_neurons_give_the_thresholded_roll_and_pass_the_gradient_straight_through():
    probabilities = _small_decoder(on_rate=0.5).train()
    binary = _small_decoder(on_rate=0.5, binary_neurons="deterministic").train()
    code = torch.randn(6, 8)
    p = probabilities(code)
    b = binary(code)
    assert set(b.unique().tolist()) <= {0.0, 1.0} and 0 < b.mean() < 1
    assert torch.equal(b, (p > 0.5).float())
    weights = torch.rand_like(p)  # an asymmetric upstream gradient
    (p * weights).sum().backward()
    (b * weights).sum().backward()
    for grad_p, grad_b in zip((q.grad for q in probabilities.parameters()), (q.grad for q in binary.parameters())):
        torch.testing.assert_close(grad_b, grad_p)  # straight-through: the sigmoid's gradient, unchanged


def test_steps_per_cell_holds_every_cell_and_makes_every_note_qualified():
    decoder = _small_decoder(on_rate=0.5, steps_per_cell=3, binary_neurons="deterministic").train()
    bar = decoder(torch.randn(5, 8))  # (5, 96, 128), about half the cells on
    assert bar.shape == (5, STEPS_PER_BAR, N_PITCHES)
    cells = bar.reshape(5, STEPS_PER_BAR // 3, 3, N_PITCHES)
    assert torch.equal(cells, cells[:, :, :1].expand_as(cells))
    onsets = (bar[:, 1:] > 0.5) & ~(bar[:, :-1] > 0.5)
    assert onsets.any()
    assert not (onsets[:, :-2] & ~(bar[:, 2:-1] > 0.5)).any()  # no note shorter than 3 steps
    with pytest.raises(ValueError, match="steps_per_cell must divide 96"):
        _small_decoder(steps_per_cell=5)


def test_pitch_range_keeps_other_pitches_silent():
    decoder = _small_decoder(on_rate=0.5, pitch_range=(24, 108), pitch_factors=(1, 7, 12)).eval()
    bar = decoder(torch.randn(5, 8))
    assert bar.shape == (5, STEPS_PER_BAR, N_PITCHES)
    assert bar[..., :24].abs().sum() == 0 and bar[..., 108:].abs().sum() == 0
    assert bar[..., 24:108].min() > 0
    with pytest.raises(ValueError, match="pitch_range"):
        _small_decoder(pitch_range=(24, 100), pitch_factors=(1, 7, 12))


def test_normalized_encoder_features_have_unit_scale_whatever_the_weights():
    torch.manual_seed(0)
    encoder = PaintingEncoder(normalize=True)
    with torch.no_grad():
        encoder.to_feature.weight.mul_(1000.0)  # an exploded output layer
    feature = encoder(torch.rand(4, *IMAGE_SHAPE))
    torch.testing.assert_close(feature.mean(dim=1), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(feature.std(dim=1, unbiased=False), torch.ones(4), atol=1e-3, rtol=0)
    assert PaintingEncoder().state_dict().keys() == encoder.state_dict().keys()  # no new weights


def test_encoder_refuses_more_halvings_than_the_painting_has():
    with pytest.raises(ValueError, match="cannot be halved by 9 convolutions"):
        PaintingEncoder(channels=(16,) * 9)
