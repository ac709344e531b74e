"""Phrase and painting datasets on disk, and the :class:`~crossmodal.SampleSet` views over them.

Public: :class:`PhraseSet`, :class:`PaintingSet`, :func:`pack_phrases`, :func:`write_dataset`,
:func:`load_dataset`, :data:`FORMAT_VERSION`, :data:`PACKED_PHRASE_BYTES`.

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
    category) and ``skipped`` (``[path, reason]`` pairs).

:func:`write_dataset` builds the directory under a temporary name beside the target and renames
it into place only when complete: an interrupted run leaves no half-written dataset and the
previous dataset at the target stays intact until the new one is ready.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from crossmodal.errors import DataError

from .constants import IMAGE_SHAPE, IMAGE_SIZE, PHRASE_SHAPE

__all__ = [
    "FORMAT_VERSION",
    "PACKED_PHRASE_BYTES",
    "PaintingSet",
    "PhraseSet",
    "load_dataset",
    "pack_phrases",
    "skip_summary",
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


def skip_summary(skipped: Skipped) -> dict[str, int]:
    """Count skips by category (the part of each reason before the first colon)."""
    return dict(Counter(reason.split(":", 1)[0] for _, reason in skipped).most_common())


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


def write_dataset(out: str | Path, sample_set: PhraseSet | PaintingSet, options: dict[str, Any]) -> Path:
    """Write ``sample_set`` as a dataset directory at ``out``, atomically.

    :param options: preparation options recorded in ``metadata.json`` (mode, top_k, ...).
    :raises DataError: ``out`` exists and is not a Jukepix dataset (it is never overwritten then).
    :returns: the dataset directory.
    """
    out = Path(out)
    if out.exists() and not (out / "metadata.json").is_file():
        raise DataError(
            f"{out}: exists and is not a Jukepix dataset (no metadata.json); choose another --out"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    kind = "jukepix-phrases" if isinstance(sample_set, PhraseSet) else "jukepix-paintings"
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        np.save(building / "data.npy", np.ascontiguousarray(sample_set.data))
        fields = ["index", *sample_set.manifest[0].keys()] if sample_set.manifest else ["index", "source"]
        with (building / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            for index, row in enumerate(sample_set.manifest):
                writer.writerow({"index": index, **row})
        meta = {
            "format": kind,
            "format_version": FORMAT_VERSION,
            "shape": list(sample_set.sample_shape),
            "count": len(sample_set),
            **options,
            "files_used": len({row["source"] for row in sample_set.manifest}),
            "skip_summary": skip_summary(sample_set.skipped),
            "skipped": [list(pair) for pair in sample_set.skipped],
        }
        (building / "metadata.json").write_text(
            json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        _swap_into_place(building, out)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return out


def _swap_into_place(building: Path, out: Path) -> None:
    """Rename the finished ``building`` directory to ``out``, removing an older ``out`` afterwards."""
    if not out.exists():
        os.replace(building, out)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.replace(out, retired / out.name)
    os.replace(building, out)
    shutil.rmtree(retired, ignore_errors=True)


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
        raise DataError(f"{meta_path}: cannot read dataset metadata ({err})") from err
    kind = meta.get("format")
    if kind not in FORMATS or meta.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{meta_path}: format {kind!r} version {meta.get('format_version')!r} is not a Jukepix "
            f"dataset of version {FORMAT_VERSION}; prepare it again with `crossmodal prepare`"
        )
    try:
        data = np.load(path / "data.npy", mmap_mode="r")
        with (path / "manifest.csv").open(newline="", encoding="utf-8") as handle:
            manifest = [{k: v for k, v in row.items() if k != "index"} for row in csv.DictReader(handle)]
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read data.npy or manifest.csv ({err})") from err
    expected = (PACKED_PHRASE_BYTES,) if kind == "jukepix-phrases" else IMAGE_HWC
    if data.shape[1:] != expected or data.dtype != np.uint8:
        raise DataError(
            f"{path / 'data.npy'}: rows are {data.dtype} {data.shape[1:]}, expected uint8 {expected}"
        )
    skipped = [(p, r) for p, r in meta.get("skipped", [])]
    cls = PhraseSet if kind == "jukepix-phrases" else PaintingSet
    return cls(data, manifest, skipped, meta)
