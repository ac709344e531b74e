"""Jukepix's correspondence term: each paired painting property moves its phrase property.

Registered as the loss term ``correspondence`` (:class:`PhraseCorrespondence`); the ``jukepix``
recipe names it with its pairing's couplings::

    generator_losses=(INFORMATION, ComponentSpec("correspondence", {"couplings": [...], "weight": 1.0}))

Where the information term (:mod:`jukepix.information`) lets a learned head read the painting back
from any trace in the phrase (its rhythm, say), this term fixes *which* phrase property each
painting property must move: for every coupling ``(painting descriptor, phrase summary, sign)``
it takes Pearson's r, across the batch, between the paintings' standardised descriptor values and
a differentiable summary of their generated phrases, and the loss is ``-sum(sign x r)``
(dimensionless, in [-K, K] for K couplings; -K when every correspondence holds exactly).

The phrase summaries, for phrases ``(B, 4, 96, 128, 2)`` in [0, 1] (0/1 with straight-through
voices, whose gradient still flows), each cell weighing by its value:

- ``mean-pitch``: the mean MIDI number of the on-cells of both tracks;
- ``note-density``: cells switching on (on now, off one step before; the phrase's first step
  counts), both tracks; notes per phrase, which is 4 x the phrase descriptor's notes per bar;
- ``mode``: :func:`jukepix.descriptors.mode_score` of the pitch-class profile of both tracks (the
  best major key profile's r minus the best minor's; 0 for a silent phrase).

Public: :class:`PhraseCorrespondence`, :func:`phrase_summaries`, :data:`SUMMARIES`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from crossmodal import RecipeError, TrainingData, check_shape
from crossmodal.data.training_data import standardize

from .constants import N_OCTAVES, PHRASE_SHAPE, SEMITONES_PER_OCTAVE
from .descriptors import mode_score

__all__ = ["SUMMARIES", "PhraseCorrespondence", "phrase_summaries"]

SUMMARIES = ("mean-pitch", "note-density", "mode")
"""The phrase properties a coupling may name, in the column order of :func:`phrase_summaries`."""


def phrase_summaries(phrases: torch.Tensor) -> torch.Tensor:
    """Phrases ``(B, 4, 96, 128, 2)`` in [0, 1] -> float32 ``(B, 3)``: mean pitch (MIDI number),
    notes per phrase and mode score, differentiable (see the module docstring)."""
    phrases = phrases.float()
    batch, pitches = phrases.shape[0], phrases.shape[3]
    timeline = phrases.reshape(batch, -1, pitches, phrases.shape[4])  # (B, 384 steps, 128, 2)
    per_pitch = timeline.sum(dim=(1, 3))  # (B, 128): on-cells per pitch
    midi = torch.arange(pitches, dtype=per_pitch.dtype)
    mean_pitch = (per_pitch * midi).sum(dim=1) / per_pitch.sum(dim=1).clamp_min(1e-6)
    starts = torch.relu(timeline[:, 1:] - timeline[:, :-1]).sum(dim=(1, 2, 3)) + timeline[:, 0].sum(dim=(1, 2))
    padded = nn.functional.pad(per_pitch, (0, N_OCTAVES * SEMITONES_PER_OCTAVE - pitches))
    classes = padded.reshape(batch, N_OCTAVES, SEMITONES_PER_OCTAVE).sum(dim=1)  # (B, 12)
    mode = torch.nan_to_num(mode_score(classes)).float()  # (B,); 0 when silent or flat
    return torch.stack([mean_pitch, starts, mode], dim=1)


def pearson(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pearson's r of two ``(B,)`` vectors, a 0-d tensor (0 when either is constant)."""
    x, y = x - x.mean(), y - y.mean()
    return (x * y).sum() / (x.pow(2).sum().sqrt() * y.pow(2).sum().sqrt()).clamp_min(1e-8)


class PhraseCorrespondence(nn.Module):
    """The ``correspondence`` loss term (a ``loss-term`` factory: built once per job with its data).

    :param data: the job's training data; the recipe's condition descriptor (``painting``) gives
        every condition's values, standardised here.
    :param couplings: ``[painting descriptor, phrase summary, sign]`` triples, as the pairing's
        ``couplings`` (the phrase summary one of :data:`SUMMARIES`, the sign +1 or -1).
    :raises RecipeError: a coupling names a descriptor value or a summary that does not exist.
    """

    def __init__(self, data: TrainingData, couplings: Sequence[Sequence]) -> None:
        super().__init__()
        values = data.condition_descriptors
        bad = [c for c in couplings if len(c) != 3 or c[0] not in values or c[1] not in SUMMARIES or c[2] not in (1, -1)]
        if bad or not couplings:
            raise RecipeError(f"{data.origin}: correspondence couplings {list(map(list, bad)) or 'none'}: each is "
                              f"[painting value ({', '.join(values)}), phrase summary ({', '.join(SUMMARIES)}), +1 or -1]")
        self.columns = [SUMMARIES.index(phrase) for _, phrase, _ in couplings]
        self.signs = [sign for _, _, sign in couplings]
        targets = standardize(torch.stack([values[painting] for painting, _, _ in couplings], dim=1))  # (N, K)
        self.register_buffer("targets", targets.float(), persistent=False)

    def forward(self, context) -> torch.Tensor:
        """``-sum(sign x r)`` for ``context["fake"]`` ``(B, 4, 96, 128, 2)`` and the paintings at
        ``context["condition_indices"]`` (int64 ``(B,)``): a float32 scalar."""
        check_shape(self, "fake", context["fake"], (None, *PHRASE_SHAPE))
        summaries = phrase_summaries(context["fake"])  # (B, 3)
        painting = self.targets[context["condition_indices"].to(self.targets.device)]  # (B, K)
        return -sum(sign * pearson(painting[:, k], summaries[:, column])
                    for k, (column, sign) in enumerate(zip(self.columns, self.signs)))
