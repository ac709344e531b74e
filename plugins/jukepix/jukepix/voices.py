"""A bar decoder built for chorale hands: each track as a few monophonic voices on a coarse grid.

A chorale hand is two voices (soprano + alto, tenor + bass) moving mostly in quarters and
eighths within about two octaves. :class:`VoiceBarDecoder` makes that structural instead of
leaving the critic to forbid clusters, three-note hands and stray notes: for every voice and
every *cell* of the bar (an 8th note, 12 steps, by default) it chooses one token among

* a pitch of ``pitch_range`` (a new note starts on that pitch),
* ``rest`` (the voice is silent for the cell),
* ``hold`` (the voice's sounding note goes on; a hold after a rest, or in the bar's first cell,
  is a rest),

with a straight-through one-hot: the forward pass takes the most likely token, the gradient is the
softmax's. The voices are then drawn into the track's piano-roll bar with the data's
note-boundary rule (:mod:`jukepix.phrases`: a re-struck pitch gets a one-step rest before it), and
voices that sound the same pitch merge, so the output is a binary ``(96, 128)`` bar like the
real ones, which the critic, the writer and the metrics take unchanged.

Output ``(N, 96, 128)``, values in {0, 1} forward (N = batch x bars, one decoder per track).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from crossmodal import Decoder, check_shape

from .constants import N_PITCHES, STEPS_PER_BAR

__all__ = ["VoiceBarDecoder", "voices_to_roll"]


def _straight_through_one_hot(logits: torch.Tensor) -> torch.Tensor:
    """One-hot of the last axis's argmax, with the softmax's gradient (same shape as ``logits``)."""
    soft = torch.softmax(logits, dim=-1)
    hard = F.one_hot(soft.argmax(dim=-1), soft.shape[-1]).to(soft.dtype)
    return hard + soft - soft.detach()


def voices_to_roll(tokens: torch.Tensor, steps_per_cell: int) -> torch.Tensor:
    """Draw voices given as one-hot tokens into one piano-roll bar.

    :param tokens: ``(N, voices, cells, pitches + 2)``: per cell one of ``pitches`` onsets, then
        rest, then hold; one-hot (or straight-through one-hot: gradients flow through).
    :param steps_per_cell: time steps per cell; ``cells * steps_per_cell`` is the bar's length.
    :returns: ``(N, cells * steps_per_cell, pitches)``: a cell is on while some voice sounds its
        pitch, except the last step before a voice re-strikes the pitch it was sounding.
    """
    onsets, hold = tokens[..., :-2], tokens[..., -1:]
    sounding_cells = []
    previous = torch.zeros_like(onsets[:, :, 0])  # (N, voices, pitches): nothing sounds before the bar
    for cell in range(tokens.shape[2]):
        previous = onsets[:, :, cell] + hold[:, :, cell] * previous
        sounding_cells.append(previous)
    sounding = torch.stack(sounding_cells, dim=2)  # (N, voices, cells, pitches)
    restruck = onsets[:, :, 1:] * sounding[:, :, :-1]  # a cell's onset on the pitch sounding before it
    steps = sounding.repeat_interleave(steps_per_cell, dim=2)  # (N, voices, steps, pitches)
    gap = torch.zeros_like(steps)
    gap[:, :, steps_per_cell - 1:-1:steps_per_cell] = restruck  # the last step of the cell before
    per_voice = steps * (1 - gap)
    return 1 - torch.prod(1 - per_voice, dim=1)  # voices sounding one pitch merge


class VoiceBarDecoder(Decoder):
    """One bar of one track as ``voices`` monophonic voices on a grid of ``steps_per_cell`` steps.

    The code goes through a linear layer to one ``channels``-vector per cell, two 1-D
    convolutions along the cells (kernel 3, then 1; BatchNorm + ReLU between), and one logit per
    voice, cell and token; :func:`voices_to_roll` draws the chosen tokens.

    Input ``code``: float ``(N, feature_dim + temporal_dim)``.
    Output: float ``(N, 96, 128)``, 0/1 forward with a straight-through gradient.

    :param feature_dim: size of the condition's feature at the start of the code.
    :param temporal_dim: size of the bar vector after it.
    :param voices: monophonic voices per track (a chorale hand has 2).
    :param steps_per_cell: steps per cell, a divisor of 96: 12 is an 8th note.
    :param pitch_range: ``(lowest, highest + 1)`` MIDI pitches a voice may take.
    :param channels: width of the per-cell layers.
    """

    segment_shape = (STEPS_PER_BAR, N_PITCHES)

    def __init__(
        self,
        feature_dim: int = 64,
        temporal_dim: int = 64,
        voices: int = 2,
        steps_per_cell: int = 12,
        pitch_range: tuple[int, int] = (36, 84),
        channels: int = 128,
    ) -> None:
        super().__init__()
        if steps_per_cell < 1 or STEPS_PER_BAR % steps_per_cell:
            raise ValueError(f"VoiceBarDecoder: steps_per_cell must divide {STEPS_PER_BAR}, got {steps_per_cell}")
        low, high = (int(p) for p in pitch_range)
        if not 0 <= low < high <= N_PITCHES:
            raise ValueError(f"VoiceBarDecoder: pitch_range {tuple(pitch_range)} must lie in [0, {N_PITCHES}]")
        if voices < 1:
            raise ValueError(f"VoiceBarDecoder: voices must be at least 1, got {voices}")
        self.feature_dim, self.temporal_dim = feature_dim, temporal_dim
        self.input_dim = feature_dim + temporal_dim
        self.voices, self.steps_per_cell, self.channels = voices, steps_per_cell, channels
        self.cells = STEPS_PER_BAR // steps_per_cell
        self.tokens = high - low + 2  # pitches, rest, hold
        self.pitch_padding = (low, N_PITCHES - high)
        self.expand = nn.Linear(self.input_dim, channels * self.cells)
        self.layers = nn.Sequential(
            nn.BatchNorm1d(channels), nn.ReLU(),
            nn.Conv1d(channels, channels, 3, padding=1), nn.BatchNorm1d(channels), nn.ReLU(),
            nn.Conv1d(channels, voices * self.tokens, 1),
        )

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        check_shape(self, "code", code, (None, self.input_dim))
        cells = self.expand(code).view(len(code), self.channels, self.cells)
        logits = self.layers(cells).view(len(code), self.voices, self.tokens, self.cells).transpose(2, 3)
        roll = voices_to_roll(_straight_through_one_hot(logits), self.steps_per_cell)  # (N, 96, pitches)
        return F.pad(roll, self.pitch_padding)
