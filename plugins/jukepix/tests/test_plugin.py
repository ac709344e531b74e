"""plugin.py registers Jukepix by import paths and lazy commands: they resolve, and say what the code says."""

from __future__ import annotations

import click
import pytest

from crossmodal.cli import LazyCommand
from crossmodal.contract.plugins import load_plugins
from crossmodal.contract.registry import Registry
from jukepix import audio, commands, datasets, descriptors, information, models, pretrained, recipes, voices, writer
from jukepix import plugin

FACTORIES = {
    "painting-encoder": models.PaintingEncoder,
    "bar-temporal": models.BarTemporalSource,
    "pianoroll-bar": models.PianoRollBarDecoder,
    "voice-bar": voices.VoiceBarDecoder,
    "phrase-critic": models.PhraseCritic,
    "paintings": datasets.painting_dataset,
    "phrases": datasets.phrase_dataset,
    "pianoroll-midi": writer.PianoRollWriter,
    "pianoroll-audio": audio.PianoRollRenderer,
    "painting": descriptors.PaintingDescriptor,
    "phrase": descriptors.PhraseDescriptor,
    "information": information.phrase_information,
    "jukepix": recipes.piano_hands,
    "jukepix-strings": recipes.piano_strings,
    "jukepix-folk": recipes.melody_chords,
    "jukepix-paper": recipes.paper,
    "jukepix-default": pretrained.default_model,
}
"""Registry name -> the object its import path must name."""

NETWORKS = ("encoder", "temporal-source", "decoder", "critic")
"""Kinds whose descriptions are written for ``list-components`` rather than taken from the docstring."""


def _summary(factory: object) -> str:
    doc = (factory.__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


@pytest.mark.parametrize("entry", plugin.COMPONENTS, ids=lambda entry: entry[1])
def test_each_path_names_its_factory_and_the_description_is_its_summary(entry):
    kind, name, path, description = entry
    info = Registry().add(kind, name, path, description, plugin="jukepix")
    assert info.factory is FACTORIES[name]
    if kind not in NETWORKS:
        assert description == _summary(FACTORIES[name])


def test_the_plugin_registers_every_entry_by_a_path_that_resolves_with_a_description():
    plugins = load_plugins(strict=True, allow=[], extra=[("jukepix", plugin)])
    registered = {(e.kind, e.name, e.import_path, e.description) for e in plugins.registry.entries()}
    assert set(plugin.COMPONENTS) <= registered
    assert sorted(FACTORIES) == sorted(name for _, name, _, _ in plugin.COMPONENTS)
    for info in plugins.registry.entries():
        assert info.import_path is not None and info.description, info  # nothing imported to load or list
        assert callable(info.factory), info


@pytest.mark.parametrize("name, target, summary", plugin.PREPARE_COMMANDS, ids=lambda value: str(value)[:12])
def test_each_prepare_placeholder_resolves_to_its_command_and_lists_its_summary(name, target, summary):
    placeholder = LazyCommand(name, target, summary)
    real = placeholder.resolve()
    assert real is getattr(commands, name) and real.name == name
    for limit in (30, 45, 60, 200):
        assert placeholder.get_short_help_str(limit) == real.get_short_help_str(limit)


def test_prepare_commands_run_through_their_placeholders():
    from crossmodal.cli import make_cli

    cli = make_cli()
    ctx = click.Context(cli, info_name="crossmodal")
    prepare = cli.get_command(ctx, "prepare")
    assert isinstance(prepare.commands["music"], LazyCommand)
    music = prepare.get_command(click.Context(prepare, info_name="prepare", parent=ctx), "music")
    assert music is commands.music
