"""The four networks of the palette plugin, small enough to train on a CPU in seconds.

::

    palette (B, 5, 3) --PaletteEncoder--> feature (B, feature_dim)
    noise (B, noise_dim) --SegmentTemporalSource--> one vector per segment (B, 2, temporal_dim)
    [feature, segment vector] (B * 2, feature_dim + temporal_dim)
        --LampDecoder (one per lamp)--> one segment of one lamp (B * 2, 8)
    (palette (B, 5, 3), pattern (B, 2, 8, 2)) --PatternCritic--> score (B,)

Each class declares the size attributes of its crossmodal interface (``condition_shape``,
``feature_dim``, ``noise_dim``, ``n_segments``, ``temporal_dim``, ``input_dim``,
``segment_shape``, ``sample_shape``), so the core checks that the partners fit when a recipe is
built, before training starts.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from crossmodal import Critic, Decoder, Encoder, TemporalSource, check_shape

from .constants import N_SEGMENTS, PALETTE_SHAPE, PATTERN_SHAPE, SEGMENT_SHAPE

__all__ = ["LampDecoder", "PaletteEncoder", "PatternCritic", "SegmentTemporalSource"]

LEAKY_SLOPE = 0.2
"""Negative slope of the critic's LeakyReLUs."""


class PaletteEncoder(Encoder):
    """Palette -> feature: flatten the 15 numbers, then a two-layer MLP.

    Input ``condition``: float ``(B, 5, 3)``, RGB in [0, 1].
    Output: float ``(B, feature_dim)``, unbounded.

    :param feature_dim: size of the feature vector.
    :param hidden: width of the hidden layer.
    """

    condition_shape = PALETTE_SHAPE

    def __init__(self, feature_dim: int = 16, hidden: int = 32) -> None:
        super().__init__()
        self.feature_dim = feature_dim
        self.layers = nn.Sequential(
            nn.Flatten(),  # (B, 5, 3) -> (B, 15)
            nn.Linear(math.prod(PALETTE_SHAPE), hidden),
            nn.ReLU(),
            nn.Linear(hidden, feature_dim),
        )

    def forward(self, condition: torch.Tensor) -> torch.Tensor:
        check_shape(self, "condition", condition, (None, *self.condition_shape))
        return self.layers(condition)  # (B, feature_dim)


class SegmentTemporalSource(TemporalSource):
    """Noise -> one vector per segment; one linear layer shared by all segments' outputs.

    Input ``noise``: float ``(B, noise_dim)``, standard normal.
    Output: float ``(B, 2, temporal_dim)`` (segments, features), unbounded.

    :param noise_dim: size of the noise vector.
    :param temporal_dim: size of each segment's vector.
    """

    def __init__(self, noise_dim: int = 8, temporal_dim: int = 8) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        self.n_segments = N_SEGMENTS
        self.temporal_dim = temporal_dim
        self.linear = nn.Linear(noise_dim, N_SEGMENTS * temporal_dim)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        check_shape(self, "noise", noise, (None, self.noise_dim))
        vectors = self.linear(noise)  # (B, segments * temporal_dim)
        return vectors.reshape(-1, self.n_segments, self.temporal_dim)  # (B, segments, temporal_dim)


class LampDecoder(Decoder):
    """[feature, segment vector] -> one segment of one lamp: 8 brightness values.

    Input ``code``: float ``(N, input_dim)``, ``input_dim = feature_dim + temporal_dim``,
    N = batch x segments.
    Output: float ``(N, 8)`` (steps), brightness in (0, 1) from a sigmoid.

    :param feature_dim: size of the encoder's feature (must match the encoder).
    :param temporal_dim: size of the temporal source's vectors (must match it).
    :param hidden: width of the hidden layer.
    """

    segment_shape = SEGMENT_SHAPE

    def __init__(self, feature_dim: int = 16, temporal_dim: int = 8, hidden: int = 32) -> None:
        super().__init__()
        self.input_dim = feature_dim + temporal_dim
        self.layers = nn.Sequential(
            nn.Linear(self.input_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, math.prod(SEGMENT_SHAPE)),
            nn.Sigmoid(),
        )

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        check_shape(self, "code", code, (None, self.input_dim))
        return self.layers(code).reshape(-1, *self.segment_shape)  # (N, steps)


class PatternCritic(Critic):
    """(palette, pattern) -> WGAN score: both flattened, concatenated, then an MLP.

    No BatchNorm: it would mix samples and break the per-sample gradient penalty.

    Inputs: ``condition`` float ``(B, 5, 3)``; ``sample`` float ``(B, 2, 8, 2)`` (segments,
    steps, lamps) in [0, 1]. Output: float ``(B,)``, unbounded (higher = more real).

    :param hidden: width of the two hidden layers.
    """

    condition_shape = PALETTE_SHAPE
    sample_shape = PATTERN_SHAPE

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        inputs = math.prod(PALETTE_SHAPE) + math.prod(PATTERN_SHAPE)
        self.layers = nn.Sequential(
            nn.Linear(inputs, hidden),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Linear(hidden, 1),
        )

    def forward(self, condition: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        check_shape(self, "condition", condition, (None, *self.condition_shape))
        check_shape(self, "sample", sample, (None, *self.sample_shape))
        joined = torch.cat([condition.flatten(1), sample.flatten(1)], dim=1)  # (B, 15 + 32)
        return self.layers(joined)[:, 0]  # (B,)
