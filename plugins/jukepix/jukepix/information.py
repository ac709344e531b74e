"""The head of Jukepix's information term: it reads a painting's descriptors back from a phrase.

For :func:`crossmodal.information_term` (the generic part, in the core), named by import path so
a recipe module imports no torch::

    generator_losses=(information_term("jukepix.information:PhraseInformationHead"),)

The head sees the generated phrase, values in [0, 1] (0/1 with straight-through binary neurons,
whose gradient still flows), through three summaries that change smoothly with every cell, so
the generator learns from its error:

- the **pitch profile**: the share of the phrase's time steps each pitch sounds, per track
  (register, mean pitch, pitch classes, hence mode);
- the **voices**: pitches sounding per time step, averaged over each 16th note, per track
  (polyphony, rests);
- the **onsets**: notes started per 16th note, per track (note density), a note starting where a
  cell is on and the cell one step before is off.

A head can also read the **bar deviations** instead or as well (option ``summaries``): each
bar's pitch profile, voices and onsets minus the phrase's mean bar, 0 for a phrase that repeats
one bar.

Public: :class:`PhraseInformationHead`, :data:`SUMMARIES`, :data:`PHRASE_SUMMARIES`,
:data:`STEPS_PER_SIXTEENTH`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from crossmodal import ShapeError, check_shape

from .constants import BARS_PER_PHRASE, N_PITCHES, N_TRACKS, PHRASE_SHAPE, STEPS_PER_BAR, STEPS_PER_BEAT

__all__ = ["DEFAULT_HIDDEN", "PHRASE_SUMMARIES", "STEPS_PER_SIXTEENTH", "SUMMARIES", "PhraseInformationHead"]

STEPS_PER_SIXTEENTH = STEPS_PER_BEAT // 4
"""6 time steps per 16th note: the time resolution of the voices and onsets summaries."""

DEFAULT_HIDDEN = 64
"""Units of the head's hidden layer."""

SUMMARIES = ("pitch-profile", "voices", "onsets", "bar-deviations")
"""The summaries a head can read (option ``summaries``). :data:`PHRASE_SUMMARIES` by default; a head
that should learn only how the bars of a phrase differ (the noise information term's, say) reads
``("bar-deviations",)``."""

PHRASE_SUMMARIES = ("pitch-profile", "voices", "onsets")
"""The default summaries: what the whole phrase plays (register, pitch classes, voices, onsets)."""

_SIXTEENTHS = BARS_PER_PHRASE * STEPS_PER_BAR // STEPS_PER_SIXTEENTH  # 64 per phrase
_SUMMARY_SIZES = {"pitch-profile": N_PITCHES * N_TRACKS, "voices": _SIXTEENTHS * N_TRACKS,
                  "onsets": _SIXTEENTHS * N_TRACKS,  # 256 + 128 + 128 = 512: the phrase summaries
                  "bar-deviations": BARS_PER_PHRASE * (N_PITCHES + 2 * _SIXTEENTHS // BARS_PER_PHRASE) * N_TRACKS}


class PhraseInformationHead(nn.Module):
    """Phrase ``(B, 4, 96, 128, 2)`` in [0, 1] -> predicted painting descriptors ``(B, n_outputs)``.

    The summaries of the module docstring that ``summaries`` names (all three: 512 numbers), then
    ``Linear(hidden)``, LeakyReLU(0.2), ``Linear(n_outputs)``: about 33,000 weights for 4 outputs
    and all three summaries.

    :param sample_shape: must be Jukepix's phrase shape (the core passes the targets' shape).
    :param n_outputs: descriptors to predict.
    :param hidden: units of the hidden layer.
    :param summaries: which of :data:`SUMMARIES` the head reads.
    :raises ValueError: ``summaries`` is empty or names another summary.
    :raises ShapeError: ``sample_shape`` is not ``(4, 96, 128, 2)``.
    """

    def __init__(self, sample_shape: Sequence[int] = PHRASE_SHAPE, n_outputs: int = 4,
                 hidden: int = DEFAULT_HIDDEN, summaries: Sequence[str] = PHRASE_SUMMARIES) -> None:
        super().__init__()
        if tuple(sample_shape) != PHRASE_SHAPE:
            raise ShapeError(f"PhraseInformationHead reads phrases of shape {PHRASE_SHAPE} (bars, steps, pitches, "
                             f"tracks), but the samples are {tuple(sample_shape)}")
        unknown = sorted(set(summaries) - set(SUMMARIES))
        if unknown or not summaries:
            raise ValueError(f"PhraseInformationHead: summaries must be a non-empty selection of {SUMMARIES}, "
                             f"got {tuple(summaries)}")
        self.n_outputs = n_outputs
        self.kept = tuple(name for name in SUMMARIES if name in summaries)
        size = sum(_SUMMARY_SIZES[name] for name in self.kept)
        self.net = nn.Sequential(nn.Linear(size, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, n_outputs))

    def summaries(self, phrases: torch.Tensor) -> torch.Tensor:
        """The kept summaries, joined in :data:`SUMMARIES` order: pitch profile ``(B, 128 x 2)``,
        voices ``(B, 64 x 2)``, onsets ``(B, 64 x 2)``, bar deviations ``(B, 4 x 160 x 2)``;
        float32 ``(B, 512)`` for the default three."""
        check_shape(self, "phrases", phrases, (None, *PHRASE_SHAPE))
        batch = phrases.shape[0]
        timeline = phrases.float().reshape(batch, -1, N_PITCHES, N_TRACKS)  # (B, 384 steps, pitches, tracks)
        pitch_profile = timeline.mean(dim=1)  # (B, pitches, tracks): share of the steps each pitch sounds
        voices = timeline.sum(dim=2)  # (B, 384, tracks): pitches sounding per step
        voices = voices.reshape(batch, _SIXTEENTHS, STEPS_PER_SIXTEENTH, N_TRACKS).mean(dim=2)  # (B, 64, tracks)
        before = torch.cat([torch.zeros_like(timeline[:, :1]), timeline[:, :-1]], dim=1)  # one step earlier
        starts = torch.relu(timeline - before).sum(dim=2)  # (B, 384, tracks): notes started per step
        onsets = starts.reshape(batch, _SIXTEENTHS, STEPS_PER_SIXTEENTH, N_TRACKS).sum(dim=2)  # (B, 64, tracks)
        named = {"pitch-profile": pitch_profile, "voices": voices, "onsets": onsets}
        if "bar-deviations" in self.kept:
            named["bar-deviations"] = _bar_deviations(timeline, voices, onsets)
        return torch.cat([named[name].flatten(1) for name in self.kept], dim=1)

    def forward(self, phrases: torch.Tensor) -> torch.Tensor:
        return self.net(self.summaries(phrases))


def _bar_deviations(timeline: torch.Tensor, voices: torch.Tensor, onsets: torch.Tensor) -> torch.Tensor:
    """How each bar differs from the phrase's average bar: ``(B, 4 x (128 + 32) x 2)``.

    Per bar, its pitch profile ``(128, tracks)`` and its 16 sixteenths of voices and of onsets,
    each minus the mean of the 4 bars; 0 everywhere for a phrase that repeats one bar.
    :param timeline: ``(B, 384 steps, 128, tracks)``; ``voices``, ``onsets``: ``(B, 64, tracks)``.
    """
    batch = timeline.shape[0]
    profile = timeline.reshape(batch, BARS_PER_PHRASE, STEPS_PER_BAR, N_PITCHES, N_TRACKS).mean(dim=2)
    per_bar = (BARS_PER_PHRASE, _SIXTEENTHS // BARS_PER_PHRASE, N_TRACKS)
    bars = torch.cat([profile, voices.reshape(batch, *per_bar), onsets.reshape(batch, *per_bar)], dim=2)
    return bars - bars.mean(dim=1, keepdim=True)  # (B, 4 bars, 128 + 16 + 16, tracks)
