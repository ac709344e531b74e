"""``crossmodal generate``: samples from a trained generator for the given condition files."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import torch

from ..build import load_generator
from ..checkpoint import load_checkpoint, plugin_version_changes
from ..config import resolve_device
from ..errors import DataError
from ..trainer import run_dir_of

__all__ = ["generate"]


@click.command("generate")
@click.option("--checkpoint", required=True, type=click.Path(exists=True), metavar="RUN_OR_FILE",
              help="A run folder (its latest checkpoint) or a checkpoint file.")
@click.option("--condition", "--image", "condition_files", multiple=True, required=True, metavar="FILE",
              help="A condition file, read by the recipe's conditions dataset (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise.")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True,
              help="Samples per condition.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Output folder (default: RUN/generated).")
@click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda")
@click.pass_context
def generate(
    ctx: click.Context,
    checkpoint: str,
    condition_files: tuple[str, ...],
    seed: int,
    samples: int,
    out_dir: str | None,
    device: str,
) -> None:
    """Write SAMPLES samples for each condition file; prints the paths written.

    Files the conditions dataset cannot use are skipped with a one-line reason on stderr.
    """
    from . import plugins_of

    plugins = plugins_of(ctx)
    registry = plugins.registry
    target_device = resolve_device(device)
    document = load_checkpoint(checkpoint)
    generator, spec = load_generator(registry, document, target_device)
    for change in plugin_version_changes(document["plugins"], {p.name: p.version for p in plugins.loaded}):
        click.echo(f"Warning: {change}", err=True)
    writer_spec, conditions_spec = spec.component("writer"), spec.component("conditions")
    if writer_spec is None:
        raise click.ClickException(f"recipe {spec.recipe!r} names no sample writer, so nothing can be written")
    writer = registry.create("writer", writer_spec.name, **writer_spec.options)
    out = Path(out_dir) if out_dir else run_dir_of(Path(document["path"])) / "generated"
    rng = torch.Generator().manual_seed(seed)
    written: list[Path] = []
    with click.progressbar(condition_files, label="generating", file=sys.stderr) as bar:
        for file in bar:
            try:
                data = registry.create("dataset", conditions_spec.name, source=file, **conditions_spec.options)
            except DataError as err:
                click.echo(f"skipped {file}: {err}", err=True)
                continue
            for path, reason in getattr(data, "skipped", ()):
                click.echo(f"skipped {path}: {reason}", err=True)
            if len(data) == 0:
                continue
            if tuple(data.sample_shape) != generator.condition_shape:
                click.echo(
                    f"skipped {file}: read as shape {tuple(data.sample_shape)}, the generator takes "
                    f"{generator.condition_shape}",
                    err=True,
                )
                continue
            conditions = data.batch(torch.arange(len(data))).to(target_device)
            generated = generator.generate(conditions, samples, rng).float().cpu()  # (B, k, *sample_shape)
            stem = Path(file).stem
            for item in range(generated.shape[0]):
                prefix = stem if generated.shape[0] == 1 else f"{stem}-{item}"
                written += writer.write(generated[item], out, prefix)  # the writer numbers samples
    for path in written:
        click.echo(str(path))
    if not written:
        raise click.ClickException("no usable condition file: nothing was generated")
