"""Jukepix's training recipes: one per music dataset of the paper.

``jukepix`` trains on dual piano (right hand / left hand), ``jukepix-strings`` on piano + strings
(GM programs 41-48), ``jukepix-folk`` on melody + chords (Nottingham-style files). The
hyper-parameters below are the *demo* settings that ``crossmodal train --plugin jukepix`` uses
on the embedded default data so that it finishes in about 10 minutes on 2 CPU cores; the paper's
settings (batch 64, 100k generator steps, 50 critic updates per generator update for the first 100
generator updates, then 5) are :class:`crossmodal.TrainConfig`'s defaults, selected with
``--config`` or the command line options (see docs/jukepix.md).
"""

from __future__ import annotations

from crossmodal import ComponentSpec, Recipe

from .constants import N_TRACKS, PIANO_PROGRAMS_PAIR, PIANO_STRINGS_PROGRAMS

EVALUATORS = ("eb", "upc", "qn", "td", "polyphony", "pitch-range")
"""Evaluators (from the ``evaluators`` plugin) run during training; EB, UPC and QN are the paper's."""

DEMO_TRAINING = {
    "steps": 100,
    "batch_size": 16,
    "warmup_generator_steps": 10,
    "critic_updates_warmup": 20,
    "critic_updates": 5,
    "eval_every": 10,
    "eval_samples": 64,
    "sample_every": 50,
    "checkpoint_every": 50,
}
"""Demo schedule on 2 CPU cores: 10 warm-up generator steps with 20 critic updates each, then 90
with 5 (650 critic and 100 generator updates at batch 16)."""


def _recipe(name: str, mode: str, programs: tuple[int, int], track_names: tuple[str, str], description: str) -> Recipe:
    return Recipe(
        name=name,
        description=description,
        encoder=ComponentSpec("painting-encoder"),
        temporal=ComponentSpec("bar-temporal"),
        decoder=ComponentSpec("pianoroll-bar"),
        n_tracks=N_TRACKS,
        critic=ComponentSpec("phrase-critic"),
        conditions=ComponentSpec("paintings"),
        targets=ComponentSpec("phrases", {"mode": mode}),
        evaluators=EVALUATORS,
        writer=ComponentSpec("pianoroll-midi", {"programs": programs, "track_names": track_names}),
        training=DEMO_TRAINING,
    )


def piano_hands() -> Recipe:
    """Jukepix, dual piano: painting -> 4-bar phrase, right hand + left hand."""
    return _recipe("jukepix", "piano-hands", PIANO_PROGRAMS_PAIR, ("Piano right", "Piano left"), piano_hands.__doc__)


def piano_strings() -> Recipe:
    """Jukepix, dual instrument: painting -> 4-bar phrase, piano + strings (GM 41-48)."""
    return _recipe(
        "jukepix-strings", "piano-strings", PIANO_STRINGS_PROGRAMS, ("Piano", "Strings"), piano_strings.__doc__
    )


def melody_chords() -> Recipe:
    """Jukepix, folk: painting -> 4-bar phrase, melody + chords (Nottingham layout)."""
    return _recipe("jukepix-folk", "melody-chords", PIANO_PROGRAMS_PAIR, ("Melody", "Chords"), melody_chords.__doc__)
