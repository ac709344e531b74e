"""Test oracle: plain, loop-based reference versions of every metric (numpy; one sample at a time).

These are written to be read and trusted, not to be fast: each function takes ONE sample, a
numpy array ``(S, T, P, K)`` = (bars, time steps per bar, pitches, tracks), walks it with plain
Python loops, and returns ``(numerator, denominator)`` as two float64 arrays ``(K,)`` (one entry
per track pair, in :func:`crossmodal_evaluators.metrics.track_pairs` order, for
:func:`tonal_distance`). :func:`evaluate` runs one of them over a batch ``(N, S, T, P, K)`` and
returns arrays ``(N, K)`` that the property tests and ``benchmarks/bench_metrics.py`` compare
with the batched torch functions of :mod:`crossmodal_evaluators.metrics`.

The definitions are the same as there (and in ``docs/evaluators.md``): a cell is on when its
value is ``> threshold`` (0.5); a note is a maximal run of on-steps of one pitch of one track
along the bars-then-time axis of a sample; the pitch class of pitch index ``p`` is
``(lowest_pitch + p) % 12``; beats are ``steps_per_beat``-step windows inside each bar.

Import it as ``metric_reference``: ``conftest.py`` puts this folder on ``sys.path`` for the tests,
and ``benchmarks/bench_metrics.py`` does the same for itself.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from crossmodal_evaluators.metrics import (
    DEFAULT_LOWEST_PITCH,
    DEFAULT_POLYPHONY_MIN_PITCHES,
    DEFAULT_QUALIFIED_MIN_STEPS,
    DEFAULT_STEPS_PER_BEAT,
    DEFAULT_THRESHOLD,
    DEFAULT_TONAL_RADII,
    MAJOR_SCALE_STEPS,
    track_pairs,
)

__all__ = [
    "REFERENCE_METRICS",
    "evaluate",
    "empty_bar_rate",
    "used_pitch_classes",
    "qualified_note_rate",
    "tonal_distance",
    "polyphony_rate",
    "in_scale_rate",
    "pitch_range",
    "n_pitches_used",
    "empty_beat_rate",
]

Counts = tuple[np.ndarray, np.ndarray]


def _is_on(value: float, threshold: float) -> bool:
    return bool(value > threshold)


def _pitches_on(sample: np.ndarray, bar: int, step: int, track: int, threshold: float) -> list[int]:
    """Pitch indices that are on at one time step of one track."""
    return [p for p in range(sample.shape[2]) if _is_on(sample[bar, step, p, track], threshold)]


def _notes(sample: np.ndarray, track: int, threshold: float) -> list[tuple[int, int, int]]:
    """The notes of one track as ``(pitch, start step, length in steps)``.

    Time runs through the bars one after the other, so a note held over a bar line is one note.
    """
    n_bars, n_steps, n_pitches, _ = sample.shape
    notes = []
    for pitch in range(n_pitches):
        start = None
        for time in range(n_bars * n_steps):
            bar, step = divmod(time, n_steps)
            if _is_on(sample[bar, step, pitch, track], threshold):
                if start is None:
                    start = time
            elif start is not None:
                notes.append((pitch, start, time - start))
                start = None
        if start is not None:
            notes.append((pitch, start, n_bars * n_steps - start))
    return notes


def empty_bar_rate(sample: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD) -> Counts:
    """EB: (empty bars, bars) per track."""
    n_bars, n_steps, _, n_tracks = sample.shape
    empty = np.zeros(n_tracks)
    for track in range(n_tracks):
        for bar in range(n_bars):
            if not any(_pitches_on(sample, bar, step, track, threshold) for step in range(n_steps)):
                empty[track] += 1
    return empty, np.full(n_tracks, float(n_bars))


def used_pitch_classes(
    sample: np.ndarray, *, lowest_pitch: int = DEFAULT_LOWEST_PITCH, threshold: float = DEFAULT_THRESHOLD
) -> Counts:
    """UPC: (sum over non-empty bars of the pitch classes used in the bar, non-empty bars) per track."""
    n_bars, n_steps, _, n_tracks = sample.shape
    total = np.zeros(n_tracks)
    non_empty = np.zeros(n_tracks)
    for track in range(n_tracks):
        for bar in range(n_bars):
            classes = set()
            for step in range(n_steps):
                for pitch in _pitches_on(sample, bar, step, track, threshold):
                    classes.add((lowest_pitch + pitch) % 12)
            if classes:
                total[track] += len(classes)
                non_empty[track] += 1
    return total, non_empty


def qualified_note_rate(
    sample: np.ndarray, *, min_steps: int = DEFAULT_QUALIFIED_MIN_STEPS, threshold: float = DEFAULT_THRESHOLD
) -> Counts:
    """QN: (notes of at least ``min_steps`` steps, notes) per track."""
    n_tracks = sample.shape[3]
    qualified = np.zeros(n_tracks)
    count = np.zeros(n_tracks)
    for track in range(n_tracks):
        for _pitch, _start, length in _notes(sample, track, threshold):
            count[track] += 1
            if length >= min_steps:
                qualified[track] += 1
    return qualified, count


def _tonal_centroid(chroma: list[float], radii: tuple[float, float, float]) -> list[float]:
    """Harte et al.'s 6-D tonal centroid of a chroma vector (12 weights, C first)."""
    total = sum(chroma)
    r1, r2, r3 = radii
    centroid = [0.0] * 6
    for pitch_class, weight in enumerate(chroma):
        share = weight / total
        centroid[0] += share * r1 * math.sin(pitch_class * 7 * math.pi / 6)  # circle of fifths
        centroid[1] += share * r1 * math.cos(pitch_class * 7 * math.pi / 6)
        centroid[2] += share * r2 * math.sin(pitch_class * 3 * math.pi / 2)  # minor thirds
        centroid[3] += share * r2 * math.cos(pitch_class * 3 * math.pi / 2)
        centroid[4] += share * r3 * math.sin(pitch_class * 2 * math.pi / 3)  # major thirds
        centroid[5] += share * r3 * math.cos(pitch_class * 2 * math.pi / 3)
    return centroid


def tonal_distance(
    sample: np.ndarray,
    *,
    steps_per_beat: int = DEFAULT_STEPS_PER_BEAT,
    lowest_pitch: int = DEFAULT_LOWEST_PITCH,
    radii: tuple[float, float, float] = DEFAULT_TONAL_RADII,
    threshold: float = DEFAULT_THRESHOLD,
) -> Counts:
    """TD: (summed tonal distance over beats where both tracks sound, such beats) per track pair."""
    n_bars, n_steps, n_pitches, n_tracks = sample.shape
    if n_steps % steps_per_beat:
        raise ValueError(f"a bar of {n_steps} steps does not split into beats of {steps_per_beat}")
    pairs = track_pairs(n_tracks)
    distance_sum = np.zeros(len(pairs))
    beats = np.zeros(len(pairs))
    for bar in range(n_bars):
        for beat_start in range(0, n_steps, steps_per_beat):
            chroma = [[0.0] * 12 for _ in range(n_tracks)]
            for track in range(n_tracks):
                for step in range(beat_start, beat_start + steps_per_beat):
                    for pitch in _pitches_on(sample, bar, step, track, threshold):
                        chroma[track][(lowest_pitch + pitch) % 12] += 1
            for column, (first, second) in enumerate(pairs):
                if sum(chroma[first]) == 0 or sum(chroma[second]) == 0:
                    continue
                a = _tonal_centroid(chroma[first], radii)
                b = _tonal_centroid(chroma[second], radii)
                distance_sum[column] += math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))
                beats[column] += 1
    return distance_sum, beats


def polyphony_rate(
    sample: np.ndarray,
    *,
    min_pitches: int = DEFAULT_POLYPHONY_MIN_PITCHES,
    threshold: float = DEFAULT_THRESHOLD,
) -> Counts:
    """Polyphony: (time steps with >= ``min_pitches`` pitches on, time steps with >= 1) per track."""
    n_bars, n_steps, _, n_tracks = sample.shape
    polyphonic = np.zeros(n_tracks)
    active = np.zeros(n_tracks)
    for track in range(n_tracks):
        for bar in range(n_bars):
            for step in range(n_steps):
                sounding = len(_pitches_on(sample, bar, step, track, threshold))
                if sounding >= 1:
                    active[track] += 1
                if sounding >= min_pitches:
                    polyphonic[track] += 1
    return polyphonic, active


def in_scale_rate(
    sample: np.ndarray, *, lowest_pitch: int = DEFAULT_LOWEST_PITCH, threshold: float = DEFAULT_THRESHOLD
) -> Counts:
    """In-scale: (on-cells in the phrase's best major scale, on-cells) per track."""
    n_bars, n_steps, _, n_tracks = sample.shape
    cells = [[0] * 12 for _ in range(n_tracks)]  # on-cells per track and pitch class
    for track in range(n_tracks):
        for bar in range(n_bars):
            for step in range(n_steps):
                for pitch in _pitches_on(sample, bar, step, track, threshold):
                    cells[track][(lowest_pitch + pitch) % 12] += 1
    best_scale, best_fit = None, -1
    for tonic in range(12):  # lowest tonic wins a tie: only a strictly better fit replaces it
        scale = {(tonic + step) % 12 for step in MAJOR_SCALE_STEPS}
        fit = sum(cells[track][pc] for track in range(n_tracks) for pc in scale)
        if fit > best_fit:
            best_scale, best_fit = scale, fit
    in_scale = np.array([float(sum(cells[track][pc] for pc in best_scale)) for track in range(n_tracks)])
    total = np.array([float(sum(cells[track])) for track in range(n_tracks)])
    return in_scale, total


def _pitches_used(sample: np.ndarray, track: int, threshold: float) -> list[int]:
    n_bars, n_steps, _, _ = sample.shape
    used = set()
    for bar in range(n_bars):
        for step in range(n_steps):
            used.update(_pitches_on(sample, bar, step, track, threshold))
    return sorted(used)


def pitch_range(sample: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD) -> Counts:
    """Pitch range: (highest - lowest pitch, 1) per track, or (0, 0) for a silent track."""
    n_tracks = sample.shape[3]
    span = np.zeros(n_tracks)
    sounds = np.zeros(n_tracks)
    for track in range(n_tracks):
        used = _pitches_used(sample, track, threshold)
        if used:
            span[track] = max(used) - min(used)
            sounds[track] = 1
    return span, sounds


def n_pitches_used(sample: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD) -> Counts:
    """Number of pitches used: (distinct pitches on, 1) per track."""
    n_tracks = sample.shape[3]
    used = np.array([float(len(_pitches_used(sample, track, threshold))) for track in range(n_tracks)])
    return used, np.ones(n_tracks)


def empty_beat_rate(
    sample: np.ndarray, *, steps_per_beat: int = DEFAULT_STEPS_PER_BEAT, threshold: float = DEFAULT_THRESHOLD
) -> Counts:
    """Empty-beat rate: (beats without an on-cell, beats) per track."""
    n_bars, n_steps, _, n_tracks = sample.shape
    if n_steps % steps_per_beat:
        raise ValueError(f"a bar of {n_steps} steps does not split into beats of {steps_per_beat}")
    empty = np.zeros(n_tracks)
    beats = np.zeros(n_tracks)
    for track in range(n_tracks):
        for bar in range(n_bars):
            for beat_start in range(0, n_steps, steps_per_beat):
                beats[track] += 1
                steps = range(beat_start, beat_start + steps_per_beat)
                if not any(_pitches_on(sample, bar, step, track, threshold) for step in steps):
                    empty[track] += 1
    return empty, beats


REFERENCE_METRICS: dict[str, Callable[..., Counts]] = {
    "eb": empty_bar_rate,
    "upc": used_pitch_classes,
    "qn": qualified_note_rate,
    "td": tonal_distance,
    "polyphony": polyphony_rate,
    "in-scale": in_scale_rate,
    "pitch-range": pitch_range,
    "n-pitches": n_pitches_used,
    "empty-beats": empty_beat_rate,
}
"""The same names as :data:`crossmodal_evaluators.metrics.METRICS`."""


def evaluate(name: str, samples: np.ndarray, **options) -> Counts:
    """Run reference metric ``name`` on each sample of ``samples`` ``(N, S, T, P, K)`` in turn.

    :returns: ``(numerators, denominators)``, float64 arrays ``(N, K)`` (``(N, pairs)`` for TD).
    """
    metric = REFERENCE_METRICS[name]
    results = [metric(np.asarray(sample), **options) for sample in samples]
    return np.stack([r[0] for r in results]), np.stack([r[1] for r in results])
