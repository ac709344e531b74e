"""Phrase and painting datasets on disk, and the :class:`~crossmodal.SampleSet` views over them.

Public: :class:`PhraseSet`, :class:`PaintingSet`, :func:`pack_phrases`, :func:`write_dataset`,
:func:`check_target`, :func:`dataset_format`, :func:`load_dataset`,
:data:`DATASET_FILES`, :data:`FORMAT_VERSION`, :data:`PACKED_PHRASE_BYTES`.

A dataset is a directory of three files:

``data.npy``
    phrases: uint8 ``(N, PACKED_PHRASE_BYTES)``, each row ``np.packbits`` of one bool phrase
    ``(4, 96, 128, 2)`` flattened in C order (12,288 bytes); paintings: uint8 ``(N, 256, 256, 3)``
    RGB. Opened memory-mapped, so only the rows a batch asks for are read.
``manifest.csv``
    one row per item, in order: ``index`` and the item's origin (phrases: ``source, first_bar,
    mode, segmentation``; paintings: ``source, colour_variance``).
``metadata.json``
    ``format`` (``"jukepix-phrases"`` / ``"jukepix-paintings"``), ``format_version``, ``shape`` of
    one item, ``count``, the preparation options, ``files_used``, ``skip_summary`` (skips per
    category, :func:`crossmodal.storage.skips.skip_counts`) and ``skipped`` (``[path, reason]`` pairs).

:func:`write_dataset` builds the directory under a temporary name beside the target and renames
it into place only when complete: an interrupted run leaves no half-written dataset and the
previous dataset at the target stays intact until the new one is ready. It never deletes what it
did not write: the target must be new, an empty folder, or (with ``force``) a folder holding
exactly a dataset of ours (:func:`check_target`); temporary folders carry the writer's pid and
those of dead processes are removed by the next write to the same target.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch

from crossmodal.errors import DataError, OutputError
from crossmodal.storage.files import (
    atomic_write,
    atomic_write_text,
    fsync_dir,
    leftover_name,
    remove_leftovers,
    shown,
)
from crossmodal.storage.outputs import write_new
from crossmodal.storage.skips import skip_counts

from .constants import IMAGE_SHAPE, IMAGE_SIZE, PHRASE_SHAPE

__all__ = [
    "DATASET_FILES",
    "FORMAT_VERSION",
    "PACKED_PHRASE_BYTES",
    "PaintingSet",
    "PhraseSet",
    "check_target",
    "dataset_format",
    "load_dataset",
    "pack_phrases",
    "write_dataset",
]

FORMAT_VERSION = 2
"""Version of the on-disk layout and roll rules; bumped when a reader could misread an older
directory (2: notes keep their exact length, only re-struck notes get a one-step rest)."""

PHRASE_CELLS = int(np.prod(PHRASE_SHAPE))
"""Cells in one phrase: 4 x 96 x 128 x 2 = 98,304."""

PACKED_PHRASE_BYTES = PHRASE_CELLS // 8
"""Bytes of one bit-packed phrase: 12,288."""

IMAGE_HWC = (IMAGE_SIZE, IMAGE_SIZE, IMAGE_SHAPE[0])
"""Stored painting layout: (height, width, RGB channels), uint8."""

FORMATS = {"jukepix-phrases": "PhraseSet", "jukepix-paintings": "PaintingSet"}

Skipped = list[tuple[str, str]]


def pack_phrases(phrases: np.ndarray) -> np.ndarray:
    """Bit-pack bool phrases ``(n, *PHRASE_SHAPE)`` into uint8 ``(n, PACKED_PHRASE_BYTES)``."""
    return np.packbits(phrases.reshape(len(phrases), PHRASE_CELLS), axis=1)


class _ArraySet:
    """Shared part of the two sample sets: a row array, per-row manifest records and skips."""

    def __init__(
        self, data: np.ndarray, manifest: Sequence[dict[str, str]], skipped: Skipped, meta: dict[str, Any]
    ) -> None:
        if len(data) != len(manifest):
            raise DataError(f"dataset has {len(data)} items but {len(manifest)} manifest rows")
        self.data = data
        self.manifest = list(manifest)
        self.skipped = list(skipped)
        self.meta = dict(meta)

    def __len__(self) -> int:
        return len(self.data)

    def subset(self, indices: Sequence[int]) -> _ArraySet:
        """The items at ``indices`` (in that order) as a set of the same class, in memory; the
        skips and metadata are kept."""
        index = np.asarray(indices, dtype=np.int64)
        return type(self)(self.data[index], [self.manifest[i] for i in index], self.skipped, self.meta)

    def _rows(self, indices: torch.Tensor) -> np.ndarray:
        """The stored rows for a 1-D integer tensor of indices, in that order."""
        index = torch.as_tensor(indices).long().reshape(-1).numpy()
        if len(index) and (index.min() < -len(self) or index.max() >= len(self)):
            raise IndexError(f"index out of range for a dataset of {len(self)} items")
        return self.data[index]


class PhraseSet(_ArraySet):
    """Two-track 4-bar phrases: a :class:`crossmodal.SampleSet` of kind ``"pianoroll"``.

    ``batch(indices)`` unpacks only the requested rows and returns float32
    ``(len(indices), 4, 96, 128, 2)``: (batch, bars, time steps at 24 per beat, MIDI pitch,
    tracks), binarised (0.0 or 1.0). ``skipped`` lists ``(path, reason)`` for every file
    that gave no phrase.
    """

    sample_kind = "pianoroll"
    sample_shape = PHRASE_SHAPE

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        """Float32 ``(n, 4, 96, 128, 2)`` phrases for a LongTensor of ``n`` indices."""
        bits = np.unpackbits(self._rows(indices), axis=1, count=PHRASE_CELLS)
        return torch.from_numpy(bits.reshape(-1, *PHRASE_SHAPE).astype(np.float32))

    def sources(self) -> list[str]:
        """Per phrase: ``"<file> bar <first bar index>"`` (bars counted from 0)."""
        return [f"{row['source']} bar {row['first_bar']}" for row in self.manifest]


class PaintingSet(_ArraySet):
    """Square paintings: a :class:`crossmodal.SampleSet` of kind ``"image"``.

    ``batch(indices)`` returns float32 ``(len(indices), 3, 256, 256)``: RGB, channels first, values
    in [0, 1] (the stored 8-bit levels divided by 255).
    """

    sample_kind = "image"
    sample_shape = IMAGE_SHAPE

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        """Float32 ``(n, 3, 256, 256)`` RGB images in [0, 1] for a LongTensor of ``n`` indices."""
        pixels = torch.from_numpy(np.ascontiguousarray(self._rows(indices)))
        return pixels.permute(0, 3, 1, 2).float().div_(255.0)

    def sources(self) -> list[str]:
        """Per painting: the file it was read from."""
        return [row["source"] for row in self.manifest]

    def write_preview(self, index: int, stem: str | Path) -> Path:
        """Write painting ``index`` as the generator sees it (cropped, 256x256) to ``<stem>.png``,
        or ``<stem>-2.png``... when that name is taken (crossmodal.storage.outputs); returns the path."""
        bgr = np.ascontiguousarray(self._rows(torch.tensor([index]))[0][:, :, ::-1])  # (256, 256, 3) RGB -> BGR
        ok, encoded = cv2.imencode(".png", bgr)
        if not ok:
            raise OutputError(f"{Path(stem).name}.png: OpenCV could not encode the painting")
        return write_new(Path(f"{stem}.png"), lambda file: file.write(encoded.tobytes()))


DATASET_FILES = ("data.npy", "manifest.csv", "metadata.json")
"""The entries of a dataset directory, and the only ones a replaced dataset may hold."""


def dataset_format(path: str | Path) -> str | None:
    """The format name when ``path`` is provably a dataset this project wrote, else ``None``.

    Provably ours: a real folder (not a symbolic link) whose entries are exactly
    :data:`DATASET_FILES`, all regular files, with a ``metadata.json`` naming one of our formats
    and an integer ``format_version`` (any version: an older dataset of ours is still ours).
    """
    path = Path(path)
    try:
        if path.is_symlink() or not path.is_dir():
            return None
        entries = sorted(os.listdir(path))
        if entries != sorted(DATASET_FILES):
            return None
        if any((path / name).is_symlink() or not (path / name).is_file() for name in entries):
            return None
        meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("format") not in FORMATS:
        return None
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        return None
    return meta["format"]


def check_target(out: str | Path, force: bool = False) -> None:
    """Refuse an ``out`` that :func:`write_dataset` must not replace; call it before long work.

    Allowed: a path that does not exist, an existing empty folder, and (only with ``force``) a
    folder that :func:`dataset_format` recognises as one of our datasets.

    :raises DataError: anything else (one line naming the folder and what to do).
    """
    out = Path(out)
    name = shown(out)
    if out.is_symlink():
        raise DataError(f"{name}: is a symbolic link; give the folder itself or a new folder as --out")
    if not out.exists():
        return
    if not out.is_dir():
        raise DataError(f"{name}: exists and is not a folder; choose another --out")
    try:
        empty = _is_empty(out)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise DataError(f"{name}: cannot be listed ({reason}); choose another --out") from err
    if empty:
        return
    kind = dataset_format(out)
    if kind is None:
        raise DataError(
            f"{name}: exists and is not a Jukepix dataset (it holds other files); nothing was changed: "
            "choose a new or empty folder as --out"
        )
    if not force:
        raise DataError(
            f"{name}: already holds a {kind} dataset; add --force to replace it, or choose another --out"
        )


def write_dataset(
    out: str | Path, sample_set: PhraseSet | PaintingSet, options: dict[str, Any], force: bool = False
) -> Path:
    """Write ``sample_set`` as a dataset directory at ``out``, atomically.

    The dataset is built in ``.<name>.building-<pid>-<unique>`` beside ``out`` (files fsynced),
    then swapped into place in one step; a replaced dataset is deleted only afterwards, file by
    known file. Leftover ``.<name>.building-*`` / ``.<name>.old-*`` folders of processes that no
    longer run are deleted first.

    :param options: preparation options recorded in ``metadata.json`` (mode, top_k, ...).
    :param force: replace an existing dataset of ours (never anything else; see :func:`check_target`).
    :raises DataError: ``out`` may not be replaced (see :func:`check_target`); nothing is changed.
    :raises OutputError: writing failed (a full disk...); ``out`` is unchanged, nothing is left behind.
    :returns: the dataset directory.
    """
    out = Path(out)
    if not out.name or out.name in (".", ".."):
        out = Path(os.path.abspath(out))
    check_target(out, force)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{shown(out.parent)}: cannot create the folder ({err.strerror or err})") from err
    remove_leftovers(out.parent, [out.name])
    kind = "jukepix-phrases" if isinstance(sample_set, PhraseSet) else "jukepix-paintings"
    meta = {
        "format": kind,
        "format_version": FORMAT_VERSION,
        "shape": list(sample_set.sample_shape),
        "count": len(sample_set),
        **options,
        "files_used": len({row["source"] for row in sample_set.manifest}),
        "skip_summary": skip_counts(sample_set.skipped),
        "skipped": [list(pair) for pair in sample_set.skipped],
    }
    building = _new_sibling(out, "building")
    swapped = False
    try:
        data = np.ascontiguousarray(sample_set.data)
        atomic_write(building / "data.npy", lambda handle: np.save(handle, data))
        atomic_write_text(building / "manifest.csv", _manifest_text(sample_set.manifest))
        atomic_write_text(building / "metadata.json", json.dumps(meta, indent=2, ensure_ascii=False))
        fsync_dir(building)
        check_target(out, force)  # again: the folder may have changed while this one was built
        retired = _swap_into_place(building, out)
        swapped = True
    except OSError as err:  # OutputError from atomic_write, or a failed rename
        cause = err.__cause__ if isinstance(err, OutputError) and err.__cause__ is not None else err
        raise OutputError(
            f"{shown(out)}: the dataset could not be written ({_one_line(cause)}); nothing was replaced"
        ) from err
    finally:
        if not swapped:
            shutil.rmtree(building, ignore_errors=True)
    if retired is not None:
        _delete_dataset(retired, out)
    return out


def _new_sibling(out: Path, kind: str) -> Path:
    """Create the empty folder ``.<name>.<kind>-<pid>-<unique>`` beside ``out`` (a leftover name).

    :raises OutputError: it cannot be created (no permission, a full disk...).
    """
    base = leftover_name(out, kind).name
    for _ in range(100):
        candidate = out.with_name(f"{base}-{secrets.token_hex(4)}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        except OSError as err:
            raise OutputError(
                f"{shown(out)}: cannot create a folder beside it ({err.strerror or err}); nothing was written"
            ) from err
        return candidate
    raise OutputError(f"{shown(out)}: cannot find a free temporary name beside it")


def _is_empty(folder: Path) -> bool:
    """True for a folder without entries."""
    with os.scandir(folder) as entries:
        return next(entries, None) is None


def _manifest_text(manifest: Sequence[dict[str, str]]) -> str:
    """``manifest.csv``: a header, then one ``index,...`` row per item."""
    fields = ["index", *manifest[0].keys()] if manifest else ["index", "source"]
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    for index, row in enumerate(manifest):
        writer.writerow({"index": index, **row})
    return text.getvalue()


_RENAME_EXCHANGE = 2
"""``renameat2`` flag: swap two existing paths in one step (Linux 3.15+, glibc 2.28+)."""


def _exchange(first: Path, second: Path) -> bool:
    """Atomically swap two existing folders; ``False`` where the platform cannot (nothing moved).

    :raises OSError: the swap is supported but failed.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def _swap_into_place(building: Path, out: Path) -> Path | None:
    """Put the finished ``building`` folder at ``out``.

    A missing or empty ``out`` is replaced by one rename (which fails if anything appeared in
    it). An existing dataset is swapped with ``building`` in one step where the platform allows
    it (Linux ``renameat2``), else moved aside to ``.<name>.old-<pid>-*`` and replaced.

    :returns: the folder now holding the replaced dataset, or ``None``.
    """
    if not out.exists() or _is_empty(out):
        os.replace(building, out)
        fsync_dir(out.parent)
        return None
    if _exchange(building, out):
        retired = building
    else:
        retired = _new_sibling(out, "old")
        os.replace(out, retired)  # onto the empty folder just made
        try:
            os.replace(building, out)
        except OSError:
            os.replace(retired, out)  # put the old dataset back
            raise
    fsync_dir(out.parent)
    return retired


def _delete_dataset(retired: Path, out: Path) -> None:
    """Delete a replaced dataset folder: only its own files, then the folder if that empties it.

    Anything else found in it (put there while the new dataset was being built) is kept: the
    folder is renamed to ``<name>.replaced-<pid>`` beside ``out`` instead, never deleted.
    """
    for name in DATASET_FILES:
        path = retired / name
        if path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
    try:
        os.rmdir(retired)
    except OSError:
        try:
            os.replace(retired, out.with_name(f"{out.name}.replaced-{os.getpid()}"))
        except OSError:
            pass  # left under its temporary name


def load_dataset(path: str | Path) -> PhraseSet | PaintingSet:
    """Open a dataset directory written by :func:`write_dataset`; ``data.npy`` is memory-mapped.

    :raises DataError: the directory is missing, incomplete, of another format or version, or
        its files disagree (the message names the file).
    """
    path = Path(path)
    meta_path = path / "metadata.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"{shown(meta_path)}: cannot read dataset metadata ({_one_line(err)})") from err
    kind = meta.get("format")
    if kind not in FORMATS or meta.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{shown(meta_path)}: format {kind!r} version {meta.get('format_version')!r} is not a Jukepix "
            f"dataset of version {FORMAT_VERSION}; prepare it again with `crossmodal prepare`"
        )
    try:
        data = np.load(path / "data.npy", mmap_mode="r")
        with (path / "manifest.csv").open(newline="", encoding="utf-8") as handle:
            manifest = [{k: v for k, v in row.items() if k != "index"} for row in csv.DictReader(handle)]
    except (OSError, ValueError) as err:
        raise DataError(f"{shown(path)}: cannot read data.npy or manifest.csv ({_one_line(err)})") from err
    expected = (PACKED_PHRASE_BYTES,) if kind == "jukepix-phrases" else IMAGE_HWC
    if data.shape[1:] != expected or data.dtype != np.uint8:
        raise DataError(
            f"{shown(path / 'data.npy')}: rows are {data.dtype} {data.shape[1:]}, expected uint8 {expected}"
        )
    skipped = [(p, r) for p, r in meta.get("skipped", [])]
    cls = PhraseSet if kind == "jukepix-phrases" else PaintingSet
    try:
        return cls(data, manifest, skipped, meta)
    except DataError as err:
        raise DataError(f"{shown(path)}: {err}") from err


def _one_line(err: BaseException) -> str:
    """An exception's message without the file name it may carry, on one line."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return shown(str(err).strip().replace("\n", " ")) or type(err).__name__
