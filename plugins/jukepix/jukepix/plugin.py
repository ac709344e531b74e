"""Hook implementations of the Jukepix plugin: what it registers, under which names.

===============  ====================  ==================================================
kind             name                  object
===============  ====================  ==================================================
encoder          painting-encoder      :class:`jukepix.models.PaintingEncoder`
temporal-source  bar-temporal          :class:`jukepix.models.BarTemporalSource`
decoder          pianoroll-bar         :class:`jukepix.models.PianoRollBarDecoder`
critic           phrase-critic         :class:`jukepix.models.PhraseCritic`
sample-set       paintings             :func:`jukepix.datasets.painting_dataset`
sample-set       phrases               :func:`jukepix.datasets.phrase_dataset`
sample-writer    pianoroll-midi        :class:`jukepix.writer.PianoRollWriter`
recipe           jukepix               :func:`jukepix.recipes.piano_hands`
recipe           jukepix-strings       :func:`jukepix.recipes.piano_strings`
recipe           jukepix-folk          :func:`jukepix.recipes.melody_chords`
===============  ====================  ==================================================

Commands: ``crossmodal prepare music`` and ``crossmodal prepare images``; ``--image`` as another name
of ``crossmodal generate --condition``.
"""

from __future__ import annotations

import click

from crossmodal import Register, hookimpl
from crossmodal.cli import add_condition_alias

from . import datasets, models, recipes, writer
from .commands import add_prepare_commands


PLUGIN_API_VERSION = 2
"""The crossmodal plugin API version Jukepix is written against."""


@hookimpl
def crossmodal_api_version() -> int:
    """Declare the plugin API version (2)."""
    return PLUGIN_API_VERSION


@hookimpl
def crossmodal_register_components(register: Register) -> None:
    register("encoder", "painting-encoder", models.PaintingEncoder,
             "Painting encoder: RGB 256x256 in [0, 1] -> 64-d feature (five strided convs, ~0.44 M params).")
    register("temporal-source", "bar-temporal", models.BarTemporalSource,
             "Temporal source: 32-d noise -> one 64-d vector per bar of a 4-bar phrase (~0.03 M params).")
    register("decoder", "pianoroll-bar", models.PianoRollBarDecoder,
             "Bar generator: [feature, bar vector] (128) -> one bar of one track, 96 steps x 128 pitches.")
    register("critic", "phrase-critic", models.PhraseCritic,
             "Phrase critic: (painting, 4-bar 2-track phrase) -> WGAN score; reduces pitch, time, then bars.")
    register("sample-set", "paintings", datasets.painting_dataset)
    register("sample-set", "phrases", datasets.phrase_dataset)
    register("sample-writer", "pianoroll-midi", writer.PianoRollWriter)
    register("recipe", "jukepix", recipes.piano_hands)
    register("recipe", "jukepix-strings", recipes.piano_strings)
    register("recipe", "jukepix-folk", recipes.melody_chords)


@hookimpl
def crossmodal_register_commands(cli: click.Group) -> None:
    add_prepare_commands(cli.commands["prepare"])
    add_condition_alias(cli, "--image")  # crossmodal generate --image my-painting.jpg
