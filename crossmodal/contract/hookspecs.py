"""The plugin contract: every hook a crossmodal plugin may implement.

This module is the single reference for plugin authors. It holds no logic: each function below
is an empty, decorated specification, and :class:`Register` types the one callback. A plugin is a
module (or object) exposed through the ``crossmodal`` entry-point group, whose functions carry the
same names and are decorated with :data:`hookimpl`::

    # pyproject.toml of your distribution
    [project.entry-points.crossmodal]
    myplugin = "my_package.plugin"

    # my_package/plugin.py
    from crossmodal import API_VERSION, Register, hookimpl

    @hookimpl
    def crossmodal_api_version() -> int:
        return API_VERSION

    @hookimpl
    def crossmodal_register_components(register: Register) -> None:
        register("encoder", "my-encoder", MyEncoder, "Encodes sketches to 64-d features")
        register("sample-set", "sketches", sketch_set)
        # by import path: my_package.models (and torch) is imported only when the decoder is used
        register("decoder", "my-decoder", "my_package.models:MyDecoder", "Draws 64x64 sketches")
        register("loss-term", "stroke-count", "my_package.losses:StrokeCount", "Sketches as sparse as the data")
        register("recipe", "myplugin", my_recipe)

Three hooks, one callback, thirteen kinds. Each kind is named after the interface its factory
returns (:data:`KIND_INTERFACES`). An implementation may take fewer arguments than its spec, never
more; pluggy checks this when the plugin is registered, and ``check_pending()`` then refuses a
``crossmodal_*`` function that matches no spec here (a misspelt or removed hook). The core calls
the hooks in this order when a command starts: ``crossmodal_api_version`` (when the plugin is
loaded), then ``crossmodal_register_components``, then ``crossmodal_register_commands`` while
the command line is built. Nothing is loaded at import time.

Each plugin is imported and its hooks are called on their own: a plugin whose import or hook
raises (``sys.exit()`` included; Ctrl-C still stops the command) is reported as broken, with
nothing it registered kept, and the others load. See ``docs/plugin-guide.md`` for conflicts
between plugins and the load-time report.

.. versionchanged:: 2
    ``crossmodal_register_evaluators``, ``_datasets``, ``_writers`` and ``_recipes`` were removed:
    every kind goes through ``crossmodal_register_components``. The kinds ``temporal``,
    ``dataset`` and ``writer`` became ``temporal-source``, ``sample-set`` and ``sample-writer``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Protocol

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import click

PROJECT_NAME = "crossmodal"
"""The pluggy project name, which is also the entry-point group plugins are published under."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

KIND_INTERFACES = {
    "encoder": "Encoder",
    "temporal-source": "TemporalSource",
    "decoder": "Decoder",
    "critic": "Critic",
    "evaluator": "Evaluator",
    "descriptor": "Descriptor",
    "sample-set": "SampleSet",
    "sample-writer": "SampleWriter",
    "sample-renderer": "SampleRenderer",
    "pairing": "Pairing",
    "loss-term": "torch.nn.Module",
    "recipe": "Recipe",
    "pretrained-model": "PretrainedModel",
}
"""Every kind ``register`` takes -> the ``crossmodal`` class its factory returns, in the order
``crossmodal list-components`` prints them. A kind is its interface's name in lower case, with a
hyphen between words; a ``loss-term``'s factory returns a plain ``torch.nn.Module``."""


class Register(Protocol):
    """The callback :func:`crossmodal_register_components` receives; call it once per entry."""

    def __call__(self, kind: str, name: str, factory: Callable[..., Any] | str, description: str = "") -> None:
        """Register ``factory`` as the entry ``name`` of ``kind``.

        :param kind: one of :data:`KIND_INTERFACES` (``"encoder"``, ``"temporal-source"``,
            ``"decoder"``, ``"critic"``, ``"evaluator"``, ``"descriptor"``, ``"sample-set"``,
            ``"sample-writer"``, ``"sample-renderer"``, ``"pairing"``, ``"loss-term"``, ``"recipe"``,
            ``"pretrained-model"``).
        :param name: short, lower-case and stable (it is written into checkpoints and typed on
            command lines); unique within its kind across all plugins.
        :param factory: a class or function that builds the entry when a recipe is built, not at
            registration. ``factory(**options)`` for networks, sample writers and sample
            renderers (the options of the recipe's :class:`crossmodal.ComponentSpec`);
            ``factory(source=None, **options)``
            for sample sets; ``factory(data, **options)`` for pairings and loss terms (``data``, a
            :class:`crossmodal.TrainingData`, passed by that name); ``factory()`` for evaluators, descriptors, recipes and pretrained
            models (a :class:`crossmodal.storage.model_file.PretrainedModel`). Or its import
            path, ``"package.module:Attribute"`` (entry-point syntax), which the core imports only
            when the entry is built or its options are checked against the factory's signature:
            loading the plugin and listing components then import nothing of it. A path that
            cannot be imported is an error naming the plugin, the entry and the path, raised where
            the entry is used.
        :param description: one line for ``crossmodal list-components``; the summary line of the
            factory's docstring when empty. Give one with an import path: without it the entry
            is listed under its path, since reading the docstring would import the factory.
        """


# -------------------------------------------------------------------------------------------
# Loading: called on each plugin alone, right after it is imported
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def crossmodal_api_version() -> int:
    """Declare the crossmodal plugin API version this plugin was written for.

    The call stops at the first non-None result. The core calls it on each plugin alone, right
    after importing it, and refuses a plugin whose version differs from
    :data:`crossmodal.API_VERSION` (the plugin is then reported as broken, with both versions).

    :returns: the API version, an ``int`` (currently ``2``).

    .. versionchanged:: 2
        API 2 registers every kind through :func:`crossmodal_register_components`.

    For plugin authors: return ``crossmodal.API_VERSION``, or the literal you developed
    against. A plugin that does not implement this hook is loaded, and ``crossmodal
    list-components --json`` shows its ``api_version`` as ``null``.
    """


# -------------------------------------------------------------------------------------------
# Registration: called once per command, after crossmodal_api_version
# -------------------------------------------------------------------------------------------


@hookspec
def crossmodal_register_components(register: Register) -> None:
    """Register everything the plugin provides: networks, data, writers, metrics and recipes.

    :param register: a :class:`Register`; call ``register(kind, name, factory, description="")``
        once per entry. The kinds, and what each ``factory`` returns:

        - ``"encoder"``, ``"temporal-source"``, ``"decoder"``, ``"critic"``:
          ``factory(**options)`` returns a :class:`crossmodal.Encoder`,
          :class:`crossmodal.TemporalSource`, :class:`crossmodal.Decoder` or
          :class:`crossmodal.Critic`;
        - ``"sample-set"``: ``factory(source=None, **options)`` returns a
          :class:`crossmodal.SampleSet`. ``source`` is a path (a file, a folder of raw files or a
          prepared dataset) or ``None`` for the plugin's embedded default data, which must work
          on a fresh install without a download. The factory skips unusable files and lists them
          as ``(path, reason)`` pairs in the set's ``skipped`` attribute; it raises
          :class:`crossmodal.DataError` only when nothing usable is left;
        - ``"sample-writer"``: ``factory(**options)`` returns a :class:`crossmodal.SampleWriter`;
        - ``"sample-renderer"``: ``factory(**options)`` returns a :class:`crossmodal.SampleRenderer`,
          which renders the files a sample writer wrote into something a person can take in
          for ``crossmodal generate --render`` (a recipe names one as its ``renderer``);
        - ``"evaluator"``: ``factory()`` returns a :class:`crossmodal.Evaluator`;
        - ``"descriptor"``: ``factory()`` returns a :class:`crossmodal.Descriptor`, which
          describes conditions or samples by a few named numbers each for ``crossmodal evaluate
          --conditioning`` (a recipe names one for each side);
        - ``"pairing"``: ``factory(data, **options)`` returns a :data:`crossmodal.Pairing`, the
          function ``pairing(n_conditions, n_targets, batch_size, rng) -> (condition_indices,
          target_indices)`` that draws every training batch; ``data`` is the job's
          :class:`crossmodal.TrainingData` (the sample sets and their descriptor values), seen once
          when the job is built. The core registers ``random-pairs`` and ``descriptor-pairs``;
        - ``"loss-term"``: ``factory(data, **options)`` returns a ``torch.nn.Module`` whose
          ``forward(context)`` returns a scalar tensor, added to a generator's or critic's loss
          (see :class:`crossmodal.Recipe`'s ``generator_losses``); its parameters, if any, are
          trained with that side's optimiser and saved in checkpoints. The core takes the
          ``weight`` option (default 1) out of the options before calling the factory;
        - ``"recipe"``: ``factory()`` returns a :class:`crossmodal.Recipe`, which names the
          components, the data, the evaluators, the writer and renderer, extra loss terms, how
          conditions and targets are paired, and default hyper-parameters.

    :returns: ``None``; a returned value makes the plugin broken (call ``register`` instead).

    Every implementation is called (results are not collected), each plugin's alone, while
    plugins load, before any command runs. A call with a kind not listed, an empty name, a factory
    that is neither callable nor an import path (``"package.module:Attribute"``) or a description
    that is not a string, and a ``(kind, name)`` already registered by this or another plugin (the
    message names both providers) make the plugin broken; nothing it registered is kept. An import
    path is imported when the entry is first used, and one that fails is an error at that point
    (:class:`crossmodal.PluginLoadError`, one line naming the plugin, the entry and the path). What
    a factory returns is checked when a recipe is built (:func:`crossmodal.build_job`), with its
    shapes.

    .. versionchanged:: 2
        Takes every kind; ``crossmodal_register_evaluators``, ``_datasets``, ``_writers`` and
        ``_recipes`` were removed, and ``temporal``, ``dataset``, ``writer`` renamed
        ``temporal-source``, ``sample-set``, ``sample-writer``.

    For plugin authors: register classes or small functions; do not build models here. To keep
    ``crossmodal --help`` and ``list-components`` fast, register factories whose modules import
    torch (or anything heavy) by import path, each with a one-line description, and import those
    modules nowhere in your plugin module. Name your
    main recipe after your plugin's entry point: ``crossmodal train --plugin NAME`` runs the recipe
    named ``NAME``. The trainer runs a recipe's evaluators every ``eval_every`` steps and its
    sample writer every ``sample_every`` steps; ``crossmodal evaluate`` runs every evaluator
    whose ``sample_kind`` matches the data, and ``crossmodal generate`` writes with the recorded
    sample writer (and, with ``--render``, renders what it wrote with the recipe's renderer).
    """


# -------------------------------------------------------------------------------------------
# Command line
# -------------------------------------------------------------------------------------------


@hookspec
def crossmodal_register_commands(cli: "click.Group") -> None:
    """Add commands to the ``crossmodal`` command line.

    :param cli: the top-level :class:`click.Group`. Data-preparation commands belong in its
        ``prepare`` subgroup (``cli.commands["prepare"]``), e.g. ``crossmodal prepare <data kind>``.
    :returns: ``None`` (results are not collected).

    Every implementation is called, after registration, each time the command line is built:
    each plugin's alone (through pluggy), in plugin load order. An implementation that raises
    (``sys.exit()`` included), or that replaces or removes a command it did not add (a core
    command such as ``train``, or another plugin's), makes its plugin broken: the commands it
    added are taken back, its registrations are dropped, and the other plugins keep working.

    For plugin authors: add commands under names of your own, data preparation under
    ``prepare``. Commands should raise :class:`crossmodal.CrossmodalError` subclasses (or click
    exceptions) for expected failures; the CLI prints them without a traceback.
    """
