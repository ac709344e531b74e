"""``crossmodal generate``: samples from a trained generator for the given condition files.

torch and the modules that build, run and write with the generator are imported when the
command runs, so that a plugin calling :func:`add_condition_alias` while ``crossmodal --help``
loads it imports no torch.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import CheckpointError, DataError, OutputError
from ..files import leftover_name, remove_leftovers, shown
from ..skips import report_skipped, skip_line
from ._group import plugins_of, resolved

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["add_condition_alias", "generate"]

_STAGING = "generate"
"""Base name of this run's private folder inside the output folder (``.generate.building-<pid>``)."""


@click.command("generate")
@click.option("--checkpoint", required=True, type=click.Path(exists=True), metavar="RUN_OR_FILE",
              help="A run folder (its latest checkpoint) or a checkpoint file.")
@click.option("--condition", "condition_files", multiple=True, required=True, metavar="FILE",
              help="A condition file, read by the recipe's conditions dataset (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise.")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True,
              help="Samples per condition.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Output folder (default: RUN/generated).")
@click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda",
              help="Where to run the generator (auto: CUDA when available).")
@click.option("--audio", is_flag=True,
              help="Also render each sample to audio with the recipe's sample renderer, under the sample's name.")
@click.pass_context
def generate(
    ctx: click.Context,
    checkpoint: str,
    condition_files: tuple[str, ...],
    seed: int,
    samples: int,
    out_dir: str | None,
    device: str,
    audio: bool,
) -> None:
    """Write SAMPLES samples for each condition file; prints the paths written.

    Files the conditions dataset cannot use are skipped with a one-line reason on stderr.
    Existing files are never overwritten: when a name is taken (an earlier run, or two condition
    files with the same name), the files of that condition are numbered NAME-2, NAME-3... (one
    number for all of them), and a line on stderr says so.

    With --audio, the recipe's sample renderer also renders each sample's files to audio, named
    like them (NAME-0.wav beside NAME-0.mid, say); stderr names the renderer used. A recipe with
    no renderer is an error, before anything is generated.
    """
    import torch

    from ..build import check_options, create_component, load_generator
    from ..checkpoint import load_checkpoint, plugin_version_changes
    from ..config import resolve_device
    from ..interfaces import SampleRenderer
    from ..trainer import run_dir_of

    plugins = plugins_of(ctx)
    registry = plugins.registry
    target_device = resolve_device(device)
    document = load_checkpoint(checkpoint)
    spec_origin = f"checkpoint {shown(document['path'])}"
    writer_spec, conditions_spec = _recorded(document, "writer"), _recorded(document, "conditions")
    if writer_spec is None:
        raise click.ClickException(f"{spec_origin}: its recipe names no sample writer, so nothing can be written")
    if conditions_spec is None:
        raise CheckpointError(f"{spec_origin}: the recorded job names no conditions dataset")
    # every recorded option is checked before anything is built
    check_options(registry, "sample-writer", writer_spec, spec_origin, error=CheckpointError)
    renderer_spec = _renderer_spec(registry, document, spec_origin) if audio else None
    if renderer_spec is not None:
        check_options(registry, "sample-renderer", renderer_spec, spec_origin, error=CheckpointError)
    check_options(registry, "sample-set", conditions_spec, spec_origin, extra=("source",),
                  label=f"conditions dataset {conditions_spec.name!r}", error=CheckpointError)
    generator, spec = load_generator(registry, document, target_device)
    for change in plugin_version_changes(document["plugins"], {p.name: p.version for p in plugins.loaded}):
        click.echo(f"Warning: {change}", err=True)
    writer = create_component(registry, "sample-writer", writer_spec, spec_origin, error=CheckpointError)
    renderer = None
    if renderer_spec is not None:
        renderer = create_component(registry, "sample-renderer", renderer_spec, spec_origin,
                                    expected=SampleRenderer, error=CheckpointError)
        click.echo(f"audio: {shown(str(renderer.engine))}", err=True)
    out = Path(out_dir) if out_dir else run_dir_of(Path(document["path"])) / "generated"
    out.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out, [_STAGING])  # private folders of killed runs
    staging = leftover_name(out / _STAGING, "building")
    rng = torch.Generator().manual_seed(seed)
    written: list[Path] = []
    try:
        with click.progressbar(condition_files, label="generating", file=sys.stderr) as bar:
            for file in bar:
                try:
                    data = create_component(registry, "sample-set", conditions_spec, spec_origin,
                                            label=f"conditions dataset {conditions_spec.name!r}",
                                            error=CheckpointError, source=file)
                except DataError as err:
                    click.echo(skip_line(file, err), err=True)
                    continue
                report_skipped(data, summary=False)
                if len(data) == 0:
                    continue
                if tuple(data.sample_shape) != generator.condition_shape:
                    click.echo(skip_line(file, f"read as shape {tuple(data.sample_shape)}, the generator "
                                               f"takes {generator.condition_shape}"), err=True)
                    continue
                conditions = data.batch(torch.arange(len(data))).to(target_device)
                generated = generator.generate(conditions, samples, rng).float().cpu()  # (B, k, *sample_shape)
                stem = Path(file).stem
                written += _write_new(writer, generated, stem, out, staging, renderer)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for path in written:
        click.echo(shown(path))
    if not written:
        raise click.ClickException("no usable condition file: nothing was generated")


def _recorded(document: dict, role: str):
    from ..build import JobSpec

    try:
        return JobSpec.from_dict(document["job"]).component(role)
    except Exception as err:  # noqa: BLE001 - a malformed job record
        raise CheckpointError(f"checkpoint {shown(document['path'])}: {err}") from err


def _renderer_spec(registry, document: dict, origin: str):
    """The sample renderer for ``--audio``: the one the checkpoint records; for a checkpoint
    written before its recipe named one, the renderer its recipe (registered under the recorded
    name) names now.

    :raises click.ClickException: one line, when neither names a renderer.
    """
    from ..build import get_recipe
    from ..errors import CrossmodalError

    recorded = _recorded(document, "renderer")
    if recorded is not None:
        return recorded
    name = document["job"]["recipe"]  # _recorded has read the job record
    try:
        current = get_recipe(registry, name).renderer
    except CrossmodalError:  # the recipe is not registered now (its plugin left out, say)
        current = None
    if current is None:
        raise click.ClickException(
            f"{origin}: recipe {shown(str(name))!r} names no sample renderer, so --audio cannot render its "
            "samples; generate without --audio (renderers: `crossmodal list-components --kind sample-renderer`)"
        )
    return current


def _write_new(writer, generated: torch.Tensor, stem: str, out: Path, staging: Path, renderer=None) -> list[Path]:
    """Let ``writer`` write one condition's samples into ``staging`` (and ``renderer``, if given,
    render them there), then move them into ``out`` under names that did not exist (one shared
    number when any is taken, audio included; see crossmodal.outputs).

    Neither sees ``out``, so whatever they do, nothing already there is overwritten.
    """
    from ..outputs import claim_new

    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    made: list[Path] = []
    for item in range(generated.shape[0]):
        prefix = stem if generated.shape[0] == 1 else f"{stem}-{item}"
        files = [Path(p) for p in writer.write(generated[item], staging, prefix)]  # the writer numbers samples
        made += files
        if renderer is not None and files:
            sounds = [Path(p) for p in renderer.render(files)]
            if not sounds:
                raise OutputError(
                    f"the sample renderer ({shown(str(renderer.engine))}) rendered none of the files the sample "
                    f"writer wrote for {shown(prefix)} ({', '.join(shown(f.name) for f in files)})"
                )
            made += sounds
    pairs, elsewhere = [], []
    for path in made:
        try:
            relative = path.relative_to(staging)
        except ValueError:  # a writer that wrote outside the folder it was given
            elsewhere.append(path)
            continue
        wanted = out / relative
        wanted.parent.mkdir(parents=True, exist_ok=True)
        pairs.append((path, wanted))
    final = claim_new(pairs)
    if final and final[0] != pairs[0][1]:
        taken = next((wanted for _, wanted in pairs if wanted.exists()), pairs[0][1])  # the first name taken
        suffix = final[0].stem[len(pairs[0][1].stem):]
        click.echo(
            f"note: {shown(taken.name)} already exists in {shown(out)}; this condition's files are "
            f"written with the suffix {suffix} instead ({shown(final[0].name)}...), nothing was overwritten",
            err=True,
        )
    if not made:
        raise OutputError(f"{shown(out)}: the sample writer wrote no file for {shown(stem)}")
    return final + elsewhere


_LONG_OPTION = re.compile(r"^--[a-z][a-z0-9-]*$")


def add_condition_alias(cli: click.Group, alias: str) -> None:
    """Let ``crossmodal generate`` take ``alias`` (e.g. ``"--image"``) as another name of ``--condition``.

    For a plugin's ``crossmodal_register_commands(cli)``, so that its users can name the condition
    in their modality's words; the core itself says "condition". Adding an alias twice is harmless.

    :raises ValueError: ``alias`` is not a long option name (``--word``), or another option of
        ``generate`` already uses it.
    """
    if not _LONG_OPTION.match(alias):
        raise ValueError(f"condition alias {alias!r} is not a long option name such as '--image'")
    command = resolved(cli.commands["generate"])
    condition = next(param for param in command.params if param.name == "condition_files")
    if alias in condition.opts:
        return
    taken = {name for param in command.params for name in (*param.opts, *param.secondary_opts)}
    if alias in taken:
        raise ValueError(f"crossmodal generate already has an option {alias}")
    condition.opts.append(alias)
