"""Structural segmentation of a run of 4/4 bars (segmentation ``"structural"``).

Public: :func:`bar_features`, :func:`novelty_curve`, :func:`structural_boundaries`,
:func:`structural_windows`.

The paper segmented summed piano rolls with a MATLAB structural-feature tool; this is a small
Python stand-in of the same family (Foote's checkerboard novelty):

1. each bar gets a feature vector: its pitch-class profile (``SEMITONES_PER_OCTAVE`` values,
   active cells per pitch class, both tracks summed) and its onset pattern (how many notes start on each of the
   ``ONSET_SLOTS`` equal slots of the bar), each part scaled to unit length;
2. a bar self-similarity matrix holds the cosine similarity of every pair of bars;
3. a Gaussian-tapered checkerboard kernel of half-width :data:`KERNEL_BARS` bars slides along its
   diagonal, giving a novelty value per bar (high where the bars before differ from the bars after);
4. boundaries are bar 0 plus the novelty peaks, taken greedily from the highest, at least
   ``BARS_PER_PHRASE`` bars apart from each other, from bar 0 and from the end of the run;
5. each segment between two boundaries is tiled with non-overlapping 4-bar phrases from its first
   bar; bars left over at a segment's end (fewer than four) are not used.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .constants import BARS_PER_PHRASE, N_OCTAVES, SEMITONES_PER_OCTAVE, STEPS_PER_BAR
from .midi_reader import Bar

__all__ = [
    "KERNEL_BARS",
    "ONSET_SLOTS",
    "bar_features",
    "novelty_curve",
    "structural_boundaries",
    "structural_windows",
]

KERNEL_BARS = BARS_PER_PHRASE
"""Half-width of the checkerboard kernel, in bars: one phrase on each side of a candidate boundary."""

ONSET_SLOTS = 16
"""Onset-pattern resolution of a bar feature: sixteenth notes in 4/4."""


def _unit(rows: np.ndarray) -> np.ndarray:
    """Scale each row to unit Euclidean length (all-zero rows stay zero)."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def bar_features(roll: np.ndarray, bars: Sequence[Bar]) -> np.ndarray:
    """Per-bar pitch-class profile and onset pattern.

    :param roll: bool ``(n_steps, 128, n_tracks)`` (MIDI pitches).
    :param bars: complete 4/4 bars (each ``STEPS_PER_BAR`` steps).
    :returns: float64 ``(len(bars), SEMITONES_PER_OCTAVE + ONSET_SLOTS)``, each half of unit length (or zero).
    """
    merged = roll.any(axis=2)
    onsets = merged & ~np.vstack([np.zeros((1, merged.shape[1]), dtype=bool), merged[:-1]])
    chroma, rhythm = [], []
    for bar in bars:
        cells = merged[bar.start : bar.start + STEPS_PER_BAR]
        padded = np.zeros((cells.shape[0], N_OCTAVES * SEMITONES_PER_OCTAVE), dtype=np.int64)
        padded[:, : cells.shape[1]] = cells  # (steps, 132): silent above G9
        chroma.append(padded.reshape(cells.shape[0], N_OCTAVES, SEMITONES_PER_OCTAVE).sum(axis=(0, 1)))
        starts = onsets[bar.start : bar.start + STEPS_PER_BAR].sum(axis=1)
        rhythm.append(starts.reshape(ONSET_SLOTS, -1).sum(axis=1))
    return np.hstack([_unit(np.array(chroma, dtype=float)), _unit(np.array(rhythm, dtype=float))])


def novelty_curve(features: np.ndarray, half_width: int = KERNEL_BARS) -> np.ndarray:
    """Checkerboard novelty along the diagonal of the cosine self-similarity matrix.

    :param features: float ``(n_bars, d)``.
    :param half_width: kernel half-width in bars.
    :returns: float ``(n_bars,)``; entry ``i`` measures the change between bars ``i - half_width
        .. i - 1`` and bars ``i .. i + half_width - 1`` (the matrix is zero-padded at the ends).
    """
    n = len(features)
    similarity = _unit(features) @ _unit(features).T
    padded = np.zeros((n + 2 * half_width, n + 2 * half_width))
    padded[half_width : half_width + n, half_width : half_width + n] = similarity
    axis = np.arange(-half_width, half_width) + 0.5
    sign = np.sign(axis)
    taper = np.exp(-0.5 * (axis / (half_width / 2)) ** 2)
    kernel = np.outer(sign * taper, sign * taper)
    return np.array(
        [(padded[i : i + 2 * half_width, i : i + 2 * half_width] * kernel).sum() for i in range(n)]
    )


def structural_boundaries(novelty: np.ndarray, min_gap: int = BARS_PER_PHRASE) -> list[int]:
    """Bar 0 plus novelty peaks, greedily by height, at least ``min_gap`` bars apart.

    A peak is a bar whose novelty is positive and not lower than either neighbour's. Peaks in the
    last ``min_gap - 1`` bars are ignored: no full phrase could start there (and the zero padding
    of the similarity matrix makes the ends look novel).

    :returns: sorted bar positions (0-based within the run).
    """
    left = np.r_[-np.inf, novelty[:-1]]
    right = np.r_[novelty[1:], -np.inf]
    peaks = [
        i
        for i in np.argsort(-novelty, kind="stable")
        if novelty[i] > 0 and novelty[i] >= left[i] and novelty[i] >= right[i] and i <= len(novelty) - min_gap
    ]
    chosen = [0]
    for peak in peaks:
        if all(abs(int(peak) - c) >= min_gap for c in chosen):
            chosen.append(int(peak))
    return sorted(chosen)


def structural_windows(roll: np.ndarray, bars: Sequence[Bar], run: list[int]) -> list[int]:
    """First bars of the phrases of one run of consecutive 4/4 bars, by structural segmentation.

    Signature matches ``phrases.cut_phrases``'s ``choose_windows``.

    :returns: bar indices (into ``bars``) at which a 4-bar phrase starts.
    """
    if len(run) < BARS_PER_PHRASE:
        return []
    boundaries = structural_boundaries(novelty_curve(bar_features(roll, [bars[i] for i in run])))
    ends = boundaries[1:] + [len(run)]
    return [
        run[i]
        for start, end in zip(boundaries, ends)
        for i in range(start, end - BARS_PER_PHRASE + 1, BARS_PER_PHRASE)
    ]
