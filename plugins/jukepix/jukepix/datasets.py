"""Sample-set factories for the crossmodal registry (kind ``sample-set``).

Public: :func:`phrase_dataset`, :func:`painting_dataset`.

``source`` may be a prepared dataset directory (it has a ``metadata.json``), one raw file, a folder
of raw files (prepared in memory; unusable files are listed in the result's ``skipped``), or
``None`` for the embedded default of :mod:`jukepix.default_data`.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from crossmodal.errors import DataError
from crossmodal.storage.files import shown

from .default_data import default_painting_set, default_phrase_set
from .images import MAX_PIXELS
from .prepare import build_painting_set, build_phrase_set
from .store import PaintingSet, PhraseSet, load_dataset

__all__ = ["SPLITS", "VALIDATION_ONE_IN", "painting_dataset", "phrase_dataset", "split_by_source"]

SPLITS = ("train", "validation")
"""The parts a phrase set can be split into (the ``split`` option of :func:`phrase_dataset`)."""

VALIDATION_ONE_IN = 5
"""About one source file in this many goes to the validation part (by a hash of its name)."""


def split_by_source(phrases: PhraseSet, split: str) -> PhraseSet:
    """The ``"train"`` or ``"validation"`` part of ``phrases``, split by source file, never by phrase.

    A file's phrases all go to one part: to validation when the CRC-32 of its manifest name is a
    multiple of :data:`VALIDATION_ONE_IN`, so the split depends on the file alone (adding files
    to a folder never moves another file across) and about a fifth of the files are held out.
    A set of two or more files where no name qualifies holds out the one with the smallest CRC-32.
    A single file cannot be split by file: its phrases are split instead, every
    :data:`VALIDATION_ONE_IN`-th held out (so a one-file run still trains and measures, though
    against music of the same piece).

    :raises DataError: ``split`` is not one of :data:`SPLITS`, or the set holds one phrase only.
    """
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if len(phrases) < 2:
        raise DataError(f"{len(phrases)} phrase cannot be split into training and validation music: give more music")
    codes = {name: zlib.crc32(name.encode("utf-8")) for name in {row["source"] for row in phrases.manifest}}
    if len(codes) == 1:  # one file: by phrase
        held = [i % VALIDATION_ONE_IN == VALIDATION_ONE_IN - 1 or i == len(phrases) - 1 < VALIDATION_ONE_IN - 1
                for i in range(len(phrases))]
    else:
        held_out = {name for name, code in codes.items() if code % VALIDATION_ONE_IN == 0}
        held_out = held_out or {min(codes, key=codes.get)}
        held = [row["source"] in held_out for row in phrases.manifest]
    return phrases.subset([i for i, h in enumerate(held) if h == (split == "validation")])


def _prepared(source: Path, expected: type) -> PhraseSet | PaintingSet | None:
    """The dataset at ``source`` if it is a prepared directory of the ``expected`` class, else None.

    :raises DataError: ``source`` does not exist, or is a prepared dataset of the other kind.
    """
    if not source.exists():
        raise DataError(f"{shown(source)}: no such file or folder")
    if not (source / "metadata.json").is_file():
        return None
    dataset = load_dataset(source)
    if not isinstance(dataset, expected):
        raise DataError(f"{shown(source)}: holds a {type(dataset).__name__}, not a {expected.__name__}")
    return dataset


def phrase_dataset(
    source: str | Path | None = None,
    mode: str = "piano-hands",
    segmentation: str = "bars",
    jobs: int | None = None,
    split: str | None = None,
) -> PhraseSet:
    """Two-track 4-bar phrases (float32 ``(4, 96, 128, 2)`` per item) from MIDI, a prepared set or
    the Bach chorales.

    :param mode: ``piano-hands``, ``melody-chords`` or ``piano-strings`` (ignored for a prepared set).
    :param segmentation: ``bars`` or ``structural`` (ignored for a prepared set).
    :param jobs: worker processes when preparing; ``None`` uses every core.
    :param split: ``None`` (every phrase), ``"train"`` or ``"validation"``: the part of
        :func:`split_by_source` (held-out files, for measuring against music the model never saw).
    :raises DataError: nothing usable at ``source`` (the message names it), or a bad split.
    """
    phrases = _phrases(source, mode, segmentation, jobs)
    return phrases if split is None else split_by_source(phrases, split)


def _phrases(source: str | Path | None, mode: str, segmentation: str, jobs: int | None) -> PhraseSet:
    if source is None:
        return default_phrase_set(mode, segmentation, jobs=jobs)
    source = Path(source)
    prepared = _prepared(source, PhraseSet)
    if prepared is not None:
        return prepared
    try:
        return build_phrase_set([source], mode, segmentation, jobs)
    except ValueError as err:
        raise DataError(f"{shown(source)}: {err}") from err


def painting_dataset(
    source: str | Path | None = None,
    top_k: int | None = None,
    jobs: int | None = None,
    max_pixels: int | None = MAX_PIXELS,
) -> PaintingSet:
    """Square 256x256 RGB paintings (float32 ``(3, 256, 256)`` in [0, 1] per item) from images, a
    prepared set or the bundled default pictures.

    :param top_k: keep the ``top_k`` most colourful images (by colour variance); ``None`` keeps all
        (ignored for a prepared set).
    :param jobs: worker processes when preparing; ``None`` uses every core.
    :param max_pixels: skip image files whose header claims more pixels (width x height), before
        decoding them (default :data:`jukepix.images.MAX_PIXELS`, 100 megapixels; ``None``: no
        limit of ours); ignored for a prepared set.
    :raises DataError: nothing usable at ``source`` (the message names it), or a bad option.
    """
    if source is None:
        return default_painting_set(top_k)
    source = Path(source)
    prepared = _prepared(source, PaintingSet)
    if prepared is not None:
        return prepared
    try:
        return build_painting_set([source], top_k, jobs, max_pixels=max_pixels)
    except ValueError as err:
        raise DataError(f"{shown(source)}: {err}") from err
