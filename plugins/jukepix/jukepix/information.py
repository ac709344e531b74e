"""Jukepix's information term: a head reads a painting's descriptors back from a phrase.

Registered as the loss term ``information`` (:func:`phrase_information`, which builds the core's
generic part, :func:`crossmodal.losses.information.information_module`, around
:class:`PhraseInformationHead`); a recipe names it::

    generator_losses=(ComponentSpec("information", {"weight": 5.0}),)

The head sees the generated phrase, values in [0, 1] (0/1 with straight-through binary neurons,
whose gradient still flows), through three summaries that change smoothly with every cell, so
the generator learns from its error:

- the **pitch profile**: the share of the phrase's time steps each pitch sounds, per track
  (register, mean pitch, pitch classes, hence mode);
- the **voices**: pitches sounding per time step, averaged over each 16th note, per track
  (polyphony, rests);
- the **onsets**: notes started per 16th note, per track (note density), a note starting where a
  cell is on and the cell one step before is off.

Public: :class:`PhraseInformationHead`, :func:`phrase_information`, :data:`STEPS_PER_SIXTEENTH`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from crossmodal import ShapeError, TrainingData, check_shape
from crossmodal.losses.information import information_module

from .constants import BARS_PER_PHRASE, N_PITCHES, N_TRACKS, PHRASE_SHAPE, STEPS_PER_BAR, STEPS_PER_BEAT

__all__ = ["DEFAULT_HIDDEN", "STEPS_PER_SIXTEENTH", "PhraseInformationHead", "phrase_information"]

STEPS_PER_SIXTEENTH = STEPS_PER_BEAT // 4
"""6 time steps per 16th note: the time resolution of the voices and onsets summaries."""

DEFAULT_HIDDEN = 64
"""Units of the head's hidden layer."""

_SIXTEENTHS = BARS_PER_PHRASE * STEPS_PER_BAR // STEPS_PER_SIXTEENTH  # 64 per phrase
_SUMMARY_SIZE = (N_PITCHES + 2 * _SIXTEENTHS) * N_TRACKS  # 256 + 128 + 128 = 512


class PhraseInformationHead(nn.Module):
    """Phrase ``(B, 4, 96, 128, 2)`` in [0, 1] -> predicted painting descriptors ``(B, n_outputs)``.

    The three summaries of the module docstring (512 numbers), then ``Linear(hidden)``,
    LeakyReLU(0.2), ``Linear(n_outputs)``: about 33,000 weights for 4 outputs.

    :param sample_shape: must be Jukepix's phrase shape (the core passes the targets' shape).
    :param n_outputs: descriptors to predict.
    :param hidden: units of the hidden layer.
    :raises ShapeError: ``sample_shape`` is not ``(4, 96, 128, 2)``.
    """

    def __init__(self, sample_shape: Sequence[int] = PHRASE_SHAPE, n_outputs: int = 4,
                 hidden: int = DEFAULT_HIDDEN) -> None:
        super().__init__()
        if tuple(sample_shape) != PHRASE_SHAPE:
            raise ShapeError(f"PhraseInformationHead reads phrases of shape {PHRASE_SHAPE} (bars, steps, pitches, "
                             f"tracks), but the samples are {tuple(sample_shape)}")
        self.n_outputs = n_outputs
        self.net = nn.Sequential(nn.Linear(_SUMMARY_SIZE, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, n_outputs))

    def summaries(self, phrases: torch.Tensor) -> torch.Tensor:
        """The three summaries, joined: pitch profile ``(B, 128 x 2)``, voices ``(B, 64 x 2)``,
        onsets ``(B, 64 x 2)``; float32 ``(B, 512)``."""
        check_shape(self, "phrases", phrases, (None, *PHRASE_SHAPE))
        batch = phrases.shape[0]
        timeline = phrases.float().reshape(batch, -1, N_PITCHES, N_TRACKS)  # (B, 384 steps, pitches, tracks)
        pitch_profile = timeline.mean(dim=1)  # (B, pitches, tracks): share of the steps each pitch sounds
        voices = timeline.sum(dim=2)  # (B, 384, tracks): pitches sounding per step
        voices = voices.reshape(batch, _SIXTEENTHS, STEPS_PER_SIXTEENTH, N_TRACKS).mean(dim=2)  # (B, 64, tracks)
        before = torch.cat([torch.zeros_like(timeline[:, :1]), timeline[:, :-1]], dim=1)  # one step earlier
        starts = torch.relu(timeline - before).sum(dim=2)  # (B, 384, tracks): notes started per step
        onsets = starts.reshape(batch, _SIXTEENTHS, STEPS_PER_SIXTEENTH, N_TRACKS).sum(dim=2)  # (B, 64, tracks)
        return torch.cat([pitch_profile.flatten(1), voices.flatten(1), onsets.flatten(1)], dim=1)

    def forward(self, phrases: torch.Tensor) -> torch.Tensor:
        return self.net(self.summaries(phrases))



def phrase_information(data: TrainingData, descriptors: Sequence[str] | None = None,
                       hidden: int = DEFAULT_HIDDEN) -> nn.Module:
    """Information term: a head reads the painting's descriptors back from the generated phrase.

    The loss term registered as ``information``: the mean squared error, in standard deviations,
    between a :class:`PhraseInformationHead`'s predictions from the generated phrases and their
    paintings' standardised descriptor values (the recipe's ``condition_descriptor``), about 1
    when the head reads nothing. Its head is trained with the generator and saved with the run.

    :param data: the job's training data (the core passes it).
    :param descriptors: which of the painting descriptor's values to predict (default: all).
    :param hidden: units of the head's hidden layer.
    """
    return information_module(data, PhraseInformationHead, descriptors, {"hidden": hidden})
