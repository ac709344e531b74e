"""The phrases dataset's held-out split: by source file, stable, never empty without a word."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch

from crossmodal.errors import DataError
from jukepix.datasets import VALIDATION_ONE_IN, split_by_source
from jukepix.store import PhraseSet, pack_phrases


def phrases_from(sources: list[str]) -> PhraseSet:
    """One phrase per entry of ``sources``, phrase i holding one note (bar i mod 4, pitch 40 + i mod 80) to tell them apart."""
    rolls = np.zeros((len(sources), 4, 96, 128, 2), dtype=bool)
    for index in range(len(sources)):
        rolls[index, index % 4, :24, 40 + index % 80, 0] = True
    manifest = [{"source": s, "first_bar": str(i), "mode": "piano-hands", "segmentation": "bars"}
                for i, s in enumerate(sources)]
    return PhraseSet(pack_phrases(rolls), manifest, [], {})


def held_out(name: str) -> bool:
    return zlib.crc32(name.encode("utf-8")) % VALIDATION_ONE_IN == 0


def test_every_phrase_of_a_file_goes_to_one_part_decided_by_its_name():
    names = [f"piece-{i}.mid" for i in range(40)]
    sources = [name for name in names for _ in range(3)]  # three phrases per file
    data = phrases_from(sources)
    train, validation = split_by_source(data, "train"), split_by_source(data, "validation")
    assert len(train) + len(validation) == len(data)
    assert {r["source"] for r in validation.manifest} == {n for n in names if held_out(n)}
    assert {r["source"] for r in train.manifest} == {n for n in names if not held_out(n)}
    index = [i for i, s in enumerate(sources) if held_out(s)]  # the phrases themselves, in order
    assert torch.equal(validation.batch(torch.arange(len(validation))), data.batch(torch.tensor(index)))


def test_adding_files_moves_no_file_across():
    names = [f"piece-{i}.mid" for i in range(40)]
    before = split_by_source(phrases_from(names), "validation")
    after = split_by_source(phrases_from(names + [f"new-{i}.mid" for i in range(25)]), "validation")
    assert {r["source"] for r in before.manifest} <= {r["source"] for r in after.manifest}


def test_a_small_set_holds_out_one_file_and_a_single_file_is_split_by_phrase():
    names = [n for n in (f"piece-{i}.mid" for i in range(20)) if not held_out(n)][:3]
    validation = split_by_source(phrases_from(names), "validation")
    smallest = min(names, key=lambda n: zlib.crc32(n.encode("utf-8")))
    assert {r["source"] for r in validation.manifest} == {smallest}
    assert {r["source"] for r in split_by_source(phrases_from(names), "train").manifest} == set(names) - {smallest}
    one_file = phrases_from(["only.mid"] * 12)  # one file: every fifth phrase is held out
    assert [int(r["first_bar"]) for r in split_by_source(one_file, "validation").manifest] == [4, 9]
    assert len(split_by_source(one_file, "train")) == 10
    assert [int(r["first_bar"]) for r in split_by_source(phrases_from(["only.mid"] * 3), "validation").manifest] == [2]
    with pytest.raises(DataError, match="1 phrase cannot be split"):
        split_by_source(phrases_from(["only.mid"]), "train")
    with pytest.raises(DataError, match="split must be one of train, validation"):
        split_by_source(phrases_from(names), "test")
