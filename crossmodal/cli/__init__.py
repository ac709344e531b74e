"""The ``crossmodal`` command line: a thin click layer over the core.

Plugins are loaded when a command is resolved (never at import time) and may add commands
through ``crossmodal_register_commands``. Expected errors (:class:`crossmodal.CrossmodalError`)
are printed as one line on stderr with exit code 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import copy
from typing import Sequence

import click

from ..version import __version__
from ._group import CrossmodalGroup
from .evaluate import evaluate
from .generate import add_condition_alias, generate
from .list_components import list_components
from .prepare import make_prepare_group
from .train import train

__all__ = ["add_condition_alias", "make_cli", "main"]


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

    # generate is copied: plugins may add condition aliases to it (add_condition_alias), and
    # those must stay with this command line
    for command in (list_components, make_prepare_group(), evaluate, train, copy.deepcopy(generate)):
        cli.add_command(command)
    return cli


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``crossmodal`` console script."""
    make_cli().main(args=argv, prog_name="crossmodal")
