"""The ``crossmodal`` command line: a thin click layer over the core.

Plugins are loaded when a command is resolved (never at import time) and may add commands
through ``crossmodal_register_commands``. The core commands' modules are imported only when the
command is resolved (:class:`LazyCommand`), so ``crossmodal --version`` and ``crossmodal --help``
import no torch; a plugin keeps it so by registering its components by import path and adding its
commands as :class:`LazyCommand` placeholders (``--help`` loads the plugins). Expected errors
(:class:`crossmodal.CrossmodalError`) are printed as one line on stderr with exit code 1;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

from typing import Any, Sequence

import click

from crossmodal.version import __version__
from crossmodal.cli._group import CrossmodalGroup, LazyCommand, LazyGroup

__all__ = ["LazyCommand", "LazyGroup", "add_condition_alias", "make_cli", "main"]

CORE_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("list-components", "crossmodal.cli.list_components:list_components",
     "List registered components, the plugins that provide them, and broken plugins."),
    ("evaluate", "crossmodal.cli.evaluate:evaluate",
     "Compute every metric on SOURCE (a file, a folder of raw files or a prepared dataset), or on "
     "samples of a checkpoint's generator beside its training data (--checkpoint)."),
    ("train", "crossmodal.cli.train:train", "Train a cross-modal GAN with WGAN-GP."),
    ("export-model", "crossmodal.cli.export_model:export_model",
     "Write a checkpoint's generator as a model file (float16 weights); prints its SHA-256."),
    ("generate", "crossmodal.cli.generate:generate",
     "Write SAMPLES samples for each condition file; prints the paths written."),
    ("serve", "crossmodal.cli.serve:serve", "Serve a local web page to try a generator; prints its URL."),
)
"""``(name, "module:attribute", summary)`` of the core commands, whose modules are imported when
the command is resolved; the summary (the first paragraph of the command's help) is what
``crossmodal --help`` lists. tests/test_cli.py checks that it matches the command's own."""


def __getattr__(name: str) -> Any:
    """``add_condition_alias`` lives in :mod:`crossmodal.cli.generate` (imported on first use)."""
    if name == "add_condition_alias":
        from crossmodal.cli.generate import add_condition_alias

        return add_condition_alias
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_prepare_group() -> click.Group:
    """A fresh, empty ``prepare`` group (one per command line, so plugins never share one), which
    plugins fill with data-preparation commands.

    A :class:`LazyGroup`: plugins may add :class:`LazyCommand` placeholders, imported when run
    (``crossmodal prepare --help`` lists their summaries).
    """

    @click.group(cls=LazyGroup)
    def prepare() -> None:
        """Turn raw files into datasets for training (subcommands come from plugins)."""

    return prepare


def make_cli(extra_plugins: Sequence[tuple[str, object]] = ()) -> click.Group:
    """Build a fresh ``crossmodal`` command group (a new one per process or per test).

    :param extra_plugins: ``(name, plugin)`` pairs registered in-process next to the installed
        plugins (for tests and embedding).
    """

    @click.group(
        cls=CrossmodalGroup,
        extra_plugins=extra_plugins,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    @click.version_option(__version__, "--version", prog_name="crossmodal")
    @click.option("--debug", is_flag=True, help="Show tracebacks, and fail on any broken plugin.")
    @click.option(
        "--strict-plugins",
        is_flag=True,
        envvar="CROSSMODAL_STRICT_PLUGINS",
        help="Fail when any plugin cannot be loaded (env: CROSSMODAL_STRICT_PLUGINS=1).",
    )
    def cli(debug: bool, strict_plugins: bool) -> None:
        """crossmodal: train and evaluate cross-modal GANs assembled from plugins.

        Plugins are discovered through the "crossmodal" entry-point group. Set
        CROSSMODAL_LOAD_PLUGINS to a comma-separated list of NAME or DISTRIBUTION:NAME items to
        load only those plugins (an empty value loads none).
        """

    # generate is copied when resolved: plugins may add condition aliases to it
    # (add_condition_alias), and those must stay with this command line
    cli.add_command(make_prepare_group())
    for name, target, summary in CORE_COMMANDS:
        cli.add_command(LazyCommand(name, target, summary, copy=name == "generate"))
    return cli


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``crossmodal`` console script."""
    make_cli().main(args=argv, prog_name="crossmodal")
