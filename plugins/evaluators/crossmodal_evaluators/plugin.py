"""Hook implementations of the ``evaluators`` plugin: registers the piano-roll metrics.

Registered names, one per row of :data:`~crossmodal_evaluators.evaluators.METRIC_TABLE` (each a
:class:`~crossmodal_evaluators.evaluators.PianoRollEvaluator` with ``sample_kind = "pianoroll"``):
``eb``, ``upc``, ``qn``, ``td``, ``polyphony``, ``in-scale``, ``pitch-range``, ``n-pitches``,
``empty-beats``; and ``realism`` (:class:`~crossmodal_evaluators.realism.RealismEvaluator`), which
compares a set with held-out real phrases. Definitions: ``docs/evaluators.md``.

Each is registered by import path with its description (:data:`EVALUATORS`), so loading the plugin
imports neither :mod:`~crossmodal_evaluators.evaluators` nor torch; the class is imported when the
evaluator is built or its options are checked.
"""

from __future__ import annotations

from crossmodal import Register, hookimpl

PLUGIN_API_VERSION = 2
"""The crossmodal plugin API version this plugin was written against."""

EVALUATORS: tuple[tuple[str, str, str], ...] = (
    ("eb", "EmptyBarRate", "Empty-bar ratio per track: bars without an on-cell / bars (0-1)."),
    ("upc", "UsedPitchClasses", "Used pitch classes per non-empty bar, per track (0-12)."),
    ("qn", "QualifiedNoteRate", "Qualified-note ratio per track: notes >= 3 steps (a 32nd note) / notes (0-1)."),
    ("td", "TonalDistance", "Tonal distance between the tracks (Harte centroid per beat; 0 = same harmony)."),
    ("polyphony", "PolyphonyRate", "Polyphony rate per track: steps with >= 2 pitches on / steps with >= 1 (0-1)."),
    ("in-scale", "InScaleRate",
     "In-scale rate per track: on-cells in the phrase's best-fitting major scale / on-cells."),
    ("pitch-range", "PitchRange", "Pitch range per track: highest - lowest pitch of a phrase, in semitones."),
    ("n-pitches", "NPitchesUsed", "Number of distinct pitches used per phrase, per track (silent track: 0)."),
    ("empty-beats", "EmptyBeatRate", "Empty-beat rate per track: beats without an on-cell / beats (0-1)."),
)
"""``(registry name, class in crossmodal_evaluators.evaluators, description)`` per row of the metric
table, in its order: the classes' ``name`` and ``description``, written out so that registering them
imports nothing (tests/test_plugin.py checks them against the classes)."""

REALISM_DESCRIPTION = ("Realism: mean overlap of per-phrase feature distributions with held-out real phrases "
                       "(1 = alike), with its real-vs-real ceiling.")
"""The description of the set-comparing ``realism`` evaluator (:class:`~crossmodal_evaluators.realism.RealismEvaluator`)."""


@hookimpl
def crossmodal_api_version() -> int:
    """Declare the plugin API version (2)."""
    return PLUGIN_API_VERSION


@hookimpl
def crossmodal_register_components(register: Register) -> None:
    """Register one evaluator per row of the metric table under its short name, by the class's import path."""
    for name, class_name, description in EVALUATORS:
        register("evaluator", name, f"crossmodal_evaluators.evaluators:{class_name}", description)
    register("evaluator", "realism", "crossmodal_evaluators.realism:RealismEvaluator", REALISM_DESCRIPTION)
