"""``crossmodal prepare palette-demo``: write the synthetic data as CSV files to train from."""

from __future__ import annotations

from pathlib import Path

import click

from .data import synthetic_palettes, synthetic_patterns, write_csv


@click.command("palette-demo")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--n-items", default=256, show_default=True, help="Palettes and patterns to write.")
@click.option("--seed", default=0, show_default=True, help="Seed of the palettes (the patterns use seed + 1).")
def palette_demo(out: Path, n_items: int, seed: int) -> None:
    """Write OUT/palettes.csv and OUT/patterns.csv (synthetic data in the CSV format)."""
    if n_items < 1:
        raise click.BadParameter("must be at least 1", param_hint="--n-items")
    for path in (
        write_csv(synthetic_palettes(n_items, seed), out / "palettes.csv"),
        write_csv(synthetic_patterns(n_items, seed + 1), out / "patterns.csv"),
    ):
        click.echo(path)
