"""Realism: each phrase feature's distribution over generated phrases against held-out real ones.

Yang & Lerch's (2018) method: a set of phrases gives, per track and per feature, one value per
phrase; the two sets' values become two densities (a Gaussian kernel density estimate, or a
10-bin histogram for shares in [0, 1]), compared by their **overlap area** (1 = the same
distribution, 0 = disjoint) and the **KL divergence** of the real density from the generated one.
The **realism** figure is the mean overlap over every feature and track. Beside each figure
stands its **ceiling**: the same comparison between two halves of the real set, i.e. what a
perfect generator could reach with sets of that size. Definitions: ``docs/evaluators.md``
(section *Realism*).

Input phrases are ``(N, S, T, P, K)`` = (phrases, bars, time steps per bar, pitches, tracks), bool
or probabilities (on when ``> threshold``), pitch index ``p`` = MIDI number ``lowest_pitch + p``,
``steps_per_beat`` steps per quarter note -- for Jukepix ``(N, 4, 96, 128, 2)`` at 24 per beat.
Notes follow the metrics' convention (:mod:`crossmodal_evaluators.metrics`): a note is a maximal
run of on-steps of one pitch in one track along the phrase's flattened ``S * T`` time axis.

The functions use numpy only (plus :mod:`crossmodal_evaluators.metrics`); they run on the CPU.

Public names: :data:`FEATURES`, :class:`Feature`, :func:`phrase_features`, :func:`overlap`,
:func:`kl`, :func:`split_halves`, :func:`compare_features`, :func:`realism`,
:class:`FeatureComparison`, :class:`RealismReport`, :func:`format_table`, the set-comparing
evaluator :class:`RealismEvaluator` (registered as ``realism``), and the constants below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np
import torch

from crossmodal.contract.interfaces import Evaluator

from .metrics import (
    DEFAULT_LOWEST_PITCH,
    DEFAULT_STEPS_PER_BEAT,
    DEFAULT_THRESHOLD,
    PITCH_CLASSES,
    _major_scales,
    binarize,
    pitch_range,
)

__all__ = [
    "FEATURES",
    "SHARE_BINS",
    "KDE_MARGIN",
    "KDE_STEPS_PER_BANDWIDTH",
    "KDE_MAX_POINTS",
    "KL_FLOOR",
    "Feature",
    "FeatureComparison",
    "RealismEvaluator",
    "RealismReport",
    "phrase_features",
    "overlap",
    "kl",
    "split_halves",
    "compare_features",
    "realism",
    "format_table",
]

SHARE_BINS = 10
"""Bins of the histogram of a share: ``[0, 0.1), [0.1, 0.2), ..., [0.9, 1]``."""

KDE_MARGIN = 6.0
"""The KDE grid reaches this many bandwidths beyond the lowest and highest value (tails < 1e-9)."""

KDE_STEPS_PER_BANDWIDTH = 64
"""Grid points per (smaller) bandwidth of the two densities: the overlap of N(0, 1) and N(1, 1)
comes out within 1e-5 of its exact value (the kink of the minimum limits the trapezoid rule)."""

KDE_MAX_POINTS = 2**15
"""Most grid points of one comparison (bounds memory when a bandwidth is tiny next to the spread)."""

KL_FLOOR = 1e-10
"""Added to every probability mass (grid cell or bin) of both densities before the KL divergence."""

PHRASES_PER_CHUNK = 256
"""Phrases whose features are computed at once (bounds memory: ~25 MB of bool per copy at Jukepix's shape)."""


class Feature(NamedTuple):
    """One phrase feature: its ``name`` (key of :func:`phrase_features`), ``unit``, density ``kind``
    (``"share"``: 10-bin histogram on [0, 1]; ``"kde"``: Gaussian KDE) and ``min_bandwidth`` (the
    KDE's smallest bandwidth, in ``unit``: the smallest difference worth seeing; 0 for shares).
    Definitions: ``docs/evaluators.md``, *Realism*."""

    name: str
    unit: str
    kind: str
    min_bandwidth: float


FEATURES: tuple[Feature, ...] = (
    Feature("onset_on_beat", "share", "share", 0.0),  # onset times on a beat / onset times
    Feature("onset_on_8th_grid", "share", "share", 0.0),  # ... on the 8th-note grid / onset times
    Feature("voices_at_onset", "pitches", "kde", 0.05),  # mean pitches on at an onset time
    Feature("note_length", "beats", "kde", 1 / 24),  # mean note length
    Feature("inter_onset", "beats", "kde", 1 / 24),  # mean gap between successive onset times
    Feature("notes", "notes", "kde", 1.0),  # notes in the phrase, 0 when silent
    Feature("pitch_range", "semitones", "kde", 1.0),  # highest minus lowest pitch
    Feature("mean_pitch", "MIDI number", "kde", 0.5),  # mean pitch of the notes
    Feature("pitch_class_entropy", "bits", "kde", 0.05),  # of the notes' pitch-class histogram
    Feature("largest_leap", "semitones", "kde", 1.0),  # largest interval of the top line
    Feature("in_key", "share", "share", 0.0),  # notes in the phrase's major scale / notes
)
"""Every feature, in the order :func:`phrase_features` returns them and reports list them."""


# -------------------------------------------------------------------------------------------
# Features
# -------------------------------------------------------------------------------------------


class _Notes(NamedTuple):
    """The notes of a chunk of phrases, int64 arrays ``(n_notes,)``, sorted by group, pitch, start.

    ``group`` = phrase * K + track; ``start`` = first step along the flattened ``S * T`` axis;
    ``length`` in steps; ``pitch`` = pitch index (not yet offset by ``lowest_pitch``).
    """

    group: np.ndarray
    start: np.ndarray
    length: np.ndarray
    pitch: np.ndarray


def _notes(rolls: np.ndarray) -> _Notes:
    """Notes of bool ``rolls`` ``(n, K, P, L)`` (phrases, tracks, pitches, flattened time steps).

    Starts (on now, off one step before) and ends (on now, off one step after) come out of
    ``np.nonzero`` in the same row-major order, so the i-th start and the i-th end bound one note.
    """
    starts = rolls.copy()
    starts[..., 1:] &= ~rolls[..., :-1]
    ends = rolls.copy()
    ends[..., :-1] &= ~rolls[..., 1:]
    phrase, track, pitch, start = np.nonzero(starts)
    end = np.nonzero(ends)[3]
    return _Notes(phrase * rolls.shape[1] + track, start, end - start + 1, pitch)


def _group_mean(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean of ``values`` per group, float64 ``(n_groups,)``; NaN for a group without values."""
    count = np.bincount(group, minlength=n_groups)
    total = np.bincount(group, weights=values.astype(np.float64), minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def _entropy_bits(histogram: np.ndarray) -> np.ndarray:
    """Shannon entropy in bits of each row of ``histogram`` ``(..., 12)`` (counts), ``(...)``.

    ``0 log 0 = 0``; NaN for an all-zero row.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = histogram / histogram.sum(-1, keepdims=True)
        terms = np.where(shares > 0, -shares * np.log2(np.where(shares > 0, shares, 1.0)), 0.0)
    return np.where(histogram.sum(-1) > 0, terms.sum(-1), np.nan)


def _in_key(histogram: np.ndarray) -> np.ndarray:
    """Share of each track's notes in its phrase's major scale, ``(n, K)``, from note counts
    ``(n, K, 12)`` per pitch class.

    The scale: of the 12 major scales, the one holding the most notes of the phrase (all tracks
    together); ties go to the lowest tonic (C, C#, ...). NaN for a silent track.
    """
    scales = _major_scales().numpy()  # (12 tonics, 12 pitch classes), 1 = in the scale
    best = scales[(histogram.sum(1) @ scales.T).argmax(-1)]  # (n, 12); argmax: first on ties
    with np.errstate(invalid="ignore", divide="ignore"):
        return (histogram * best[:, None, :]).sum(-1) / histogram.sum(-1)


def _largest_leap(rolls: np.ndarray) -> np.ndarray:
    """Largest interval of each track's top line, semitones ``(n, K)``, from bool rolls ``(n, K, P, L)``.

    The top line is the highest pitch on at each time step where the track sounds; the leap of a
    sounding step is its distance to the top pitch of the previous sounding step (rests are
    skipped). 0 when the top line never moves; NaN for a silent track.
    """
    n, k, p, length = rolls.shape
    sounds = rolls.any(2)  # (n, K, L)
    top = p - 1 - rolls[:, :, ::-1, :].argmax(2)  # highest on pitch where the step sounds
    steps = np.arange(length)
    last = np.maximum.accumulate(np.where(sounds, steps, -1), axis=-1)  # last sounding step <= t
    previous = np.concatenate([np.full((n, k, 1), -1), last[..., :-1]], axis=-1)
    previous_top = np.take_along_axis(top, previous.clip(0), -1)
    leaps = np.where(sounds & (previous >= 0), np.abs(top - previous_top), 0)
    return np.where(sounds.any(-1), leaps.max(-1), np.nan)


def _chunk_features(
    on: torch.Tensor, steps_per_beat: int, lowest_pitch: int
) -> dict[str, np.ndarray]:
    """:func:`phrase_features` of one chunk of binarised phrases ``(n, S, T, P, K)`` (bool, on the CPU)."""
    n, s, t, p, k = on.shape
    length = s * t
    # (n, S, T, P, K) -> (n, K, P, L): each (phrase, track, pitch) row is one time line
    rolls = np.ascontiguousarray(on.numpy().reshape(n, length, p, k).transpose(0, 3, 2, 1))
    notes = _notes(rolls)
    groups = n * k
    count = np.bincount(notes.group, minlength=groups)

    # distinct onset times per group, sorted by group then time
    onset_key = np.unique(notes.group * length + notes.start)
    onset_group, onset_time = onset_key // length, onset_key % length
    in_bar = onset_time % t
    voices = rolls.sum(2).reshape(groups, length)[onset_group, onset_time]  # pitches on at the onset
    successive = np.diff(onset_group) == 0  # two onset times of the same group
    gaps = np.diff(onset_time)[successive]

    midi = lowest_pitch + notes.pitch
    classes = np.bincount(notes.group * PITCH_CLASSES + midi % PITCH_CLASSES, minlength=groups * PITCH_CLASSES)
    classes = classes.reshape(n, k, PITCH_CLASSES).astype(np.float64)

    values = {
        "onset_on_beat": _group_mean(onset_group, in_bar % steps_per_beat == 0, groups),
        "onset_on_8th_grid": _group_mean(onset_group, (2 * in_bar) % steps_per_beat == 0, groups),
        "voices_at_onset": _group_mean(onset_group, voices, groups),
        "note_length": _group_mean(notes.group, notes.length, groups) / steps_per_beat,
        "inter_onset": _group_mean(onset_group[1:][successive], gaps, groups) / steps_per_beat,
        "notes": count.astype(np.float64),
        "pitch_range": pitch_range(on).per_sample().numpy().reshape(groups),
        "mean_pitch": _group_mean(notes.group, midi, groups),
        "pitch_class_entropy": _entropy_bits(classes).reshape(groups),
        "largest_leap": _largest_leap(rolls).reshape(groups),
        "in_key": _in_key(classes).reshape(groups),
    }
    return {name: value.reshape(n, k) for name, value in values.items()}


def phrase_features(
    samples: torch.Tensor | np.ndarray,
    steps_per_beat: int = DEFAULT_STEPS_PER_BEAT,
    lowest_pitch: int = DEFAULT_LOWEST_PITCH,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, np.ndarray]:
    """Every feature of :data:`FEATURES` for each phrase and track.

    :param samples: ``(N, S, T, P, K)`` phrases, bool or probabilities (on when ``> threshold``).
    :param steps_per_beat: time steps per quarter note (24 for Jukepix).
    :param lowest_pitch: MIDI number of pitch index 0.
    :returns: ``{feature name: float64 (N, K)}`` in :data:`FEATURES` order; units as listed there
        (shares, beats, pitches, notes, semitones, MIDI numbers, bits). NaN where a feature is
        undefined: every feature but ``notes`` for a silent track, and ``inter_onset`` for a track
        with fewer than two onset times.
    :raises ShapeError: unless ``samples`` is 5-D.
    """
    on = binarize(torch.as_tensor(samples), threshold).cpu()
    chunks = [
        _chunk_features(on[start : start + PHRASES_PER_CHUNK], steps_per_beat, lowest_pitch)
        for start in range(0, max(len(on), 1), PHRASES_PER_CHUNK)
    ]
    return {feature.name: np.concatenate([chunk[feature.name] for chunk in chunks]) for feature in FEATURES}


# -------------------------------------------------------------------------------------------
# Densities, overlap and KL
# -------------------------------------------------------------------------------------------


def _finite(values: np.ndarray | Sequence[float]) -> np.ndarray:
    """The finite values of a 1-D sample as float64 (NaN dropped)."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    return values[np.isfinite(values)]


def _bandwidth(values: np.ndarray, min_bandwidth: float) -> float:
    """Scott's rule, ``std (ddof 1) * n ** (-1/5)`` (scipy's ``gaussian_kde`` default), at least
    ``min_bandwidth``; a single value has spread 0.

    :raises ValueError: the bandwidth is 0 (no spread and no ``min_bandwidth``).
    """
    spread = values.std(ddof=1) if len(values) > 1 else 0.0
    bandwidth = max(spread * len(values) ** -0.2, min_bandwidth)
    if bandwidth <= 0:
        raise ValueError(
            f"KDE of {len(values)} value(s) without spread: bandwidth 0; pass min_bandwidth > 0"
        )
    return bandwidth


def _kde(values: np.ndarray, low: float, step: float, points: int, bandwidth: float) -> np.ndarray:
    """Gaussian kernel density of ``values`` ``(n,)`` on the grid ``low + step * arange(points)``,
    ``(points,)`` per unit of the values.

    Each kernel is summed only over the grid points within :data:`KDE_MARGIN` bandwidths of its
    value (the rest of its mass is 2e-9), so the cost grows with ``n``, not with the grid.
    """
    reach = KDE_MARGIN * bandwidth
    width = min(math.ceil(2 * reach / step) + 2, points)  # grid points a kernel reaches
    offsets = np.arange(width)
    density = np.zeros(points)
    per_chunk = max(1, 2**22 // width)  # bounds memory at about 4 M kernel values
    for start in range(0, len(values), per_chunk):
        chunk = values[start : start + per_chunk]
        first = np.clip(np.floor((chunk - reach - low) / step).astype(np.int64), 0, points - width)
        index = first[:, None] + offsets  # (chunk, width) grid points of each kernel
        z = (low + index * step - chunk[:, None]) / bandwidth
        density += np.bincount(index.ravel(), weights=np.exp(-0.5 * z.ravel() ** 2), minlength=points)
    return density / (len(values) * bandwidth * math.sqrt(2 * math.pi))


def _masses(a: np.ndarray, b: np.ndarray, kind: str, min_bandwidth: float) -> tuple[np.ndarray, np.ndarray]:
    """The two finite samples' probability masses on one common support, float64 ``(m,)`` each.

    ``"share"``: the :data:`SHARE_BINS` bins of [0, 1] (value / count). ``"kde"``: each sample's
    Gaussian KDE (own Scott bandwidth, at least ``min_bandwidth``) on one regular grid from
    :data:`KDE_MARGIN` bandwidths below the lowest value to as far above the highest, spaced at
    most 1/:data:`KDE_STEPS_PER_BANDWIDTH` of the smaller bandwidth (at most
    :data:`KDE_MAX_POINTS` points), times the trapezoid rule's weights: the masses sum to the
    trapezoid integral of the density (1 up to the tails beyond the grid).
    """
    if kind == "share":
        # edges j / 10, not linspace's: a share such as 3/10 is the same float as its edge
        edges = np.arange(SHARE_BINS + 1) / SHARE_BINS
        return tuple(np.histogram(x, bins=edges)[0] / len(x) for x in (a, b))  # type: ignore[return-value]
    if kind != "kde":
        raise ValueError(f"density kind {kind!r}: expected 'kde' or 'share'")
    h_a, h_b = _bandwidth(a, min_bandwidth), _bandwidth(b, min_bandwidth)
    low = min(a.min() - KDE_MARGIN * h_a, b.min() - KDE_MARGIN * h_b)
    high = max(a.max() + KDE_MARGIN * h_a, b.max() + KDE_MARGIN * h_b)
    points = min(math.ceil((high - low) * KDE_STEPS_PER_BANDWIDTH / min(h_a, h_b)) + 1, KDE_MAX_POINTS)
    step = (high - low) / (points - 1)
    weights = np.full(points, step)
    weights[[0, -1]] /= 2
    return _kde(a, low, step, points, h_a) * weights, _kde(b, low, step, points, h_b) * weights


def overlap(
    a: np.ndarray | Sequence[float],
    b: np.ndarray | Sequence[float],
    kind: str = "kde",
    min_bandwidth: float = 0.0,
) -> float:
    """Overlap area of two 1-D samples' densities: ``integral of min(p_a, p_b)``, in [0, 1].

    :param a: values ``(n_a,)`` (any shape is flattened); NaN and infinities are dropped.
    :param b: values ``(n_b,)``, likewise.
    :param kind: ``"kde"`` (Gaussian KDE, Scott's bandwidth, at least ``min_bandwidth``, on a
        common grid; see :func:`_masses`) or ``"share"`` (histograms of :data:`SHARE_BINS` bins on
        [0, 1]; values must lie in [0, 1]).
    :param min_bandwidth: the KDE's smallest bandwidth, in the values' unit.
    :returns: 1 for identical samples (up to the grid's tails), about 0 for far-apart ones; NaN
        when either sample has no finite value.
    :raises ValueError: an unknown ``kind``, or a KDE sample without spread and
        ``min_bandwidth`` 0.
    """
    a, b = _finite(a), _finite(b)
    if not len(a) or not len(b):
        return math.nan
    return _overlap_of(*_masses(a, b, kind, min_bandwidth))


def kl(
    a: np.ndarray | Sequence[float],
    b: np.ndarray | Sequence[float],
    kind: str = "kde",
    min_bandwidth: float = 0.0,
) -> float:
    """KL divergence ``KL(p_a || p_b) = sum p_a log(p_a / p_b)`` of the densities of :func:`overlap`, in nats.

    Computed on the same masses (grid cells or bins), each raised by :data:`KL_FLOOR` and
    renormalised, so a density that is 0 where the other is not gives a large finite value
    (about ``log(1 / KL_FLOOR)`` = 23 nats) instead of infinity. 0 for identical samples; NaN
    when either sample has no finite value. Same parameters and errors as :func:`overlap`.
    """
    a, b = _finite(a), _finite(b)
    if not len(a) or not len(b):
        return math.nan
    return _kl_of(*_masses(a, b, kind, min_bandwidth))


def _overlap_of(p_a: np.ndarray, p_b: np.ndarray) -> float:
    """Overlap of two densities given as masses on one support ``(m,)``: ``sum min(p_a, p_b)``."""
    return float(np.minimum(p_a, p_b).sum())


def _kl_of(p_a: np.ndarray, p_b: np.ndarray) -> float:
    """``KL(p_a || p_b)`` in nats of masses ``(m,)``, each raised by :data:`KL_FLOOR` and renormalised."""
    p_a, p_b = p_a + KL_FLOOR, p_b + KL_FLOOR
    p_a, p_b = p_a / p_a.sum(), p_b / p_b.sum()
    return float(np.sum(p_a * np.log(p_a / p_b)))


# -------------------------------------------------------------------------------------------
# The report
# -------------------------------------------------------------------------------------------


def split_halves(n: int, groups: Sequence[object] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two halves of ``n`` real phrases for the ceiling: int64 index arrays ``(n_a,)``, ``(n_b,)``.

    Without ``groups``: even and odd indices. With ``groups`` (one label per phrase, e.g. the
    piece it was cut from): the distinct labels, sorted, alternate between the halves (first,
    third, ... label to half A), so no piece is in both halves.
    """
    if groups is None:
        return np.arange(0, n, 2), np.arange(1, n, 2)
    if len(groups) != n:
        raise ValueError(f"split_halves: {len(groups)} group labels for {n} phrases")
    _, label_of = np.unique(np.asarray(groups), return_inverse=True)
    in_a = label_of % 2 == 0
    return np.flatnonzero(in_a), np.flatnonzero(~in_a)


@dataclass(frozen=True)
class FeatureComparison:
    """One feature of one track (0-based): the generated and real means (NaN values left out),
    the overlap and KL(real || generated) of their densities, and the ceiling: overlap and KL
    between the two halves of the real set (half A in the place of the real set)."""

    feature: str
    track: int
    unit: str
    kind: str
    generated_mean: float
    real_mean: float
    overlap: float
    kl: float
    ceiling: float
    ceiling_kl: float


@dataclass(frozen=True)
class RealismReport:
    """Per feature and track, :class:`FeatureComparison` ``rows`` (features in :data:`FEATURES`
    order, tracks inside), and the set sizes; :attr:`realism` and :attr:`ceiling` are the means."""

    rows: tuple[FeatureComparison, ...]
    n_generated: int
    n_real: int
    n_halves: tuple[int, int]

    @property
    def realism(self) -> float:
        """The realism figure: the mean overlap over the rows, in [0, 1] (rows with NaN left out)."""
        return float(np.nanmean([row.overlap for row in self.rows]))

    @property
    def ceiling(self) -> float:
        """The mean ceiling overlap over the rows (what real phrases score against real phrases)."""
        return float(np.nanmean([row.ceiling for row in self.rows]))


def _compared(generated: np.ndarray, real: np.ndarray, feature: Feature) -> tuple[float, float]:
    """:func:`overlap` and :func:`kl` (real || generated) of one feature's values, from one set
    of densities; a generated set without a finite value against a real one with some overlaps
    0, at infinite KL; NaN, NaN when the real set has none."""
    generated, real = _finite(generated), _finite(real)
    if not len(real):
        return math.nan, math.nan
    if not len(generated):
        return 0.0, math.inf
    p_generated, p_real = _masses(generated, real, feature.kind, feature.min_bandwidth)
    return _overlap_of(p_generated, p_real), _kl_of(p_real, p_generated)


def _mean(values: np.ndarray) -> float:
    """Mean of the finite values; NaN when there is none."""
    finite = _finite(values)
    return float(finite.mean()) if len(finite) else math.nan


def compare_features(
    generated: dict[str, np.ndarray],
    real: dict[str, np.ndarray],
    groups: Sequence[object] | None = None,
) -> RealismReport:
    """The realism report from precomputed :func:`phrase_features` (so real features can be kept).

    :param generated: ``{feature: (N_gen, K)}``.
    :param real: ``{feature: (N_real, K)}``, held-out real phrases.
    :param groups: one label per real phrase for :func:`split_halves` (e.g. its source piece);
        ``None`` splits by even / odd index.
    """
    n_real = len(real[FEATURES[0].name])
    half_a, half_b = split_halves(n_real, groups)
    rows = []
    for feature in FEATURES:
        gen, ref = generated[feature.name], real[feature.name]
        for track in range(ref.shape[1]):
            score, divergence = _compared(gen[:, track], ref[:, track], feature)
            ceiling, ceiling_kl = _compared(ref[half_b, track], ref[half_a, track], feature)
            rows.append(
                FeatureComparison(
                    feature.name, track, feature.unit, feature.kind, _mean(gen[:, track]),
                    _mean(ref[:, track]), score, divergence, ceiling, ceiling_kl,
                )
            )
    n_generated = len(generated[FEATURES[0].name])
    return RealismReport(tuple(rows), n_generated, n_real, (len(half_a), len(half_b)))


def realism(
    generated: torch.Tensor | np.ndarray,
    real: torch.Tensor | np.ndarray,
    groups: Sequence[object] | None = None,
    steps_per_beat: int = DEFAULT_STEPS_PER_BEAT,
    lowest_pitch: int = DEFAULT_LOWEST_PITCH,
    threshold: float = DEFAULT_THRESHOLD,
) -> RealismReport:
    """Compare generated phrases with held-out real ones, feature by feature (see :func:`compare_features`).

    :param generated: ``(N_gen, S, T, P, K)`` phrases, bool or probabilities.
    :param real: ``(N_real, S, T, P, K)`` real phrases not used in training.
    :param groups: one label per real phrase (its source piece) for the ceiling's halves.
    Other options as :func:`phrase_features`.
    """
    options = {"steps_per_beat": steps_per_beat, "lowest_pitch": lowest_pitch, "threshold": threshold}
    return compare_features(phrase_features(generated, **options), phrase_features(real, **options), groups)


def format_table(report: RealismReport) -> str:
    """The report as a plain-text table: one line per feature and track (tracks numbered from 1),
    then the realism figure and its ceiling."""
    header = ("feature", "track", "unit", "generated mean", "real mean", "overlap", "ceiling", "KL", "ceiling KL")
    lines = [
        (row.feature, str(row.track + 1), row.unit, *(f"{value:.3g}" for value in (
            row.generated_mean, row.real_mean, row.overlap, row.ceiling, row.kl, row.ceiling_kl)))
        for row in report.rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip() for cells in [header, *lines]]
    text.append(
        f"realism (mean overlap) {report.realism:.3f}; ceiling {report.ceiling:.3f} "
        f"(real vs real, halves of {report.n_halves[0]} and {report.n_halves[1]} phrases); "
        f"{report.n_generated} generated, {report.n_real} real phrases; KL = KL(real || generated), nats"
    )
    return "\n".join(text)


class RealismEvaluator(Evaluator):
    """``realism``: the mean overlap of each phrase feature's distribution with a reference set's
    (:func:`compare_features`), as a set-comparing :class:`crossmodal.Evaluator`.

    :meth:`features` gives each batch's :func:`phrase_features` (float64 ``(B, K)`` per feature);
    :meth:`compare` returns ``realism`` and ``realism-ceiling`` (scalars ``()``) and
    ``realism/<feature>`` (the overlap per track, ``(K,)``). The ceiling compares the first half
    of the reference set with its second half, so a reference ordered by source piece (as the
    phrase sets are) is split by piece.
    """

    name = "realism"
    sample_kind = "pianoroll"
    description = ("Realism: mean overlap of per-phrase feature distributions with held-out real phrases "
                   "(1 = alike), with its real-vs-real ceiling.")
    compares_sets = True

    def __init__(self, steps_per_beat: int = DEFAULT_STEPS_PER_BEAT, lowest_pitch: int = DEFAULT_LOWEST_PITCH,
                 threshold: float = DEFAULT_THRESHOLD) -> None:
        self.options = {"steps_per_beat": steps_per_beat, "lowest_pitch": lowest_pitch, "threshold": threshold}

    def features(self, samples: torch.Tensor) -> dict[str, torch.Tensor]:
        """:func:`phrase_features` of a batch ``(B, S, T, P, K)``: ``{feature: float64 (B, K)}``."""
        values = phrase_features(samples.detach().cpu().numpy(), **self.options)
        return {name: torch.from_numpy(value) for name, value in values.items()}

    def compare(self, features: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``realism``, ``realism-ceiling`` and ``realism/<feature>`` per track, from both sets' features."""
        n_reference = len(reference[FEATURES[0].name])
        halves = [index >= n_reference / 2 for index in range(n_reference)]
        report = compare_features({k: v.numpy() for k, v in features.items()},
                                  {k: v.numpy() for k, v in reference.items()}, groups=halves)
        metrics = {"realism": torch.tensor(report.realism, dtype=torch.float64),
                   "realism-ceiling": torch.tensor(report.ceiling, dtype=torch.float64)}
        for feature in FEATURES:
            overlaps = [row.overlap for row in report.rows if row.feature == feature.name]
            metrics[f"realism/{feature.name}"] = torch.tensor(overlaps, dtype=torch.float64)
        return metrics
