"""Jukepix's training recipes: one per music dataset of the paper, and the paper's own settings.

``jukepix`` trains on dual piano (right hand / left hand), ``jukepix-strings`` on piano + strings
(GM programs 41-48), ``jukepix-folk`` on melody + chords (Nottingham-style files). They share the
measured best settings (:data:`MUSIC_OPTIONS`, :data:`DEMO_TRAINING`; the lever table in
docs/benchmarks.md, "Time to music", says why each differs from the paper) and the *demo* schedule
that ``crossmodal train --plugin jukepix`` runs on the embedded default data on 2 CPU cores; give
``--steps`` for a longer run.

``jukepix-paper`` is the paper exactly: Table I's networks with no option changed and
:class:`crossmodal.TrainConfig`'s defaults, which are the paper's (batch 64, 100k generator
steps, 50 critic updates per generator update for the first 100 generator updates, then 5).
"""

from __future__ import annotations

import dataclasses

from crossmodal import ComponentSpec, Recipe

from .constants import N_TRACKS, PIANO_PROGRAMS_PAIR, PIANO_STRINGS_PROGRAMS

EVALUATORS = ("eb", "upc", "qn", "td", "polyphony", "pitch-range")
"""Evaluators (from the ``evaluators`` plugin) run during training; EB, UPC and QN are the paper's."""

MUSIC_OPTIONS = {
    "encoder": {"normalize": True},
    "decoder": {"binary_neurons": "deterministic", "steps_per_cell": 6, "pitch_range": (24, 96),
                "pitch_factors": (1, 6, 12)},
    "critic": {"bar_contrast": True},
}
"""Component options of the default recipes, where they differ from Table I: a standardised
painting feature; 0/1 bar generators (straight-through binary neurons) whose cells hold 6 steps
(16th notes), over MIDI pitches 24-95 only; a critic that sees how much the 4 bars differ."""

PAIRING = ComponentSpec("descriptor-pairs", {
    "couplings": [["brightness", "mean-pitch", +1], ["colourfulness", "note-density", +1], ["warmth", "mode", +1]],
    "temperature": 0.5,
})
"""How the default recipes pair paintings with phrases: by rank agreement of the painting and
phrase descriptors (bright <-> high, colourful <-> dense, warm <-> major) at temperature 0.5,
instead of the paper's independent draws (docs/evaluators.md, "Making the condition matter")."""

INFORMATION = ComponentSpec("information", {"weight": 5.0})
"""The generator is rewarded when a head can read the painting's descriptors from its phrase
(:func:`jukepix.information.phrase_information`, registered as ``information``); at
weight 5, because at the default's learning rate weight 1 let the noise take the painting's place
(docs/benchmarks.md, "Learning rate", E35 against E37)."""

DEMO_TRAINING = {
    "steps": 250,
    "batch_size": 32,
    "lr": 6e-4,
    "warmup_generator_steps": 10,
    "critic_updates_warmup": 20,
    "critic_updates": 5,
    "eval_every": 25,
    "eval_samples": 64,
    "sample_every": 100,
    "checkpoint_every": 100,
}
"""Demo schedule on 2 CPU cores: 10 warm-up generator steps with 20 critic updates each, then
240 with 5 (1,400 critic and 250 generator updates at batch 32), Adam at lr 6e-4 for both networks
(the paper's 1e-4 left bars repeating and the noise unused after 250 steps; docs/benchmarks.md,
"Learning rate")."""


def _recipe(
    name: str, mode: str, programs: tuple[int, int], track_names: tuple[str, str], description: str, paper: bool = False
) -> Recipe:
    options = {} if paper else MUSIC_OPTIONS
    return Recipe(
        name=name,
        description=description,
        encoder=ComponentSpec("painting-encoder", options.get("encoder", {})),
        temporal=ComponentSpec("bar-temporal"),
        decoder=ComponentSpec("pianoroll-bar", options.get("decoder", {})),
        n_tracks=N_TRACKS,
        critic=ComponentSpec("phrase-critic", options.get("critic", {})),
        conditions=ComponentSpec("paintings"),
        targets=ComponentSpec("phrases", {"mode": mode}),
        evaluators=EVALUATORS,
        writer=ComponentSpec("pianoroll-midi", {"programs": programs, "track_names": track_names}),
        renderer=ComponentSpec("pianoroll-audio"),
        training={} if paper else DEMO_TRAINING,
        condition_descriptor="painting",
        sample_descriptor="phrase",
        needs=("evaluators",),
        **({} if paper else {"pairing": PAIRING, "generator_losses": (INFORMATION,)}),
    )


VOICE_DECODER = ComponentSpec("voice-bar")
"""The ``jukepix`` recipe's bar decoder: each hand as two monophonic voices on an 8th-note grid
(:class:`jukepix.voices.VoiceBarDecoder`), the shape of a chorale hand (docs/benchmarks.md,
"Time to realism": realism 0.63 against 0.38 for the multi-hot roll after ~500 CPU-seconds)."""

VOICE_TRAINING = {"generator_average": 0.99, "steps": 200}
"""The ``jukepix`` recipe evaluates, writes and ships an exponential moving average of the
generator's weights (decay 0.99): realism 0.62-0.67 from step 125 to 225 where the trained weights
drifted to 0.54-0.57 (docs/benchmarks.md, "Time to realism", E45). Its demo stops after 200
generator steps (1,150 critic updates): five runs of these settings measure about the same realism
at step 250 as at 200 (-0.07 to +0.02) and less at 300 (docs/benchmarks.md, "The demo's length
and training long"); ``--steps`` trains longer."""

HELD_OUT = {"split": "validation"}
"""The ``jukepix`` recipe trains on the ``train`` part of its phrases and measures ``realism``
against the held-out ``validation`` part (whole source files: :func:`jukepix.datasets.split_by_source`)."""


def piano_hands() -> Recipe:
    """Jukepix, dual piano: painting -> 4-bar phrase, right hand + left hand."""
    recipe = _recipe("jukepix", "piano-hands", PIANO_PROGRAMS_PAIR, ("Piano right", "Piano left"), piano_hands.__doc__)
    return dataclasses.replace(
        recipe, decoder=VOICE_DECODER, targets=ComponentSpec("phrases", {"mode": "piano-hands", "split": "train"}),
        validation=HELD_OUT, evaluators=(*EVALUATORS, "realism"), training={**DEMO_TRAINING, **VOICE_TRAINING},
    )


def piano_strings() -> Recipe:
    """Jukepix, dual instrument: painting -> 4-bar phrase, piano + strings (GM 41-48)."""
    return _recipe(
        "jukepix-strings", "piano-strings", PIANO_STRINGS_PROGRAMS, ("Piano", "Strings"), piano_strings.__doc__
    )


def melody_chords() -> Recipe:
    """Jukepix, folk: painting -> 4-bar phrase, melody + chords (Nottingham layout)."""
    return _recipe("jukepix-folk", "melody-chords", PIANO_PROGRAMS_PAIR, ("Melody", "Chords"), melody_chords.__doc__)


def paper() -> Recipe:
    """Jukepix as published: Table I's networks and the paper's training settings, dual piano."""
    return _recipe("jukepix-paper", "piano-hands", PIANO_PROGRAMS_PAIR, ("Piano right", "Piano left"), paper.__doc__,
                   paper=True)
