"""The plugin contract: every hook a crossmodal plugin may implement.

This module is the single reference for plugin authors. It holds no logic: each function below
is an empty, decorated specification. A plugin is a module (or object) exposed through the
``crossmodal`` entry-point group, whose functions carry the same names and are decorated with
:data:`hookimpl`::

    # pyproject.toml of your distribution
    [project.entry-points.crossmodal]
    myplugin = "my_package.plugin"

    # my_package/plugin.py
    from crossmodal import hookimpl

    @hookimpl
    def crossmodal_register_components(register):
        register("encoder", "my-encoder", MyEncoder, "Encodes sketches to 64-d features")

An implementation may take fewer arguments than its spec, never more (pluggy checks this when the
plugin is registered). The core calls the hooks in this order when a command starts:
``crossmodal_api_version`` (when the plugin is loaded), then every ``crossmodal_register_*`` hook
once, then ``crossmodal_register_commands`` while the command line is built. Nothing is loaded at
import time.

Each plugin is imported and its hooks are called on their own: a plugin whose import or hook
raises (``sys.exit()`` included; Ctrl-C still stops the command) is reported as broken, with
nothing it registered kept, and the others load. See ``docs/plugin-guide.md`` for conflicts
between plugins and the load-time report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import click

PROJECT_NAME = "crossmodal"
"""The pluggy project name, which is also the entry-point group plugins are published under."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

RegisterComponent = Callable[..., None]
"""``register(kind, name, factory, description="")``; see :func:`crossmodal_register_components`."""

Register = Callable[..., None]
"""``register(name, factory, description="")``; used by the other registration hooks."""


# -------------------------------------------------------------------------------------------
# Loading
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def crossmodal_api_version() -> int:
    """Declare the crossmodal plugin API version this plugin was written for.

    The call stops at the first non-None result. The core calls it on each plugin alone, right
    after importing it, and refuses a plugin whose major version differs from
    :data:`crossmodal.API_VERSION` (the plugin is then reported as broken, with both versions).

    :returns: the API version, an ``int``.

    For plugin authors: return the value of ``crossmodal.API_VERSION`` you developed against.
    A plugin that does not implement this hook is loaded with a warning in
    ``crossmodal list-components``.
    """


# -------------------------------------------------------------------------------------------
# Registration: called once per command, in the order below, with a ``register`` callback
# -------------------------------------------------------------------------------------------


@hookspec
def crossmodal_register_components(register: RegisterComponent) -> None:
    """Register network components.

    :param register: call ``register(kind, name, factory, description="")`` once per component.
        ``kind`` is one of ``"encoder"``, ``"temporal"``, ``"decoder"``, ``"critic"``;
        ``name`` is short, lower-case and stable (it is written into checkpoints);
        ``factory(**options)`` returns a :class:`crossmodal.Encoder`,
        :class:`crossmodal.TemporalSource`, :class:`crossmodal.Decoder` or
        :class:`crossmodal.Critic`; ``description`` is one line for ``list-components``
        (the factory's docstring summary when omitted).

    Every implementation is called (results are not collected). A name already registered for the
    same kind, by this or another plugin, is an error naming both providers.

    For plugin authors: register classes or small functions; do not build models here.
    """


@hookspec
def crossmodal_register_evaluators(register: Register) -> None:
    """Register evaluators (metrics computed on batches of samples).

    :param register: call ``register(name, factory, description="")``; ``factory()`` returns a
        :class:`crossmodal.Evaluator`.

    Every implementation is called. The trainer runs a recipe's evaluators on generated and real
    samples every ``eval_every`` steps; ``crossmodal evaluate`` runs every evaluator whose
    ``sample_kind`` matches the data.
    """


@hookspec
def crossmodal_register_datasets(register: Register) -> None:
    """Register data sources for conditions and targets.

    :param register: call ``register(name, factory, description="")``. ``factory(source=None,
        **options)`` returns a :class:`crossmodal.SampleSet`. ``source`` is a path (a file, a
        folder of raw files or a prepared dataset) or ``None`` for the plugin's embedded default
        data, which must work on a fresh install without a download. A factory skips unusable
        files and lists them as ``(path, reason)`` pairs in the returned set's ``skipped``
        attribute; it raises :class:`crossmodal.DataError` only when nothing usable is left.

    Every implementation is called.
    """


@hookspec
def crossmodal_register_writers(register: Register) -> None:
    """Register sample writers, which turn generated tensors into files people open.

    :param register: call ``register(name, factory, description="")``; ``factory(**options)``
        returns a :class:`crossmodal.SampleWriter`.

    Every implementation is called. Writers are named by recipes and used by the trainer (samples
    at intervals) and by ``crossmodal generate``.
    """


@hookspec
def crossmodal_register_recipes(register: Register) -> None:
    """Register training recipes.

    :param register: call ``register(name, factory, description="")``; ``factory()`` returns a
        :class:`crossmodal.Recipe`, which names the components, the data, the evaluators, the
        writer, extra loss terms, how conditions and targets are paired, and default
        hyper-parameters.

    Every implementation is called. ``crossmodal train --plugin NAME`` runs the recipe named
    ``NAME`` (``--recipe`` picks another).

    For plugin authors: name your main recipe after your plugin's entry point.
    """


# -------------------------------------------------------------------------------------------
# Command line
# -------------------------------------------------------------------------------------------


@hookspec
def crossmodal_register_commands(cli: "click.Group") -> None:
    """Add commands to the ``crossmodal`` command line.

    :param cli: the top-level :class:`click.Group`. Data-preparation commands belong in its
        ``prepare`` subgroup (``cli.commands["prepare"]``), e.g. ``crossmodal prepare music``.

    Every implementation is called, after registration, each time the command line is built:
    each plugin's alone (through pluggy), in plugin load order. An implementation that raises
    (``sys.exit()`` included), or that replaces or removes a command it did not add (a core
    command such as ``train``, or another plugin's), makes its plugin broken: the commands it
    added are taken back, its registrations are dropped, and the other plugins keep working.

    For plugin authors: add commands under names of your own, data preparation under
    ``prepare``. Commands should raise :class:`crossmodal.CrossmodalError` subclasses (or click
    exceptions) for expected failures; the CLI prints them without a traceback.
    """
