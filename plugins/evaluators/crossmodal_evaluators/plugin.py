"""Hook implementations of the ``evaluators`` plugin: registers the piano-roll metrics.

Registered names, one per row of :data:`~crossmodal_evaluators.evaluators.METRIC_TABLE` (each a
:class:`~crossmodal_evaluators.evaluators.PianoRollEvaluator` with ``sample_kind = "pianoroll"``):
``eb``, ``upc``, ``qn``, ``td``, ``polyphony``, ``in-scale``, ``pitch-range``, ``n-pitches``,
``empty-beats``. Definitions: ``docs/evaluators.md``.
"""

from __future__ import annotations

from crossmodal import Register, hookimpl

from .evaluators import EVALUATORS

PLUGIN_API_VERSION = 2
"""The crossmodal plugin API version this plugin was written against."""


@hookimpl
def crossmodal_api_version() -> int:
    """Declare the plugin API version (2)."""
    return PLUGIN_API_VERSION


@hookimpl
def crossmodal_register_components(register: Register) -> None:
    """Register one evaluator per row of the metric table under its short name; the class is the factory."""
    for evaluator in EVALUATORS:
        register("evaluator", evaluator.name, evaluator, evaluator.description)
