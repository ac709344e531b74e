"""Evaluators: one generic :class:`PianoRollEvaluator`, made concrete per row of :data:`METRIC_TABLE`.

Each evaluator takes samples ``(N, S, T, P, K)`` = (samples, bars, time steps per bar, pitches,
tracks), bool or probabilities (a cell is on when ``> threshold``, 0.5 by default).
:meth:`~PianoRollEvaluator.totals` returns ``{name: (numerator, denominator)}`` summed over the
batch, float64 tensors ``(K,)`` per track, or scalars ``()`` for ``td``; calling the evaluator
divides them (NaN where the denominator is 0). Values are therefore *pooled* over the batch --
UPC averages over every non-empty bar of the batch, QN over every note -- and summing totals over
chunks of a data set gives the exact value of the whole set (``crossmodal.evaluation.sets.evaluate_set``
does that). :meth:`~PianoRollEvaluator.ratio` keeps the per-sample numerators and denominators,
for distributions over samples. Definitions: :mod:`crossmodal_evaluators.metrics` and
``docs/evaluators.md``.

A metric is one row of :data:`METRIC_TABLE`: registry name, batched function, options and a
one-line description. :data:`EVALUATORS` holds one subclass of :class:`PianoRollEvaluator` per
row, generated from it: the class carries the row, its ``name`` and ``description`` (class
attributes, as :class:`crossmodal.Evaluator` wants) and the exact keyword signature of its
options, which the core checks recipe options against.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, ClassVar, NamedTuple

from torch import Tensor

from crossmodal.errors import ShapeError
from crossmodal.contract.interfaces import Evaluator

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

__all__ = ["Option", "Metric", "METRIC_TABLE", "PianoRollEvaluator", "EVALUATORS"]


class Option(NamedTuple):
    """One keyword option of a metric: its ``name``, ``default``, ``unit`` and what it ``means``."""

    name: str
    default: Any
    unit: str
    means: str


class Metric(NamedTuple):
    """One row of :data:`METRIC_TABLE`.

    :param name: registry name, also the key of the metric in :meth:`PianoRollEvaluator.totals`.
    :param function: the batched function of :mod:`~crossmodal_evaluators.metrics`, called as
        ``function(samples, **options)`` and returning a :class:`Ratio` ``(N, K)`` (``(N, pairs)``
        for TD).
    :param options: the function's keyword options, in its order, with their defaults.
    :param description: one line for ``crossmodal list-components``.
    :param per_track: ``True``: totals ``(K,)``, one per track; ``False`` (TD): one scalar ``()``
        pooled over every track pair.
    """

    name: str
    function: Callable[..., Ratio]
    options: tuple[Option, ...]
    description: str
    per_track: bool = True

    @property
    def signature(self) -> inspect.Signature:
        """The evaluator's factory signature: the options, keyword only, with their defaults."""
        return inspect.Signature(
            [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.default) for o in self.options]
        )


# Options that several metrics take.
THRESHOLD = Option("threshold", DEFAULT_THRESHOLD, "cell value", "a cell is on when its value is greater than this")
LOWEST_PITCH = Option("lowest_pitch", DEFAULT_LOWEST_PITCH, "MIDI number", "MIDI number of pitch index 0")
STEPS_PER_BEAT = Option("steps_per_beat", DEFAULT_STEPS_PER_BEAT, "time steps", "time steps per beat (quarter note)")

METRIC_TABLE: tuple[Metric, ...] = (
    Metric(
        "eb", metrics.empty_bar_rate, (THRESHOLD,),
        "Empty-bar ratio per track: bars without an on-cell / bars (0-1).",
    ),
    Metric(
        "upc", metrics.used_pitch_classes, (LOWEST_PITCH, THRESHOLD),
        "Used pitch classes per non-empty bar, per track (0-12).",
    ),
    Metric(
        "qn",
        metrics.qualified_note_rate,
        (
            Option("min_steps", DEFAULT_QUALIFIED_MIN_STEPS, "time steps",
                   "shortest qualified note (3 = a 32nd note at 24 steps per beat)"),
            THRESHOLD,
        ),
        "Qualified-note ratio per track: notes >= 3 steps (a 32nd note) / notes (0-1).",
    ),
    Metric(
        "td",
        metrics.tonal_distance,
        (
            STEPS_PER_BEAT,
            LOWEST_PITCH,
            Option("radii", DEFAULT_TONAL_RADII, "tonal-space radii",
                   "radii (r1, r2, r3) of the fifths, minor-thirds and major-thirds circles"),
            THRESHOLD,
        ),
        "Tonal distance between the tracks (Harte centroid per beat; 0 = same harmony).",
        per_track=False,
    ),
    Metric(
        "polyphony",
        metrics.polyphony_rate,
        (
            Option("min_pitches", DEFAULT_POLYPHONY_MIN_PITCHES, "pitches",
                   "pitches that must sound together for a time step to count as polyphonic"),
            THRESHOLD,
        ),
        "Polyphony rate per track: steps with >= 2 pitches on / steps with >= 1 (0-1).",
    ),
    Metric(
        "in-scale", metrics.in_scale_rate, (LOWEST_PITCH, THRESHOLD),
        "In-scale rate per track: on-cells in the phrase's best-fitting major scale / on-cells.",
    ),
    Metric(
        "pitch-range", metrics.pitch_range, (THRESHOLD,),
        "Pitch range per track: highest - lowest pitch of a phrase, in semitones.",
    ),
    Metric(
        "n-pitches", metrics.n_pitches_used, (THRESHOLD,),
        "Number of distinct pitches used per phrase, per track (silent track: 0).",
    ),
    Metric(
        "empty-beats", metrics.empty_beat_rate, (STEPS_PER_BEAT, THRESHOLD),
        "Empty-beat rate per track: beats without an on-cell / beats (0-1).",
    ),
)
"""Every metric of this plugin, in the order they are registered and reported."""


class PianoRollEvaluator(Evaluator):
    """One :attr:`metric` of :data:`METRIC_TABLE` as a :class:`crossmodal.Evaluator`, reported under :attr:`name`.

    Instantiate the subclasses in :data:`EVALUATORS`, which set :attr:`metric`; they take the
    metric's options as keywords (unknown ones raise ``TypeError``) and keep them in
    :attr:`options`.
    """

    sample_kind: ClassVar[str] = "pianoroll"
    metric: ClassVar[Metric]

    def __init__(self, **options: Any) -> None:
        try:
            bound = self.metric.signature.bind(**options)
        except TypeError as err:
            accepted = ", ".join(option.name for option in self.metric.options)
            raise TypeError(f"evaluator {self.name!r} ({type(self).__name__}): {err}; it accepts: {accepted}") from None
        bound.apply_defaults()
        self.options: dict[str, Any] = dict(bound.arguments)

    def __repr__(self) -> str:
        options = ", ".join(f"{key}={value!r}" for key, value in self.options.items())
        return f"{type(self).__name__}({options})"

    def ratio(self, samples: Tensor) -> Ratio:
        """Numerators and denominators per sample and track, ``(N, K)``; per track pair for TD (see :class:`Ratio`)."""
        return self.metric.function(samples, **self.options)

    def check(self, samples: Tensor) -> None:
        """Raise :class:`ShapeError` (naming this evaluator) unless ``samples`` is a 5-D piano roll."""
        if samples.dim() != 5:
            raise ShapeError(
                f"evaluator {self.name!r} ({type(self).__name__}): samples must have shape "
                f"(samples, bars, time steps, pitches, tracks), got {tuple(samples.shape)}"
            )

    def totals(self, samples: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
        """``{name: (numerator, denominator)}`` summed over the batch: float64 ``(K,)``, or ``()`` for TD.

        TD sums over samples and track pairs: the distances over every beat where a pair sounds
        together, and those beats.
        """
        self.check(samples)
        numerator, denominator = self.ratio(samples)
        if self.metric.per_track:
            return {self.name: (numerator.sum(0), denominator.sum(0))}
        return {self.name: (numerator.sum(), denominator.sum())}


def _evaluator_type(metric: Metric) -> type[PianoRollEvaluator]:
    """The evaluator class of one row, named after its function (``qualified_note_rate`` -> ``QualifiedNoteRate``).

    Its ``__init__`` carries the row's exact keyword signature, so ``inspect.signature(cls)`` (and
    so the core's check of recipe options) sees the metric's options and nothing else.
    """

    def __init__(self: PianoRollEvaluator, **options: Any) -> None:
        PianoRollEvaluator.__init__(self, **options)

    class_name = metric.function.__name__.title().replace("_", "")
    __init__.__qualname__ = f"{class_name}.__init__"
    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    __init__.__signature__ = metric.signature.replace(  # type: ignore[attr-defined]
        parameters=[self_parameter, *metric.signature.parameters.values()]
    )
    options = "".join(f"\n:param {o.name}: {o.means} ({o.unit}; default {o.default!r})." for o in metric.options)
    return type(
        class_name,
        (PianoRollEvaluator,),
        {
            "__doc__": f"{metric.description}\n\nBatched function: "
            f":func:`crossmodal_evaluators.metrics.{metric.function.__name__}`.\n{options}",
            "__init__": __init__,
            "metric": metric,
            "name": metric.name,
            "description": metric.description,
        },
    )


EVALUATORS: tuple[type[PianoRollEvaluator], ...] = tuple(_evaluator_type(metric) for metric in METRIC_TABLE)
"""One evaluator class per row of :data:`METRIC_TABLE`, in its order: the factories ``plugin.py`` registers."""

# each class is also a module attribute under its own name (``EmptyBarRate``...), so that plugin.py
# registers it by import path ("crossmodal_evaluators.evaluators:EmptyBarRate") and pickle finds it
globals().update({evaluator.__name__: evaluator for evaluator in EVALUATORS})
