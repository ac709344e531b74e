"""Hook implementations of the palette plugin: the module the ``palette`` entry point names.

===============  ===================  ==================================================
kind             name                 object
===============  ===================  ==================================================
encoder          palette-encoder      :class:`crossmodal_palette.models.PaletteEncoder`
temporal-source  segment-temporal     :class:`crossmodal_palette.models.SegmentTemporalSource`
decoder          lamp-decoder         :class:`crossmodal_palette.models.LampDecoder`
critic           pattern-critic       :class:`crossmodal_palette.models.PatternCritic`
sample-set       palettes             :func:`crossmodal_palette.data.palettes`
sample-set       light-patterns       :func:`crossmodal_palette.data.patterns`
sample-writer    light-pattern-csv    :class:`crossmodal_palette.writer.PatternWriter`
evaluator        level, flicker,      :data:`crossmodal_palette.evaluators.EVALUATORS`
                 together
descriptor       palette              :class:`crossmodal_palette.descriptors.PaletteDescriptor`
descriptor       light-pattern        :class:`crossmodal_palette.descriptors.PatternDescriptor`
recipe           palette              :func:`crossmodal_palette.recipes.palette`
===============  ===================  ==================================================

Command: ``crossmodal prepare palette-demo OUT``.
"""

from __future__ import annotations

import click

from crossmodal import Register, hookimpl

from . import data, descriptors, evaluators, models, recipes, writer
from .commands import palette_demo

PLUGIN_API_VERSION = 2
"""The crossmodal plugin API version this plugin is written against (``crossmodal.API_VERSION``)."""


@hookimpl
def crossmodal_api_version() -> int:
    """Declare the plugin API version (2)."""
    return PLUGIN_API_VERSION


@hookimpl
def crossmodal_register_components(register: Register) -> None:
    """Register every kind; a class is its own factory (``factory(**options)``)."""
    register("encoder", "palette-encoder", models.PaletteEncoder)
    register("temporal-source", "segment-temporal", models.SegmentTemporalSource)
    register("decoder", "lamp-decoder", models.LampDecoder)
    register("critic", "pattern-critic", models.PatternCritic)
    register("sample-set", "palettes", data.palettes)
    register("sample-set", "light-patterns", data.patterns)
    register("sample-writer", "light-pattern-csv", writer.PatternWriter)
    for evaluator in evaluators.EVALUATORS:
        register("evaluator", evaluator.name, evaluator, evaluator.description)
    register("descriptor", "palette", descriptors.PaletteDescriptor)
    register("descriptor", "light-pattern", descriptors.PatternDescriptor)
    register("recipe", "palette", recipes.palette)


@hookimpl
def crossmodal_register_commands(cli: click.Group) -> None:
    cli.commands["prepare"].add_command(palette_demo)
