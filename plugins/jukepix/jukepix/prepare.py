"""Batch preparation: many MIDI or image files to a phrase or painting set, in parallel.

Public: :func:`collect_files`, :func:`midi_phrases`, :func:`collect_phrases`,
:func:`build_phrase_set`, :func:`build_painting_set`, :func:`prepare_music`,
:func:`prepare_images`, :func:`notes_to_phrases`, :func:`run_parallel`.

Bad input never stops a run: every file that gives nothing is recorded in the result's
``skipped`` list as ``(path, "<category>: <detail>")``. :class:`~crossmodal.errors.DataError`
is raised only when no file gave anything.
"""

from __future__ import annotations

import heapq
import multiprocessing
import os
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from crossmodal.errors import DataError
from crossmodal.storage.files import shown

from .constants import BARS_PER_PHRASE
from .images import IMAGE_SUFFIXES, MAX_PIXELS, prepare_painting
from .midi_reader import Bar, open_midi, read_midi
from .phrases import SEGMENTATIONS, cut_phrases, notes_to_roll
from .segmentation import structural_windows
from crossmodal.storage.skips import SkipFile
from .store import PaintingSet, PhraseSet, check_target, load_dataset, pack_phrases, write_dataset
from .tracks import TRACK_MODES, assign_tracks
from .written import written_phrases

__all__ = [
    "MIDI_SUFFIXES",
    "START_METHOD",
    "build_painting_set",
    "build_phrase_set",
    "collect_files",
    "collect_phrases",
    "midi_phrases",
    "notes_to_phrases",
    "prepare_images",
    "prepare_music",
    "run_parallel",
]

MIDI_SUFFIXES = (".mid", ".midi")
"""File suffixes (lower case) collected when a folder of MIDI files is given."""

START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
"""How worker processes start. Not "fork": a caller that already runs threads (torch, OpenCV's pool)
can leave locks held in a forked child, which then hangs. The fork server imports this module once
and forks workers from that clean, single-threaded process."""

Progress = Callable[[str], None]
"""Called once per input file when it is done, with the file's path."""

PhraseReader = Callable[[Path, str, str], tuple[np.ndarray, list[int]]]
"""``read(path, mode, segmentation)``: one file's bool phrases ``(n, 4, 96, 128, 2)`` and each
phrase's first bar; raises :class:`~crossmodal.storage.skips.SkipFile` for a file that gives none. A
module-level function, so that worker processes can receive it."""

Skipped = list[tuple[str, str]]
"""``(file, "<category>: <detail>")`` per input file that gave nothing."""


def collect_files(
    sources: Iterable[str | Path], suffixes: Sequence[str]
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand sources into files: a file is taken as is, a folder gives its files with ``suffixes``
    (recursively, sorted by path).

    :returns: the files, and ``(path, reason)`` for sources that do not exist.
    """
    files, missing = [], []
    for source in map(Path, sources):
        if source.is_dir():
            files.extend(sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in suffixes))
        elif source.is_file():
            files.append(source)
        else:
            missing.append((str(source), "unreadable: no such file or folder"))
    return files, missing


def _check_options(mode: str, segmentation: str) -> None:
    """Raise ValueError naming the allowed values when ``mode`` or ``segmentation`` is unknown."""
    if mode not in TRACK_MODES:
        raise ValueError(f"unknown track mode {mode!r}; expected one of {', '.join(TRACK_MODES)}")
    if segmentation not in SEGMENTATIONS:
        raise ValueError(f"unknown segmentation {segmentation!r}; expected one of {', '.join(SEGMENTATIONS)}")


def midi_phrases(path: str | Path, mode: str, segmentation: str) -> tuple[np.ndarray, list[int]]:
    """Read one MIDI file and cut it into phrases.

    A file written by the Jukepix writer (it carries :data:`jukepix.written.PHRASE_MARKER`) is
    read as exactly the phrases written, silent ones included, whatever ``mode`` and
    ``segmentation`` say (see :mod:`jukepix.written`).

    :returns: bool ``(n, 4, 96, 128, 2)`` phrases (bars, steps, pitches, tracks) and each phrase's
        first bar index (0-based, in the file's bar grid).
    :raises SkipFile: the file is unusable or gives no phrase (the reason says why).
    """
    midi = open_midi(path)
    written = written_phrases(midi)
    if written is not None:
        return written, list(range(0, len(written) * BARS_PER_PHRASE, BARS_PER_PHRASE))
    score = read_midi(path, midi)
    if not any(bar.is_four_four for bar in score.bars):
        raise SkipFile("no 4/4 bars", f"none of {len(score.bars)} bars is a complete 4/4 bar")
    first, second = assign_tracks(score, mode)
    return notes_to_phrases(first, second, score.bars, segmentation)


def notes_to_phrases(
    first: np.ndarray, second: np.ndarray, bars: Sequence[Bar], segmentation: str
) -> tuple[np.ndarray, list[int]]:
    """Draw two tracks' notes on a roll and cut it into phrases.

    :param first: int notes ``(n, >=3)`` of track 1 (onset step, offset step, pitch, ...).
    :param second: the same for track 2.
    :param bars: the bar grid in steps.
    :param segmentation: ``"bars"`` or ``"structural"``.
    :returns: bool ``(n, 4, 96, 128, 2)`` phrases and each phrase's first bar index in ``bars``.
    :raises SkipFile: no phrase (category ``"no phrase"``).
    """
    roll = notes_to_roll([first, second], bars[-1].start + bars[-1].length)
    windows = structural_windows if segmentation == "structural" else None
    phrases, firsts = cut_phrases(roll, bars, windows)
    if not len(phrases):
        four_four = sum(bar.is_four_four for bar in bars)
        raise SkipFile(
            "no phrase", f"{four_four} 4/4 bars give no {BARS_PER_PHRASE} consecutive bars with notes"
        )
    return phrases, firsts


def _phrase_worker(
    path: Path, read: PhraseReader, mode: str, segmentation: str
) -> tuple[str, np.ndarray | None, list[int], str]:
    """Read one file in a worker: ``(path, packed phrases or None, first bars, skip reason)``."""
    try:
        phrases, firsts = read(path, mode, segmentation)
    except SkipFile as skip:
        return str(path), None, [], str(skip)
    return str(path), pack_phrases(phrases), firsts, ""


def _image_worker(
    path: Path, max_pixels: int | None = MAX_PIXELS
) -> tuple[str, np.ndarray | None, float, str]:
    """Process one image in a worker: ``(path, uint8 (256, 256, 3) or None, score, skip reason)``."""
    try:
        image, score = prepare_painting(path, max_pixels)
    except SkipFile as skip:
        return str(path), None, 0.0, str(skip)
    return str(path), image, score, ""


def run_parallel(
    worker: Callable, files: list[Path], jobs: int | None, progress: Progress | None = None
) -> Iterator[tuple]:
    """Apply ``worker`` to ``files``, yielding results in input order.

    :param jobs: worker processes (started by :data:`START_METHOD`); 1 runs in this process,
        ``None`` uses every core.
    :param progress: called with each result's first item (the path) as it arrives.
    """
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(files)))
    if jobs == 1:
        results: Iterable[tuple] = map(worker, files)
        pool = None
    else:
        context = multiprocessing.get_context(START_METHOD)
        if START_METHOD == "forkserver":
            context.set_forkserver_preload([__name__])
        pool = context.Pool(jobs)
        results = pool.imap(worker, files, chunksize=1)
    try:
        for result in results:
            if progress is not None:
                progress(result[0])
            yield result
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()


def collect_phrases(
    files: list[Path],
    read: PhraseReader,
    mode: str,
    segmentation: str,
    jobs: int | None = None,
    progress: Progress | None = None,
    source_name: Callable[[str], str] = str,
) -> tuple[list[np.ndarray], list[dict[str, str]], Skipped]:
    """Read ``files`` into phrases with ``read``, in worker processes (:func:`run_parallel`).

    :param source_name: how a file is named in the manifest and in the skips (default: its path).
    :returns: the packed phrases of each file that gave any (uint8 ``(n, PACKED_PHRASE_BYTES)``),
        one manifest row per phrase (``source``, ``first_bar``, ``mode``, ``segmentation``) and
        the files that gave none.
    """
    packed, manifest, skipped = [], [], []
    worker = partial(_phrase_worker, read=read, mode=mode, segmentation=segmentation)
    for path, rows, firsts, reason in run_parallel(worker, files, jobs, progress):
        source = source_name(path)
        if rows is None:
            skipped.append((source, reason))
            continue
        packed.append(rows)
        manifest.extend(
            {"source": source, "first_bar": str(f), "mode": mode, "segmentation": segmentation} for f in firsts
        )
    return packed, manifest, skipped


def build_phrase_set(
    sources: Iterable[str | Path],
    mode: str = "piano-hands",
    segmentation: str = "bars",
    jobs: int | None = None,
    progress: Progress | None = None,
) -> PhraseSet:
    """Read MIDI files (or folders of them) into an in-memory :class:`PhraseSet`.

    :param mode: a track mode of :data:`jukepix.tracks.TRACK_MODES`.
    :param segmentation: ``"bars"`` or ``"structural"``.
    :param jobs: worker processes; ``None`` uses every core.
    :raises DataError: no file gave a phrase (the message lists the first skips).
    :raises ValueError: unknown ``mode`` or ``segmentation``.
    """
    _check_options(mode, segmentation)
    sources = list(sources)
    files, missing = collect_files(sources, MIDI_SUFFIXES)
    packed, manifest, skipped = collect_phrases(files, midi_phrases, mode, segmentation, jobs, progress)
    skipped = missing + skipped
    if not packed:
        raise DataError(_nothing_usable("MIDI", sources, skipped))
    meta = {"mode": mode, "segmentation": segmentation}
    return PhraseSet(np.concatenate(packed), manifest, skipped, meta)


def build_painting_set(
    sources: Iterable[str | Path],
    top_k: int | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
    max_pixels: int | None = MAX_PIXELS,
) -> PaintingSet:
    """Read images (or folders of them) into an in-memory :class:`PaintingSet`.

    :param top_k: keep only the ``top_k`` paintings with the highest colour variance (ties go to
        the earlier file); ``None`` keeps all. Kept paintings stay in input order.
    :param jobs: worker processes; ``None`` uses every core.
    :param max_pixels: skip images whose header claims more pixels (width x height) than this,
        before decoding them (see :data:`jukepix.images.MAX_PIXELS`).
    :raises DataError: no file gave a painting.
    :raises ValueError: ``top_k`` or ``max_pixels`` below 1.
    """
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    if max_pixels is not None and max_pixels < 1:
        raise ValueError(f"max_pixels must be at least 1, got {max_pixels}")
    sources = list(sources)
    files, skipped = collect_files(sources, IMAGE_SUFFIXES)
    kept: list[tuple[float, int, str, np.ndarray]] = []
    worker = partial(_image_worker, max_pixels=max_pixels)
    for order, (path, image, score, reason) in enumerate(run_parallel(worker, files, jobs, progress)):
        if image is None:
            skipped.append((path, reason))
        elif top_k is None or len(kept) < top_k:
            heapq.heappush(kept, (score, -order, path, image))
        else:
            heapq.heappushpop(kept, (score, -order, path, image))
    if not kept:
        raise DataError(_nothing_usable("image", sources, skipped))
    kept.sort(key=lambda item: -item[1])
    images = np.stack([item[3] for item in kept])
    manifest = [{"source": path, "colour_variance": f"{score:.3f}"} for score, _, path, _ in kept]
    return PaintingSet(images, manifest, skipped, {"top_k": top_k})


def _nothing_usable(kind: str, sources: Iterable[str | Path], skipped: Skipped) -> str:
    """The DataError message when a run produced nothing: one line naming each file once.

    One source that is itself the one skipped file gives ``"<file>: <reason>"``; otherwise
    ``"<sources>: nothing usable in N <kind> file(s): <file>: <reason>; ..."`` (first three).
    """
    sources = [str(s) for s in sources]
    named = ", ".join(shown(s) for s in sources) or "(no sources)"
    if not skipped:
        return f"{named}: no {kind} files found"
    if len(skipped) == 1 and len(sources) == 1 and Path(skipped[0][0]) == Path(sources[0]):
        return f"{named}: {shown(skipped[0][1])}"
    listed = "; ".join(f"{shown(path)}: {shown(reason)}" for path, reason in skipped[:3])
    more = f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""
    return f"{named}: nothing usable in {len(skipped)} {kind} file(s): {listed}{more}"


def prepare_music(
    sources: Iterable[str | Path],
    out: str | Path,
    mode: str = "piano-hands",
    segmentation: str = "bars",
    jobs: int | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> PhraseSet:
    """Prepare a phrase dataset directory at ``out`` (written atomically) and open it.

    Arguments as :func:`build_phrase_set`; ``out`` is checked before any file is read.

    :param force: replace an existing dataset at ``out`` (never a folder that is not one).
    :raises DataError: ``out`` may not be written (see :func:`jukepix.store.check_target`).
    :raises OutputError: the dataset could not be written (a full disk...); nothing was replaced.
    :returns: the memory-mapped :class:`PhraseSet` at ``out``.
    """
    check_target(out, force)
    phrase_set = build_phrase_set(sources, mode, segmentation, jobs, progress)
    write_dataset(out, phrase_set, {"mode": mode, "segmentation": segmentation}, force=force)
    return load_dataset(out)


def prepare_images(
    sources: Iterable[str | Path],
    out: str | Path,
    top_k: int | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
    force: bool = False,
    max_pixels: int | None = MAX_PIXELS,
) -> PaintingSet:
    """Prepare a painting dataset directory at ``out`` (written atomically) and open it.

    Arguments as :func:`build_painting_set` and :func:`prepare_music` (``force``); ``out`` is
    checked before any file is read.

    :returns: the memory-mapped :class:`PaintingSet` at ``out``.
    """
    check_target(out, force)
    painting_set = build_painting_set(sources, top_k, jobs, progress, max_pixels)
    write_dataset(out, painting_set, {"top_k": top_k, "max_pixels": max_pixels}, force=force)
    return load_dataset(out)
