"""Turn notes into binary piano rolls and cut them into 4-bar phrases.

Public: :func:`notes_to_roll`, :func:`four_four_runs`, :func:`bar_windows`, :func:`cut_phrases`,
:data:`SEGMENTATIONS`.

Note-boundary rule: a note from step ``onset`` to step ``offset`` (exclusive) switches on the
cells ``onset .. offset - 1``, so a run of ``n`` cells is a note of ``n`` steps. Where a note of
the same pitch and track starts right where another is still sounding (a re-struck note), the
cell just before the new onset is switched off: a one-step rest that keeps the two notes apart
in the binary roll. Only re-struck notes lose that step; every other note keeps its exact length
(so QN, which counts notes of at least 3 steps, is not biased). A one-step note directly followed
by the same pitch cannot be kept apart and merges with it.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .constants import (
    BARS_PER_PHRASE,
    N_PITCHES,
    N_TRACKS,
    NOTE_OFFSET,
    NOTE_ONSET,
    NOTE_PITCH,
    PHRASE_SHAPE,
    STEPS_PER_BAR,
)
from .midi_reader import Bar

__all__ = ["SEGMENTATIONS", "bar_windows", "cut_phrases", "four_four_runs", "notes_to_roll"]

SEGMENTATIONS = ("bars", "structural")
"""Names of the segmentation methods: consecutive bar windows, or structural boundaries."""


def notes_to_roll(tracks: Sequence[np.ndarray], n_steps: int) -> np.ndarray:
    """Draw note arrays into a binary roll, applying the re-struck-note boundary rule.

    :param tracks: one int note array per track (columns ``NOTE_ONSET``, ``NOTE_OFFSET``,
        ``NOTE_PITCH`` of :mod:`jukepix.constants`; further columns are ignored).
    :param n_steps: length of the roll in steps; notes beyond it are cut.
    :returns: bool array ``(n_steps, N_PITCHES, len(tracks))``.
    """
    roll = np.zeros((n_steps, N_PITCHES, len(tracks)), dtype=bool)
    onsets = np.zeros_like(roll)
    for index, notes in enumerate(tracks):
        for onset, offset, pitch in notes[:, [NOTE_ONSET, NOTE_OFFSET, NOTE_PITCH]]:
            roll[onset : min(offset, n_steps), pitch, index] = True
            if onset < n_steps:
                onsets[onset, pitch, index] = True
    before_onset = np.zeros_like(onsets)
    before_onset[:-1] = onsets[1:]  # cell s - 1 for every onset at step s
    roll &= ~(before_onset & ~onsets)
    return roll


def four_four_runs(bars: Sequence[Bar]) -> list[list[int]]:
    """Group the indices of complete 4/4 bars into runs of consecutive bars.

    :returns: lists of bar indices into ``bars``; every bar of a run is 4/4 and directly follows
        the previous one.
    """
    runs: list[list[int]] = []
    for index, bar in enumerate(bars):
        if not bar.is_four_four:
            continue
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def bar_windows(run: Sequence[int]) -> list[int]:
    """First bars of consecutive, non-overlapping phrase windows tiling ``run`` from its start.

    :param run: consecutive bar indices (one entry of :func:`four_four_runs`).
    :returns: bar indices at which a full :data:`BARS_PER_PHRASE`-bar window starts.
    """
    return [run[i] for i in range(0, len(run) - BARS_PER_PHRASE + 1, BARS_PER_PHRASE)]


def cut_phrases(
    roll: np.ndarray,
    bars: Sequence[Bar],
    choose_windows: Callable[[np.ndarray, Sequence[Bar], list[int]], list[int]] | None = None,
) -> tuple[np.ndarray, list[int]]:
    """Cut a roll into phrases on 4/4 bar windows, dropping phrases in which both tracks are silent.

    :param roll: bool array ``(n_steps, N_PITCHES, N_TRACKS)``, long enough for every bar.
    :param bars: the bar grid (steps) the roll is laid on.
    :param choose_windows: ``(roll, bars, run) -> first bar indices`` for one run of consecutive
        4/4 bars; ``None`` tiles the run with :func:`bar_windows` (segmentation ``"bars"``).
    :returns: bool array ``(n_phrases, *PHRASE_SHAPE)`` (bars, steps, pitches, tracks) and the
        index of each phrase's first bar in ``bars``.
    """
    phrases, firsts = [], []
    for run in four_four_runs(bars):
        firsts_in_run = bar_windows(run) if choose_windows is None else choose_windows(roll, bars, run)
        for first in firsts_in_run:
            start = bars[first].start
            phrase = roll[start : start + BARS_PER_PHRASE * STEPS_PER_BAR]
            if phrase.any():
                phrases.append(phrase.reshape(PHRASE_SHAPE[0], STEPS_PER_BAR, N_PITCHES, N_TRACKS))
                firsts.append(first)
    if not phrases:
        return np.zeros((0, *PHRASE_SHAPE), dtype=bool), []
    return np.stack(phrases), firsts
