"""``crossmodal generate``: samples from a trained generator for the given condition files.

torch and the modules that build, run and write with the generator are imported when the
command runs, so that a plugin calling :func:`add_condition_alias` while ``crossmodal --help``
loads it imports no torch.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from crossmodal.errors import DataError, RecipeError
from crossmodal.storage.files import check_folder, shown
from crossmodal.storage.skips import skip_line
from crossmodal.cli._group import plugins_of, resolved
from crossmodal.cli._options import generator_source_options

__all__ = ["add_condition_alias", "generate"]


@click.command("generate")
@generator_source_options
@click.option("--condition", "condition_files", multiple=True, required=True, metavar="FILE",
              help="A condition file, read by the recipe's conditions dataset (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise.")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True,
              help="Samples per condition.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Output folder (default: RUN/generated for a checkpoint, ./generated for a model).")
@click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda",
              help="Where to run the generator (auto: CUDA when available).")
@click.option("--render", is_flag=True,
              help="Also render each sample with the recipe's sample renderer into something a person can take in, "
                   "under the sample's name.")
@click.option("--audio", is_flag=True, hidden=True, help="The former name of --render; goes in 0.3.")
@click.pass_context
def generate(
    ctx: click.Context,
    checkpoint: str | None,
    model: str | None,
    condition_files: tuple[str, ...],
    seed: int,
    samples: int,
    out_dir: str | None,
    device: str,
    render: bool,
    audio: bool,
) -> None:
    """Write SAMPLES samples for each condition file; prints the paths written.

    The generator is a trained run's (--checkpoint) or a plugin's pretrained model (--model, or
    the one installed when neither is given), so a fresh installation generates without training.

    Files the conditions dataset cannot use are skipped with a one-line reason on stderr.
    Existing files are never overwritten: when a name is taken (an earlier run, or two condition
    files with the same name), the files of that condition are numbered NAME-2, NAME-3... (one
    number for all of them), and a line on stderr says so.

    With --render, the recipe's sample renderer also renders each sample's files, named like them
    (NAME-0.wav beside NAME-0.mid, say); stderr names the renderer used. A recipe with no
    renderer is an error, before anything is generated.
    """
    from crossmodal.storage.checkpoint import plugin_version_changes
    from crossmodal.generation.session import open_generation

    plugins = plugins_of(ctx)
    if audio:
        click.echo("--audio is now --render; --audio goes in 0.3", err=True)
        render = True
    if checkpoint is not None and model is not None:
        raise click.UsageError("give --checkpoint or --model, not both")
    try:
        generation = open_generation(plugins.registry, checkpoint=checkpoint, model=model, device=device,
                                     render=render)
    except RecipeError as err:
        raise click.ClickException(str(err)) from err
    for change in plugin_version_changes(generation.recorded_plugins, {p.name: p.version for p in plugins.loaded}):
        click.echo(f"Warning: {change}", err=True)
    click.echo(f"generator: {generation.source} (recipe {generation.recipe})", err=True)
    if generation.renderer_engine is not None:
        click.echo(f"renderer: {shown(generation.renderer_engine)}", err=True)
    if out_dir:
        out = Path(out_dir)
    elif generation.run_dir is not None:
        out = generation.run_dir / "generated"
        check_folder(out)  # a run folder's own folder: a link there is refused, never followed
    else:
        out = Path("generated")
    written: list[Path] = []
    with click.progressbar(condition_files, label="generating", file=sys.stderr) as bar:
        for file in bar:
            try:
                written += generation.generate(file, out, samples=samples, seed=seed, render=render,
                                               notify=lambda line: click.echo(line, err=True))
            except DataError as err:
                click.echo(skip_line(file, err), err=True)
    for path in written:
        click.echo(shown(path))
    if not written:
        raise click.ClickException("no usable condition file: nothing was generated")


_LONG_OPTION = re.compile(r"^--[a-z][a-z0-9-]*$")


def add_condition_alias(cli: click.Group, alias: str) -> None:
    """Let ``crossmodal generate`` take ``alias`` (e.g. ``"--image"``) as another name of ``--condition``.

    For a plugin's ``crossmodal_register_commands(cli)``, so that its users can name the condition
    in their modality's words; the core itself says "condition". Adding an alias twice is harmless.

    :raises ValueError: ``alias`` is not a long option name (``--word``), or another option of
        ``generate`` already uses it.
    """
    if not _LONG_OPTION.match(alias):
        raise ValueError(f"condition alias {alias!r} is not a long option name such as '--condition'")
    command = resolved(cli.commands["generate"])
    condition = next(param for param in command.params if param.name == "condition_files")
    if alias in condition.opts:
        return
    taken = {name for param in command.params for name in (*param.opts, *param.secondary_opts)}
    if alias in taken:
        raise ValueError(f"crossmodal generate already has an option {alias}")
    condition.opts.append(alias)
