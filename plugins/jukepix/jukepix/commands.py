"""``crossmodal prepare music`` and ``crossmodal prepare images``.

Public: :func:`music`, :func:`images`, :func:`add_prepare_commands`.

Thin wrappers over :mod:`jukepix.prepare`: a progress bar and one line per skipped file on
stderr (:func:`crossmodal.storage.skips.report_skipped`), the summary on stdout (skips counted by
:func:`crossmodal.storage.skips.skip_counts`), exit status 1 (a :class:`click.ClickException`, one ``Error:`` line) when
nothing usable was produced, when ``--out`` may not be written (it holds anything but one of our
datasets, or a dataset and ``--force`` is missing) or when writing failed (a full disk).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import click

from crossmodal.errors import CrossmodalError
from crossmodal.storage.files import shown
from crossmodal.storage.skips import report_skipped, skip_counts

from .images import IMAGE_SUFFIXES, MAX_PIXELS
from .phrases import SEGMENTATIONS
from .prepare import MIDI_SUFFIXES, collect_files, prepare_images, prepare_music
from .store import PACKED_PHRASE_BYTES, PaintingSet, PhraseSet, check_target
from .tracks import TRACK_MODES

__all__ = ["add_prepare_commands", "images", "music"]

SOURCES = click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
OUT = click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Dataset directory to write: new or empty (an existing dataset is replaced, atomically, "
    "only with --force; any other folder is refused).",
)
FORCE = click.option(
    "--force",
    is_flag=True,
    default=False,
    help="Replace --out if it already holds a dataset written by this command (never any other folder).",
)
JOBS = click.option(
    "--jobs", type=click.IntRange(min=1), default=None, help="Worker processes [default: all cores]."
)


def _run_with_progress(
    sources: tuple[Path, ...],
    suffixes: tuple[str, ...],
    label: str,
    prepare: Callable[[Callable[[str], None]], PhraseSet | PaintingSet],
    out: Path,
    force: bool,
) -> PhraseSet | PaintingSet:
    """Check ``out``, run ``prepare(progress)`` under a stderr progress bar, report skips; our errors
    become exit 1 with one ``Error:`` line."""
    try:
        check_target(out, force)  # before reading anything: a refused --out costs no time
    except CrossmodalError as err:
        raise click.ClickException(str(err)) from err
    files, _ = collect_files(sources, suffixes)
    try:
        with click.progressbar(length=len(files), label=label, file=sys.stderr) as bar:
            result = prepare(lambda _path: bar.update(1))
    except CrossmodalError as err:
        raise click.ClickException(str(err)) from err
    report_skipped(result, summary=False)  # the summary goes to stdout, with the counts
    return result


def _summary(result: PhraseSet | PaintingSet, out: Path, what: str) -> None:
    """Print the dataset path, counts and skips by category on stdout."""
    used = len({row["source"] for row in result.manifest})
    click.echo(f"wrote {len(result)} {what} from {used} file(s) to {shown(out)}")
    counts = ", ".join(f"{shown(category)} {count}" for category, count in skip_counts(result.skipped).items())
    click.echo(f"skipped {len(result.skipped)} file(s)" + (f": {counts}" if counts else ""))


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
@FORCE
def music(
    sources: tuple[Path, ...], out: Path, mode: str, segmentation: str, jobs: int | None, force: bool
) -> None:
    """Cut MIDI files (or folders of them) into two-track 4-bar phrases of 4/4 music."""
    result = _run_with_progress(
        sources,
        MIDI_SUFFIXES,
        "Reading MIDI",
        lambda progress: prepare_music(sources, out, mode, segmentation, jobs, progress, force=force),
        out,
        force,
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
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=MAX_PIXELS,
    show_default=True,
    help="Skip images whose header claims more pixels (width x height), before decoding them.",
)
@JOBS
@FORCE
def images(
    sources: tuple[Path, ...], out: Path, top_k: int | None, max_pixels: int, jobs: int | None, force: bool
) -> None:
    """Crop, square and resize paintings (files or folders) to 256x256 RGB."""
    result = _run_with_progress(
        sources,
        IMAGE_SUFFIXES,
        "Reading images",
        lambda progress: prepare_images(
            sources, out, top_k, jobs, progress, force=force, max_pixels=max_pixels
        ),
        out,
        force,
    )
    _summary(result, out, "paintings")


def add_prepare_commands(prepare_group: click.Group) -> None:
    """Add the ``music`` and ``images`` commands to the core's ``prepare`` group."""
    prepare_group.add_command(music)
    prepare_group.add_command(images)
