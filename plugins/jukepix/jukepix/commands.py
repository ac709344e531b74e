"""``crossmodal prepare music`` and ``crossmodal prepare images``.

Public: :func:`music`, :func:`images`, :func:`add_prepare_commands`.

Thin wrappers over :mod:`jukepix.prepare`: a progress bar and one line per skipped file on
stderr, the summary on stdout, exit status 1 (a :class:`click.ClickException`) only when nothing
usable was produced.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import click

from crossmodal.errors import DataError

from .images import IMAGE_SUFFIXES
from .phrases import SEGMENTATIONS
from .prepare import MIDI_SUFFIXES, collect_files, prepare_images, prepare_music
from .store import PACKED_PHRASE_BYTES, PaintingSet, PhraseSet, skip_summary
from .tracks import TRACK_MODES

__all__ = ["add_prepare_commands", "images", "music"]

SOURCES = click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
OUT = click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Dataset directory to write (replaced atomically if it already holds a dataset).",
)
JOBS = click.option(
    "--jobs", type=click.IntRange(min=1), default=None, help="Worker processes [default: all cores]."
)


def _run_with_progress(
    sources: tuple[Path, ...],
    suffixes: tuple[str, ...],
    label: str,
    prepare: Callable[[Callable[[str], None]], PhraseSet | PaintingSet],
) -> PhraseSet | PaintingSet:
    """Run ``prepare(progress)`` under a stderr progress bar; report skips; map DataError to exit 1."""
    files, _ = collect_files(sources, suffixes)
    try:
        with click.progressbar(length=len(files), label=label, file=sys.stderr) as bar:
            result = prepare(lambda _path: bar.update(1))
    except DataError as err:
        raise click.ClickException(str(err)) from err
    for path, reason in result.skipped:
        click.echo(f"skipped {path}: {reason}", err=True)
    return result


def _summary(result: PhraseSet | PaintingSet, out: Path, what: str) -> None:
    """Print the dataset path, counts and skips by category on stdout."""
    used = len({row["source"] for row in result.manifest})
    click.echo(f"wrote {len(result)} {what} from {used} file(s) to {out}")
    counts = skip_summary(result.skipped)
    click.echo(
        f"skipped {len(result.skipped)} file(s)"
        + (": " + ", ".join(f"{k} {v}" for k, v in counts.items()) if counts else "")
    )


@click.command("music")
@SOURCES
@OUT
@click.option(
    "--mode",
    type=click.Choice(TRACK_MODES),
    default="piano-hands",
    show_default=True,
    help="Which notes go to track 1 and track 2.",
)
@click.option(
    "--segmentation",
    type=click.Choice(SEGMENTATIONS),
    default="bars",
    show_default=True,
    help="bars: consecutive 4-bar windows; structural: 4-bar phrases from novelty boundaries.",
)
@JOBS
def music(sources: tuple[Path, ...], out: Path, mode: str, segmentation: str, jobs: int | None) -> None:
    """Cut MIDI files (or folders of them) into two-track 4-bar phrases of 4/4 music."""
    result = _run_with_progress(
        sources,
        MIDI_SUFFIXES,
        "Reading MIDI",
        lambda progress: prepare_music(sources, out, mode, segmentation, jobs, progress),
    )
    _summary(result, out, f"phrases ({PACKED_PHRASE_BYTES} bytes each)")


@click.command("images")
@SOURCES
@OUT
@click.option(
    "--top-k",
    type=click.IntRange(min=1),
    default=None,
    help="Keep the K paintings with the highest colour variance [default: all].",
)
@JOBS
def images(sources: tuple[Path, ...], out: Path, top_k: int | None, jobs: int | None) -> None:
    """Crop, square and resize paintings (files or folders) to 256x256 RGB."""
    result = _run_with_progress(
        sources,
        IMAGE_SUFFIXES,
        "Reading images",
        lambda progress: prepare_images(sources, out, top_k, jobs, progress),
    )
    _summary(result, out, "paintings")


def add_prepare_commands(prepare_group: click.Group) -> None:
    """Add the ``music`` and ``images`` commands to the core's ``prepare`` group."""
    prepare_group.add_command(music)
    prepare_group.add_command(images)
