"""``crossmodal prepare``: the group that plugins fill with data-preparation commands."""

from __future__ import annotations

import click


def make_prepare_group() -> click.Group:
    """A fresh, empty ``prepare`` group (one per command line, so plugins never share one)."""

    @click.group()
    def prepare() -> None:
        """Turn raw files into datasets for training (subcommands come from plugins)."""

    return prepare
