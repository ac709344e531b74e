"""``crossmodal export-model``: a checkpoint's generator as a compact model file a plugin can ship."""

from __future__ import annotations

from pathlib import Path

import click

from crossmodal.storage.files import shown

__all__ = ["export_model"]


@click.command("export-model")
@click.option("--checkpoint", required=True, type=click.Path(exists=True), metavar="RUN_OR_FILE",
              help="A run folder (its latest checkpoint) or a checkpoint file.")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="The model file to write (refused when anything has that name).")
def export_model(checkpoint: str, out_file: str) -> None:
    """Write a checkpoint's generator as a model file (float16 weights); prints its SHA-256.

    The averaged generator is taken when the run kept one. The file holds the generator's weights
    and the job record only (no critic, optimiser or random state), loads with
    torch.load(weights_only=True), and is written atomically under exactly --out: a name that is
    taken (a file, a symbolic link even to nothing, or another export's finished file) is refused.
    A plugin ships it by registering a pretrained-model entry with the printed SHA-256
    (docs/plugin-guide.md).
    """
    import torch

    from crossmodal.job.restore import restore
    from crossmodal.storage.checkpoint import load_checkpoint
    from crossmodal.storage.outputs import check_free, write_once
    from crossmodal.storage.model_file import file_sha256, model_document
    from crossmodal.cli._group import plugins_of

    out = Path(out_file)
    check_free(out)  # before the checkpoint is read; write_once refuses a name taken meanwhile
    document = load_checkpoint(checkpoint)
    restore(plugins_of(click.get_current_context()).registry, document)  # the weights build a generator
    out.parent.mkdir(parents=True, exist_ok=True)
    written = write_once(out, lambda file: torch.save(model_document(document), file))
    click.echo(f"{shown(written)}  {written.stat().st_size / 1e6:.1f} MB  sha256 {file_sha256(written)}")
