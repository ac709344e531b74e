"""Hook implementations of the palette plugin: the module the ``palette`` entry point names.

==========  ===================  ==================================================
kind        name                 object
==========  ===================  ==================================================
encoder     palette-encoder      :class:`crossmodal_palette.models.PaletteEncoder`
temporal    segment-temporal     :class:`crossmodal_palette.models.SegmentTemporalSource`
decoder     lamp-decoder         :class:`crossmodal_palette.models.LampDecoder`
critic      pattern-critic       :class:`crossmodal_palette.models.PatternCritic`
dataset     palettes             :func:`crossmodal_palette.data.palettes`
dataset     light-patterns       :func:`crossmodal_palette.data.patterns`
writer      light-pattern-csv    :class:`crossmodal_palette.writer.PatternWriter`
evaluator   level, flicker,      :data:`crossmodal_palette.evaluators.EVALUATORS`
            together
recipe      palette              :func:`crossmodal_palette.recipes.palette`
==========  ===================  ==================================================

Command: ``crossmodal prepare palette-demo OUT``.
"""

from __future__ import annotations

import click

from crossmodal import Register, RegisterComponent, hookimpl

from . import data, evaluators, models, recipes, writer
from .commands import palette_demo

PLUGIN_API_VERSION = 1
"""The crossmodal plugin API version this plugin is written against (``crossmodal.API_VERSION``)."""


@hookimpl
def crossmodal_api_version() -> int:
    """Declare the plugin API version (1)."""
    return PLUGIN_API_VERSION


@hookimpl
def crossmodal_register_components(register: RegisterComponent) -> None:
    """Register the four networks; a class is its own factory (``factory(**options)``)."""
    register("encoder", "palette-encoder", models.PaletteEncoder)
    register("temporal", "segment-temporal", models.SegmentTemporalSource)
    register("decoder", "lamp-decoder", models.LampDecoder)
    register("critic", "pattern-critic", models.PatternCritic)


@hookimpl
def crossmodal_register_datasets(register: Register) -> None:
    register("palettes", data.palettes)
    register("light-patterns", data.patterns)


@hookimpl
def crossmodal_register_writers(register: Register) -> None:
    register("light-pattern-csv", writer.PatternWriter)


@hookimpl
def crossmodal_register_evaluators(register: Register) -> None:
    for evaluator in evaluators.EVALUATORS:
        register(evaluator.name, evaluator, evaluator.description)


@hookimpl
def crossmodal_register_recipes(register: Register) -> None:
    register("palette", recipes.palette)


@hookimpl
def crossmodal_register_commands(cli: click.Group) -> None:
    cli.commands["prepare"].add_command(palette_demo)
