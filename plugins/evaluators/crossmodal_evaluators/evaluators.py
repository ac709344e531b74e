"""Evaluators: one :class:`crossmodal.Evaluator` per piano-roll metric.

Each evaluator takes samples ``(N, S, T, P, K)`` = (samples, bars, time steps per bar, pitches,
tracks), bool or probabilities (a cell is on when ``> threshold``, 0.5 by default).
:meth:`~PianoRollEvaluator.totals` returns ``{name: (numerator, denominator)}`` summed over the
batch, float64 tensors ``(K,)`` per track, or scalars ``()`` for ``td``; calling the evaluator
divides them (NaN where the denominator is 0). Values are therefore *pooled* over the batch --
UPC averages over every non-empty bar of the batch, QN over every note -- and summing totals over
chunks of a data set gives the exact value of the whole set (``crossmodal.evaluation.evaluate_set``
does that). :meth:`~PianoRollEvaluator.ratio` keeps the per-sample numerators and denominators,
for distributions over samples. Definitions: :mod:`crossmodal_evaluators.metrics` and
``docs/evaluators.md``.
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from crossmodal.errors import ShapeError
from crossmodal.interfaces import Evaluator

from . import metrics
from .metrics import (
    DEFAULT_LOWEST_PITCH,
    DEFAULT_POLYPHONY_MIN_PITCHES,
    DEFAULT_QUALIFIED_MIN_STEPS,
    DEFAULT_STEPS_PER_BEAT,
    DEFAULT_THRESHOLD,
    DEFAULT_TONAL_RADII,
    Ratio,
)

__all__ = [
    "PianoRollEvaluator",
    "EmptyBarRate",
    "UsedPitchClasses",
    "QualifiedNoteRate",
    "TonalDistance",
    "PolyphonyRate",
    "InScaleRate",
    "PitchRange",
    "PitchesUsed",
    "EmptyBeatRate",
    "EVALUATORS",
]


class PianoRollEvaluator(Evaluator):
    """Base class: one metric of :mod:`crossmodal_evaluators.metrics`, reported under :attr:`name`.

    :param threshold: a cell is on when its value is greater than this.
    """

    sample_kind: ClassVar[str] = "pianoroll"

    def __init__(self, *, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold

    def __repr__(self) -> str:
        options = ", ".join(f"{key}={value!r}" for key, value in vars(self).items())
        return f"{type(self).__name__}({options})"

    def ratio(self, samples: Tensor) -> Ratio:
        """Numerators and denominators per sample and track, ``(N, K)`` (see :class:`Ratio`)."""
        raise NotImplementedError

    def check(self, samples: Tensor) -> None:
        """Raise :class:`ShapeError` (naming this evaluator) unless ``samples`` is a 5-D piano roll."""
        if samples.dim() != 5:
            raise ShapeError(
                f"evaluator {self.name!r} ({type(self).__name__}): samples must have shape "
                f"(samples, bars, time steps, pitches, tracks), got {tuple(samples.shape)}"
            )

    def totals(self, samples: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
        """``{name: (numerator, denominator)}`` summed over the batch: float64 tensors ``(K,)``."""
        self.check(samples)
        ratio = self.ratio(samples)
        return {self.name: (ratio.numerator.sum(0), ratio.denominator.sum(0))}


class EmptyBarRate(PianoRollEvaluator):
    """EB: fraction of empty bars, per track (:func:`~crossmodal_evaluators.metrics.empty_bar_rate`)."""

    name = "eb"
    description = "Empty-bar ratio per track: bars without an on-cell / bars (0-1)."

    def ratio(self, samples: Tensor) -> Ratio:
        return metrics.empty_bar_rate(samples, threshold=self.threshold)


class UsedPitchClasses(PianoRollEvaluator):
    """UPC: pitch classes per non-empty bar, per track (:func:`~crossmodal_evaluators.metrics.used_pitch_classes`).

    :param lowest_pitch: MIDI number of pitch index 0.
    """

    name = "upc"
    description = "Used pitch classes per non-empty bar, per track (0-12)."

    def __init__(self, *, lowest_pitch: int = DEFAULT_LOWEST_PITCH, threshold: float = DEFAULT_THRESHOLD) -> None:
        super().__init__(threshold=threshold)
        self.lowest_pitch = lowest_pitch

    def ratio(self, samples: Tensor) -> Ratio:
        return metrics.used_pitch_classes(samples, lowest_pitch=self.lowest_pitch, threshold=self.threshold)


class QualifiedNoteRate(PianoRollEvaluator):
    """QN: fraction of notes of >= ``min_steps`` steps, per track (:func:`~crossmodal_evaluators.metrics.qualified_note_rate`).

    :param min_steps: shortest qualified note in time steps (3 = a 32nd note at 24 steps per beat).
    """

    name = "qn"
    description = "Qualified-note ratio per track: notes >= 3 steps (a 32nd note) / notes (0-1)."

    def __init__(
        self, *, min_steps: int = DEFAULT_QUALIFIED_MIN_STEPS, threshold: float = DEFAULT_THRESHOLD
    ) -> None:
        super().__init__(threshold=threshold)
        self.min_steps = min_steps

    def ratio(self, samples: Tensor) -> Ratio:
        return metrics.qualified_note_rate(samples, min_steps=self.min_steps, threshold=self.threshold)


class TonalDistance(PianoRollEvaluator):
    """TD: tonal distance between tracks per beat (:func:`~crossmodal_evaluators.metrics.tonal_distance`).

    Returns a scalar: the distances of every track pair over every beat where both sound, averaged
    (for two tracks, the one pair). NaN when no pair ever sounds in the same beat, or ``K < 2``.

    :param steps_per_beat: time steps per beat. :param lowest_pitch: MIDI number of pitch index 0.
    :param radii: radii ``(r1, r2, r3)`` of the fifths, minor-thirds and major-thirds circles.
    """

    name = "td"
    description = "Tonal distance between the tracks (Harte centroid per beat; 0 = same harmony)."

    def __init__(
        self,
        *,
        steps_per_beat: int = DEFAULT_STEPS_PER_BEAT,
        lowest_pitch: int = DEFAULT_LOWEST_PITCH,
        radii: tuple[float, float, float] = DEFAULT_TONAL_RADII,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        super().__init__(threshold=threshold)
        self.steps_per_beat = steps_per_beat
        self.lowest_pitch = lowest_pitch
        self.radii = tuple(radii)

    def ratio(self, samples: Tensor) -> Ratio:
        return metrics.tonal_distance(
            samples,
            steps_per_beat=self.steps_per_beat,
            lowest_pitch=self.lowest_pitch,
            radii=self.radii,
            threshold=self.threshold,
        )

    def totals(self, samples: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
        """``{"td": (summed distances, beats where both tracks sound)}``, summed over samples and pairs; scalars."""
        self.check(samples)
        ratio = self.ratio(samples)
        return {self.name: (ratio.numerator.sum(), ratio.denominator.sum())}


class PolyphonyRate(PianoRollEvaluator):
    """Polyphony: active steps with >= ``min_pitches`` pitches on (:func:`~crossmodal_evaluators.metrics.polyphony_rate`).

    :param min_pitches: pitches that must sound together for a step to count as polyphonic.
    """

    name = "polyphony"
    description = "Polyphony rate per track: steps with >= 2 pitches on / steps with >= 1 (0-1)."

    def __init__(
        self, *, min_pitches: int = DEFAULT_POLYPHONY_MIN_PITCHES, threshold: float = DEFAULT_THRESHOLD
    ) -> None:
        super().__init__(threshold=threshold)
        self.min_pitches = min_pitches

    def ratio(self, samples: Tensor) -> Ratio:
        return metrics.polyphony_rate(samples, min_pitches=self.min_pitches, threshold=self.threshold)


class InScaleRate(PianoRollEvaluator):
    """In-scale rate: on-cells in the phrase's best major scale (:func:`~crossmodal_evaluators.metrics.in_scale_rate`).

    :param lowest_pitch: MIDI number of pitch index 0.
    """

    name = "in-scale"
    description = "In-scale rate per track: on-cells in the phrase's best-fitting major scale / on-cells."

    def __init__(self, *, lowest_pitch: int = DEFAULT_LOWEST_PITCH, threshold: float = DEFAULT_THRESHOLD) -> None:
        super().__init__(threshold=threshold)
        self.lowest_pitch = lowest_pitch

    def ratio(self, samples: Tensor) -> Ratio:
        return metrics.in_scale_rate(samples, lowest_pitch=self.lowest_pitch, threshold=self.threshold)


class PitchRange(PianoRollEvaluator):
    """Pitch range per phrase, over phrases where the track sounds (:func:`~crossmodal_evaluators.metrics.pitch_range`)."""

    name = "pitch-range"
    description = "Pitch range per track: highest - lowest pitch of a phrase, in semitones."

    def ratio(self, samples: Tensor) -> Ratio:
        return metrics.pitch_range(samples, threshold=self.threshold)


class PitchesUsed(PianoRollEvaluator):
    """Distinct pitches per phrase, per track (:func:`~crossmodal_evaluators.metrics.n_pitches_used`)."""

    name = "n-pitches"
    description = "Number of distinct pitches used per phrase, per track (silent track: 0)."

    def ratio(self, samples: Tensor) -> Ratio:
        return metrics.n_pitches_used(samples, threshold=self.threshold)


class EmptyBeatRate(PianoRollEvaluator):
    """Empty-beat rate per track (:func:`~crossmodal_evaluators.metrics.empty_beat_rate`).

    :param steps_per_beat: time steps per beat.
    """

    name = "empty-beats"
    description = "Empty-beat rate per track: beats without an on-cell / beats (0-1)."

    def __init__(
        self, *, steps_per_beat: int = DEFAULT_STEPS_PER_BEAT, threshold: float = DEFAULT_THRESHOLD
    ) -> None:
        super().__init__(threshold=threshold)
        self.steps_per_beat = steps_per_beat

    def ratio(self, samples: Tensor) -> Ratio:
        return metrics.empty_beat_rate(samples, steps_per_beat=self.steps_per_beat, threshold=self.threshold)


EVALUATORS: tuple[type[PianoRollEvaluator], ...] = (
    EmptyBarRate,
    UsedPitchClasses,
    QualifiedNoteRate,
    TonalDistance,
    PolyphonyRate,
    InScaleRate,
    PitchRange,
    PitchesUsed,
    EmptyBeatRate,
)
"""Every evaluator of this plugin, in the order they are registered and reported."""

