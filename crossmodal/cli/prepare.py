"""``crossmodal prepare``: the group that plugins fill with data-preparation commands."""

from __future__ import annotations

import click


@click.group()
def prepare() -> None:
    """Turn raw files into datasets for training (subcommands come from plugins)."""
