"""``crossmodal prepare``: the group that plugins fill with data-preparation commands."""

from __future__ import annotations

import click

from crossmodal.cli._group import LazyGroup


def make_prepare_group() -> click.Group:
    """A fresh, empty ``prepare`` group (one per command line, so plugins never share one).

    A :class:`~crossmodal.cli.LazyGroup`: plugins may add :class:`~crossmodal.cli.LazyCommand`
    placeholders, imported when run (``crossmodal prepare --help`` lists their summaries).
    """

    @click.group(cls=LazyGroup)
    def prepare() -> None:
        """Turn raw files into datasets for training (subcommands come from plugins)."""

    return prepare
