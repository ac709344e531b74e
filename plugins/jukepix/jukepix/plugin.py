"""Hook implementations of the Jukepix plugin: what it registers, under which names.

:data:`COMPONENTS` lists every entry (kind, name, factory as an import path, description), and
:data:`PREPARE_COMMANDS` the commands ``crossmodal prepare music`` and ``crossmodal prepare images``;
``--image`` becomes another name of ``crossmodal generate --condition``.

Loading the plugin imports none of the modules these name (nor torch), so ``crossmodal --help`` and
``crossmodal list-components`` stay fast: a factory's module is imported when its component is
built or its options are checked, a command's module when the command is run or its help shown.
"""

from __future__ import annotations

import click

from crossmodal import Register, hookimpl
from crossmodal.cli import LazyCommand, add_condition_alias

PLUGIN_API_VERSION = 2
"""The crossmodal plugin API version Jukepix is written against."""

COMPONENTS: tuple[tuple[str, str, str, str], ...] = (
    ("encoder", "painting-encoder", "jukepix.models:PaintingEncoder",
     "Painting encoder: RGB 256x256 in [0, 1] -> 64-d feature (five strided convs, ~0.44 M params)."),
    ("temporal-source", "bar-temporal", "jukepix.models:BarTemporalSource",
     "Temporal source: 32-d noise -> one 64-d vector per bar of a 4-bar phrase (~0.03 M params)."),
    ("decoder", "pianoroll-bar", "jukepix.models:PianoRollBarDecoder",
     "Bar generator: [feature, bar vector] (128) -> one bar of one track, 96 steps x 128 pitches."),
    ("decoder", "voice-bar", "jukepix.voices:VoiceBarDecoder",
     "Voice decoder: [feature, bar vector] -> one bar of one track as 2 monophonic voices on an 8th-note grid."),
    ("critic", "phrase-critic", "jukepix.models:PhraseCritic",
     "Phrase critic: (painting, 4-bar 2-track phrase) -> WGAN score; reduces pitch, time, then bars."),
    ("sample-set", "paintings", "jukepix.datasets:painting_dataset",
     "Square 256x256 RGB paintings (float32 ``(3, 256, 256)`` in [0, 1] per item) from images, a prepared "
     "set or the bundled default pictures."),
    ("sample-set", "phrases", "jukepix.datasets:phrase_dataset",
     "Two-track 4-bar phrases (float32 ``(4, 96, 128, 2)`` per item) from MIDI, a prepared set or the Bach "
     "chorales."),
    ("sample-writer", "pianoroll-midi", "jukepix.writer:PianoRollWriter",
     "Writes each generated phrase as ``{stem}-{i}.mid`` (two tracks) and ``{stem}-{i}.png``."),
    ("sample-renderer", "pianoroll-audio", "jukepix.audio:PianoRollRenderer",
     "Renders each phrase's ``.mid`` file to a ``.wav`` of the same name, with FluidSynth or a built-in synth."),
    ("descriptor", "painting", "jukepix.descriptors:PaintingDescriptor",
     "Painting: brightness (BT.601 luma), colourfulness (Hasler-Suesstrunk), warmth (R - B), edge density (Canny)."),
    ("descriptor", "phrase", "jukepix.descriptors:PhraseDescriptor",
     "Phrase: mean pitch, note density (onsets per bar), mode (major - minor key fit), polyphony."),
    ("loss-term", "information", "jukepix.information:phrase_information",
     "Information term: a head reads the painting's descriptors back from the generated phrase."),
    ("recipe", "jukepix", "jukepix.recipes:piano_hands",
     "Jukepix, dual piano: painting -> 4-bar phrase, right hand + left hand."),
    ("recipe", "jukepix-strings", "jukepix.recipes:piano_strings",
     "Jukepix, dual instrument: painting -> 4-bar phrase, piano + strings (GM 41-48)."),
    ("recipe", "jukepix-folk", "jukepix.recipes:melody_chords",
     "Jukepix, folk: painting -> 4-bar phrase, melody + chords (Nottingham layout)."),
    ("recipe", "jukepix-paper", "jukepix.recipes:paper",
     "Jukepix as published: Table I's networks and the paper's training settings, dual piano."),
    ("pretrained-model", "jukepix-default", "jukepix.pretrained:default_model",
     "Jukepix's default model: the ``jukepix`` recipe, 800 steps on the Bach chorales and the bundled pictures."),
)
"""``(kind, name, import path, description)`` of every entry, as registered. The networks'
descriptions are written for ``list-components``; the others are the summary lines of their
factories' docstrings (tests/test_plugin.py checks both the paths and the summaries)."""

PREPARE_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("music", "jukepix.commands:music",
     "Cut MIDI files (or folders of them) into two-track 4-bar phrases of 4/4 music."),
    ("images", "jukepix.commands:images", "Crop, square and resize paintings (files or folders) to 256x256 RGB."),
)
"""``(name, "module:attribute", summary)`` of the ``crossmodal prepare`` commands: the summary
(the first paragraph of the command's help) is what ``crossmodal prepare --help`` lists."""


@hookimpl
def crossmodal_api_version() -> int:
    """Declare the plugin API version (2)."""
    return PLUGIN_API_VERSION


@hookimpl
def crossmodal_register_components(register: Register) -> None:
    for kind, name, path, description in COMPONENTS:
        register(kind, name, path, description)


@hookimpl
def crossmodal_register_commands(cli: click.Group) -> None:
    prepare = cli.commands["prepare"]
    for name, target, summary in PREPARE_COMMANDS:
        prepare.add_command(LazyCommand(name, target, summary))
    add_condition_alias(cli, "--image")  # crossmodal generate --image my-painting.jpg
