"""Batched, vectorised piano-roll metrics (torch; CPU or GPU).

Every function takes a whole batch of samples laid out as ``(N, S, T, P, K)`` =
(samples, bars, time steps per bar, pitches, tracks) -- for Jukepix ``(N, 4, 96, 128, 2)``, with
24 time steps per beat, 96 per 4/4 bar and pitch index ``p`` meaning MIDI number
``lowest_pitch + p`` -- and returns a :class:`Ratio`: a numerator and a denominator per sample
and per track, both float64 tensors ``(N, K)`` (``(N, K * (K - 1) / 2)``, one column per track
pair, for :func:`tonal_distance`). ``Ratio.per_sample()`` gives the metric of each sample;
``Ratio.pooled()`` gives the metric of the whole batch, i.e. the sum of the numerators over the
sum of the denominators, which is what the evaluators report and what stays exact when a data
set is evaluated in chunks (join the ratios of the chunks with ``Ratio.concat``).

Conventions shared by every metric (written out in ``docs/evaluators.md``):

- **Binarisation.** A cell is *on* when its value is greater than ``threshold`` (0.5 by
  default); boolean input is used as it is. Probabilities from a generator are therefore judged
  as the piano roll they would be written out as.
- **Notes.** A note is a maximal run of consecutive on-steps of one pitch in one track, along the
  flattened ``S * T`` time axis of one sample: a note held across a bar line is *one* note, and a
  note never continues from one sample into the next. Jukepix's data pipeline leaves a one-step
  rest before a re-struck note of the same pitch, so repeated notes stay distinct.
- **Pitch classes** are ``(lowest_pitch + p) % 12`` with 0 = C: real pitch classes, not the
  groups of adjacent pitches that pypianoroll 1.0.4 and MuseGAN's code use.
- **Beats** are consecutive windows of ``steps_per_beat`` time steps inside each bar; ``T`` must
  be a multiple of ``steps_per_beat`` for the beat-based metrics.
- **Empty input.** A ratio whose denominator is 0 is NaN (0 / 0); each function says when.

The functions work on the whole bool roll in its own layout (no copy for bool input) with
tensor operations only: there is no Python loop over samples, bars, pitches or notes (QN loops
over the ``min_steps - 1`` step offsets). Counts are summed as bytes per bar first (see
``_count``), which is several times faster on CPU than summing bools into ``int64``.

Public names: :class:`Ratio`, :func:`binarize`, :func:`track_pairs`, :func:`pitch_class_matrix`,
:func:`tonal_matrix`, :func:`empty_bar_rate`, :func:`used_pitch_classes`,
:func:`qualified_note_rate`, :func:`tonal_distance`, :func:`polyphony_rate`,
:func:`in_scale_rate`, :func:`pitch_range`, :func:`n_pitches_used`, :func:`empty_beat_rate`,
:data:`METRICS` and the default constants below.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch
from torch import Tensor

from crossmodal.errors import ShapeError

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_STEPS_PER_BEAT",
    "DEFAULT_LOWEST_PITCH",
    "DEFAULT_QUALIFIED_MIN_STEPS",
    "DEFAULT_POLYPHONY_MIN_PITCHES",
    "DEFAULT_TONAL_RADII",
    "PITCH_CLASSES",
    "MAJOR_SCALE_STEPS",
    "METRICS",
    "Ratio",
    "binarize",
    "track_pairs",
    "pitch_class_matrix",
    "tonal_matrix",
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

DEFAULT_THRESHOLD = 0.5
"""A cell is on when its value is greater than this (values are probabilities in [0, 1])."""

DEFAULT_STEPS_PER_BEAT = 24
"""Time steps per quarter note (Jukepix: 24, so a 4/4 bar is 96 steps)."""

DEFAULT_LOWEST_PITCH = 0
"""MIDI number of pitch index 0 (Jukepix keeps all 128 MIDI pitches, so 0 = C-1)."""

DEFAULT_QUALIFIED_MIN_STEPS = 3
"""Shortest qualified note, in time steps: a 32nd note at 24 steps per beat (MuseGAN paper)."""

DEFAULT_POLYPHONY_MIN_PITCHES = 2
"""A time step is polyphonic when at least this many pitches of the track are on."""

DEFAULT_TONAL_RADII = (1.0, 1.0, 0.5)
"""Radii of the fifths, minor-thirds and major-thirds circles of Harte et al.'s tonal centroid."""

PITCH_CLASSES = 12
"""Pitch classes per octave."""

MAJOR_SCALE_STEPS = (0, 2, 4, 5, 7, 9, 11)
"""Semitones above the tonic of the pitch classes of a major scale."""


class Ratio(NamedTuple):
    """A metric as numerator / denominator, per sample and per track (or track pair).

    ``numerator`` and ``denominator``: float64 tensors of the same shape, ``(N, K)`` or
    ``(N, n_pairs)``. The ratios of several chunks of one data set join with :meth:`concat`, and
    ``pooled()`` of the result is the metric of the whole set.
    """

    numerator: Tensor
    denominator: Tensor

    def per_sample(self) -> Tensor:
        """The metric of each sample, ``(N, K)``; NaN where the denominator is 0."""
        return self.numerator / self.denominator

    def pooled(self) -> Tensor:
        """The metric of the whole batch, ``(K,)``: summed numerators over summed denominators.

        NaN for a track whose denominator is 0 in every sample (e.g. QN of a batch without notes).
        """
        return self.numerator.sum(0) / self.denominator.sum(0)

    @staticmethod
    def concat(ratios: "list[Ratio]") -> "Ratio":
        """Join the ratios of several chunks of samples along the sample axis."""
        return Ratio(
            torch.cat([r.numerator for r in ratios]), torch.cat([r.denominator for r in ratios])
        )


def _ratio(numerator: Tensor, denominator: Tensor) -> Ratio:
    numerator = numerator.to(torch.float64)
    denominator = denominator.to(torch.float64).expand_as(numerator)
    return Ratio(numerator, denominator)


def binarize(samples: Tensor, threshold: float = DEFAULT_THRESHOLD) -> Tensor:
    """Return the on-cells of ``samples`` as a bool tensor of the same shape ``(N, S, T, P, K)``.

    :param samples: ``(N, S, T, P, K)`` = (samples, bars, time steps, pitches, tracks), bool or
        real-valued (probabilities in [0, 1]). A real value is on when ``> threshold``.
    :raises ShapeError: unless ``samples`` is 5-D.
    """
    if samples.dim() != 5:
        raise ShapeError(
            "piano-roll metrics: samples must have shape (samples, bars, time steps, pitches, "
            f"tracks), 5 axes, got shape {tuple(samples.shape)}"
        )
    return samples if samples.dtype == torch.bool else samples > threshold


def _count(on: Tensor, dim: int) -> Tensor:
    """Number of on-cells of bool ``on`` along ``dim``, in the narrowest integer type that cannot overflow.

    Summing bytes into ``uint8`` / ``int16`` is several times faster on CPU than torch's default
    ``int64`` accumulation; callers sum the (much smaller) result further in ``int64``.
    """
    size = on.shape[dim]
    if size <= torch.iinfo(torch.uint8).max:
        dtype = torch.uint8
    elif size <= torch.iinfo(torch.int16).max:
        dtype = torch.int16
    else:
        dtype = torch.int64
    return on.view(torch.uint8).sum(dim, dtype=dtype)


def _any(on: Tensor, dim: int) -> Tensor:
    """Whether any cell of bool ``on`` is on along ``dim`` (a byte maximum: faster than ``any`` on CPU)."""
    return on.view(torch.uint8).amax(dim) > 0


def _check_beats(on: Tensor, steps_per_beat: int, metric: str) -> int:
    """Return the number of beats per bar; raise ShapeError unless bars split into whole beats."""
    steps_per_bar = on.shape[2]
    if steps_per_beat < 1 or steps_per_bar % steps_per_beat:
        raise ShapeError(
            f"{metric}: a bar of {steps_per_bar} time steps does not split into beats of "
            f"steps_per_beat={steps_per_beat} steps; pass the steps_per_beat of your data"
        )
    return steps_per_bar // steps_per_beat


def track_pairs(n_tracks: int) -> list[tuple[int, int]]:
    """The unordered track pairs ``(i, j)``, ``i < j``, in the column order of :func:`tonal_distance`."""
    return [(i, j) for i in range(n_tracks) for j in range(i + 1, n_tracks)]


def pitch_class_matrix(
    n_pitches: int, lowest_pitch: int = DEFAULT_LOWEST_PITCH, device: torch.device | None = None
) -> Tensor:
    """One-hot float64 matrix ``(n_pitches, 12)``: row ``p`` marks pitch class ``(lowest_pitch + p) % 12``."""
    classes = (torch.arange(n_pitches, device=device) + lowest_pitch) % PITCH_CLASSES
    return torch.nn.functional.one_hot(classes, PITCH_CLASSES).to(torch.float64)


def tonal_matrix(
    radii: tuple[float, float, float] = DEFAULT_TONAL_RADII, device: torch.device | None = None
) -> Tensor:
    """Harte et al.'s (2006) transform, float64 ``(6, 12)``, from a chroma vector to the tonal centroid.

    Rows: ``r1 sin(l 7pi/6)``, ``r1 cos(l 7pi/6)`` (circle of fifths), ``r2 sin(l 3pi/2)``,
    ``r2 cos(l 3pi/2)`` (minor thirds), ``r3 sin(l 2pi/3)``, ``r3 cos(l 2pi/3)`` (major thirds),
    for pitch class ``l`` = 0 (C) ... 11 (B).
    """
    r1, r2, r3 = radii
    l = torch.arange(PITCH_CLASSES, dtype=torch.float64, device=device)
    rows = []
    for radius, angle in ((r1, 7 * math.pi / 6), (r2, 3 * math.pi / 2), (r3, 2 * math.pi / 3)):
        rows += [radius * torch.sin(l * angle), radius * torch.cos(l * angle)]
    return torch.stack(rows)


def _major_scales(device: torch.device | None = None) -> Tensor:
    """Float64 ``(12, 12)``: row ``r`` marks the pitch classes of the major scale on tonic ``r``."""
    steps = torch.tensor(MAJOR_SCALE_STEPS, device=device)
    tonics = torch.arange(PITCH_CLASSES, device=device)
    members = (tonics[:, None] + steps[None, :]) % PITCH_CLASSES  # (12 tonics, 7 members)
    scales = torch.zeros(PITCH_CLASSES, PITCH_CLASSES, dtype=torch.float64, device=device)
    return scales.scatter_(1, members, 1.0)


# -------------------------------------------------------------------------------------------
# Metrics
# -------------------------------------------------------------------------------------------


def empty_bar_rate(samples: Tensor, *, threshold: float = DEFAULT_THRESHOLD) -> Ratio:
    """EB: the fraction of bars of a track that are empty (hold no on-cell).

    Unit: ratio in [0, 1], per track. Numerator: empty bars of the track; denominator: bars
    (``S`` per sample). One empty bar in four gives 0.25. Never NaN unless ``S == 0``.

    :param samples: ``(N, S, T, P, K)``, bool or probabilities (on when ``> threshold``).
    """
    on = binarize(samples, threshold)
    n, s, t, p, k = on.shape
    bar_sounds = _any(on.reshape(n, s, t * p, k), 2)  # (N, S, K)
    return _ratio((~bar_sounds).sum(1), torch.tensor(s, device=on.device))


def used_pitch_classes(
    samples: Tensor,
    *,
    lowest_pitch: int = DEFAULT_LOWEST_PITCH,
    threshold: float = DEFAULT_THRESHOLD,
) -> Ratio:
    """UPC: the number of pitch classes used per bar, averaged over the non-empty bars of a track.

    Unit: pitch classes (0-12), per track. A bar's count is the number of distinct
    ``(lowest_pitch + p) % 12`` among its on-cells (C4 + C5 count 1; a C-E-G triad counts 3).
    Numerator: the sum of the counts of the track's bars; denominator: its non-empty bars.
    NaN when every bar of the track is empty.
    """
    on = binarize(samples, threshold)
    bar_pitches = _any(on, 2)  # (N, S, P, K): the pitch sounds somewhere in the bar
    classes = pitch_class_matrix(on.shape[3], lowest_pitch, on.device)
    bar_classes = torch.einsum("nspk,pc->nskc", bar_pitches.to(torch.float64), classes) > 0
    return _ratio(bar_classes.sum((1, 3)), bar_pitches.any(2).sum(1))


def qualified_note_rate(
    samples: Tensor,
    *,
    min_steps: int = DEFAULT_QUALIFIED_MIN_STEPS,
    threshold: float = DEFAULT_THRESHOLD,
) -> Ratio:
    """QN: the fraction of a track's notes that last at least ``min_steps`` time steps.

    Unit: ratio in [0, 1], per track. Notes are maximal runs of on-steps of one pitch along the
    flattened bars x time axis of a sample (a note may cross a bar line). ``min_steps`` = 3 is a
    32nd note at 24 steps per beat (the MuseGAN paper's threshold). Numerator: notes of at least
    ``min_steps`` steps; denominator: notes. One 3-step and one 2-step note give 0.5. NaN when
    the track has no note.
    """
    on = binarize(samples, threshold)
    n, s, t, p, k = on.shape
    steps = on.reshape(n, s * t, p, k)  # flatten bars: notes may cross bar lines
    # onset: on now and off one step before (the first step of a sample has no step before)
    marks = torch.empty_like(steps)
    marks[:, 0] = steps[:, 0]
    torch.lt(steps[:, :-1], steps[:, 1:], out=marks[:, 1:])
    onset_count = _count(marks.reshape(n, s, t, p, k), 2).sum((1, 2))  # per bar first: bytes
    # A maximal run starting at t lasts >= m steps iff steps t+1 ... t+m-1 are on as well;
    # keep only those onsets (in place).
    for offset in range(1, max(min_steps, 1)):
        kept = max(s * t - offset, 0)
        marks[:, :kept] &= steps[:, offset : offset + kept]
        marks[:, kept:] = False
    qualified_count = _count(marks.reshape(n, s, t, p, k), 2).sum((1, 2))
    return _ratio(qualified_count, onset_count)


def tonal_distance(
    samples: Tensor,
    *,
    steps_per_beat: int = DEFAULT_STEPS_PER_BEAT,
    lowest_pitch: int = DEFAULT_LOWEST_PITCH,
    radii: tuple[float, float, float] = DEFAULT_TONAL_RADII,
    threshold: float = DEFAULT_THRESHOLD,
) -> Ratio:
    """TD: the tonal distance between two tracks, per beat, averaged over beats where both sound.

    MuseGAN's harmonicity. For each beat and track: the chroma vector (on-cells per pitch class,
    summed over the beat's steps and all octaves, so a held note weighs by its duration in the
    beat) divided by its L1 sum, mapped to Harte et al.'s 6-D tonal centroid
    (:func:`tonal_matrix`, radii ``r1=1, r2=1, r3=0.5``); the distance is the Euclidean distance
    between the two tracks' centroids. Numerator: the summed distances over beats where both
    tracks have an on-cell; denominator: those beats. Columns are the track pairs of
    :func:`track_pairs` (one column for two tracks). Unit: tonal-space distance, 0 for identical
    pitch-class content, always below ``2 sqrt(r1^2 + r2^2 + r3^2)`` = 3. NaN for a pair that never
    sounds together.
    """
    on = binarize(samples, threshold)
    n, s, t, p, k = on.shape
    beats_per_bar = _check_beats(on, steps_per_beat, "TD")
    # (N, beats, steps in beat, P, K) -> on-steps per beat and pitch: (N, beats, P, K)
    beat_pitches = _count(on.reshape(n, s * beats_per_bar, steps_per_beat, p, k), 2)
    classes = pitch_class_matrix(p, lowest_pitch, on.device)
    chroma = torch.einsum("nbpk,pc->nkbc", beat_pitches.to(torch.float64), classes)  # (N, K, beats, 12)
    total = chroma.sum(-1, keepdim=True)  # (N, K, beats, 1)
    centroid = (chroma / total.clamp_min(1)) @ tonal_matrix(radii, on.device).T  # (N, K, beats, 6)
    first, second = torch.triu_indices(k, k, offset=1, device=on.device)
    distance = torch.linalg.vector_norm(centroid[:, first] - centroid[:, second], dim=-1)
    sounds = total.squeeze(-1) > 0  # (N, K, beats)
    both = sounds[:, first] & sounds[:, second]  # (N, pairs, beats)
    return _ratio((distance * both).sum(-1), both.sum(-1))


def polyphony_rate(
    samples: Tensor,
    *,
    min_pitches: int = DEFAULT_POLYPHONY_MIN_PITCHES,
    threshold: float = DEFAULT_THRESHOLD,
) -> Ratio:
    """Polyphony: the fraction of a track's active time steps where >= ``min_pitches`` pitches are on.

    Unit: ratio in [0, 1], per track. Numerator: time steps with at least ``min_pitches`` (2)
    on-cells in the track; denominator: time steps with at least one (silence is left out, so a
    sparse melody is not called monophonic for its rests). NaN when the track is silent.
    """
    on = binarize(samples, threshold)
    sounding = _count(on, 3)  # (N, S, T, K): pitches on per time step
    return _ratio((sounding >= min_pitches).sum((1, 2)), (sounding > 0).sum((1, 2)))


def in_scale_rate(
    samples: Tensor,
    *,
    lowest_pitch: int = DEFAULT_LOWEST_PITCH,
    threshold: float = DEFAULT_THRESHOLD,
) -> Ratio:
    """In-scale rate: the fraction of a track's on-cells whose pitch class is in the phrase's major scale.

    Unit: ratio in [0, 1], per track; cells (time steps x pitches), so a long note weighs by its
    duration, as in MuseGAN and pypianoroll. The scale is fitted per sample (phrase) over all
    tracks together: the major scale (12 tonics; a natural minor scale is its relative major)
    holding the most on-cells of the phrase; a tie goes to the lowest tonic (C, then C#, ...).
    Numerator: the track's on-cells in that scale; denominator: its on-cells. NaN when the track
    is silent.
    """
    on = binarize(samples, threshold)
    p = on.shape[3]
    pitch_cells = _count(on, 2).sum(1)  # (N, P, K): on-steps per pitch, counted per bar first
    classes = pitch_class_matrix(p, lowest_pitch, on.device)
    chroma = torch.einsum("npk,pc->nkc", pitch_cells.to(torch.float64), classes)  # (N, K, 12)
    scales = _major_scales(on.device)  # (12 tonics, 12 pitch classes)
    fit = chroma.sum(1) @ scales.T  # (N, 12 tonics): on-cells of the phrase in each scale
    best = scales[fit.argmax(-1)]  # (N, 12); argmax returns the first (lowest) tonic on ties
    return _ratio((chroma * best[:, None, :]).sum(-1), chroma.sum(-1))


def pitch_range(samples: Tensor, *, threshold: float = DEFAULT_THRESHOLD) -> Ratio:
    """Pitch range: highest minus lowest sounding pitch of a track in a sample, in semitones.

    Unit: semitones, per track, averaged over the samples (phrases) in which the track has an
    on-cell. Numerator: the range (0 for a single pitch); denominator: 1 if the track sounds in
    the sample, else 0. NaN when the track is silent in every sample.
    """
    on = binarize(samples, threshold)
    n, s, t, p, k = on.shape
    used = _any(on.reshape(n, s * t, p, k), 1).transpose(1, 2)  # (N, K, P)
    pitch = torch.arange(used.shape[-1], device=on.device)
    highest = torch.where(used, pitch, -1).amax(-1)
    lowest = torch.where(used, pitch, used.shape[-1]).amin(-1)
    sounds = used.any(-1)
    return _ratio(torch.where(sounds, highest - lowest, 0), sounds)


def n_pitches_used(samples: Tensor, *, threshold: float = DEFAULT_THRESHOLD) -> Ratio:
    """Number of pitches used: distinct pitches with an on-cell, per track and sample (phrase).

    Unit: pitches (0-P), per track, averaged over all samples; a silent track counts 0 (as in
    pypianoroll). Numerator: the count; denominator: 1.
    """
    on = binarize(samples, threshold)
    n, s, t, p, k = on.shape
    used = _any(on.reshape(n, s * t, p, k), 1).transpose(1, 2)  # (N, K, P)
    return _ratio(used.sum(-1), torch.tensor(1, device=on.device))


def empty_beat_rate(
    samples: Tensor,
    *,
    steps_per_beat: int = DEFAULT_STEPS_PER_BEAT,
    threshold: float = DEFAULT_THRESHOLD,
) -> Ratio:
    """Empty-beat rate: the fraction of a track's beats without any on-cell.

    Unit: ratio in [0, 1], per track. Beats are windows of ``steps_per_beat`` steps inside each
    bar. Numerator: empty beats; denominator: beats (``S * T / steps_per_beat`` per sample).
    pypianoroll 1.0.4's ``empty_beat_rate`` returns one minus this.
    """
    on = binarize(samples, threshold)
    n, s, t, p, k = on.shape
    beats_per_bar = _check_beats(on, steps_per_beat, "empty-beat rate")
    beat_sounds = _any(on.reshape(n, s * beats_per_bar, steps_per_beat * p, k), 2)  # (N, beats, K)
    return _ratio((~beat_sounds).sum(1), torch.tensor(s * beats_per_bar, device=on.device))


METRICS: dict[str, Callable[..., Ratio]] = {
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
"""Short, stable metric names (the evaluators' registry names) to the batched functions."""
