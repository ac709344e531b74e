"""Bit-packed phrase storage, painting storage, atomic writes and lazy batches."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from crossmodal.errors import DataError
from crossmodal.contract.interfaces import SampleSet
from jukepix.constants import IMAGE_SHAPE, IMAGE_SIZE, PHRASE_SHAPE
from jukepix.store import (
    PACKED_PHRASE_BYTES,
    PaintingSet,
    PhraseSet,
    check_target,
    dataset_format,
    load_dataset,
    pack_phrases,
    write_dataset,
)


def random_phrases(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *PHRASE_SHAPE)) < 0.05


def phrase_set(phrases: np.ndarray, skipped=()) -> PhraseSet:
    manifest = [
        {"source": f"f{i}.mid", "first_bar": str(4 * i), "mode": "piano-hands", "segmentation": "bars"}
        for i in range(len(phrases))
    ]
    return PhraseSet(pack_phrases(phrases), manifest, list(skipped), {})


def test_packed_phrase_is_12288_bytes_and_round_trips(tmp_path):
    phrases = random_phrases(5)
    assert pack_phrases(phrases).shape == (5, PACKED_PHRASE_BYTES) == (5, 12288)
    written = write_dataset(
        tmp_path / "ds", phrase_set(phrases, [("bad.mid", "no notes: empty")]), {"mode": "piano-hands"}
    )
    loaded = load_dataset(written)
    assert isinstance(loaded, PhraseSet) and isinstance(loaded, SampleSet)
    assert isinstance(loaded.data, np.memmap)  # lazy: rows are read when a batch asks for them
    assert loaded.sample_kind == "pianoroll" and loaded.sample_shape == PHRASE_SHAPE
    batch = loaded.batch(torch.tensor([3, 0, 3]))
    assert batch.dtype == torch.float32 and batch.shape == (3, *PHRASE_SHAPE)
    assert torch.equal(batch, torch.from_numpy(phrases[[3, 0, 3]]).float())
    assert loaded.sources()[3] == "f3.mid bar 12"
    assert loaded.skipped == [("bad.mid", "no notes: empty")]
    meta = json.loads((written / "metadata.json").read_text())
    assert (
        meta["count"] == 5 and meta["shape"] == list(PHRASE_SHAPE) and meta["skip_summary"] == {"no notes": 1}
    )
    assert (written / "data.npy").stat().st_size < 5 * PACKED_PHRASE_BYTES + 256


def test_painting_set_round_trips_as_chw_floats(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, (2, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    paintings = PaintingSet(
        pixels,
        [{"source": "a.jpg", "colour_variance": "1.0"}, {"source": "b.png", "colour_variance": "2.0"}],
        [],
        {},
    )
    loaded = load_dataset(write_dataset(tmp_path / "imgs", paintings, {"top_k": None}))
    assert isinstance(loaded, PaintingSet) and loaded.sample_shape == IMAGE_SHAPE
    batch = loaded.batch(torch.tensor([1]))
    assert batch.shape == (1, *IMAGE_SHAPE) and batch.dtype == torch.float32
    assert batch[0, 2, 5, 7].item() == pytest.approx(pixels[1, 5, 7, 2] / 255.0)
    assert loaded.sources() == ["a.jpg", "b.png"]


def test_failed_write_keeps_the_old_dataset_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "ds"
    write_dataset(target, phrase_set(random_phrases(2)), {})

    def broken(*args, **kwargs):
        raise KeyboardInterrupt  # as if the run were interrupted while writing

    monkeypatch.setattr(json, "dumps", broken)
    with pytest.raises(KeyboardInterrupt):
        write_dataset(target, phrase_set(random_phrases(7, seed=3)), {}, force=True)
    monkeypatch.undo()
    assert len(load_dataset(target)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_rewrite_replaces_a_dataset_completely(tmp_path):
    target = tmp_path / "ds"
    write_dataset(target, phrase_set(random_phrases(2)), {})
    write_dataset(target, phrase_set(random_phrases(4)), {}, force=True)
    assert len(load_dataset(target)) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_refuses_to_overwrite_a_folder_that_is_not_a_dataset(tmp_path):
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not a Jukepix dataset"):
        write_dataset(tmp_path / "precious", phrase_set(random_phrases(1)), {})
    assert (tmp_path / "precious" / "notes.txt").read_text() == "keep me"


def test_load_rejects_missing_or_foreign_datasets(tmp_path):
    with pytest.raises(DataError, match="metadata.json"):
        load_dataset(tmp_path)
    target = write_dataset(tmp_path / "ds", phrase_set(random_phrases(1)), {})
    meta = json.loads((target / "metadata.json").read_text())
    (target / "metadata.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(DataError, match="version 99"):
        load_dataset(target)


def test_batch_index_out_of_range(tmp_path):
    with pytest.raises(IndexError, match="2 items"):
        phrase_set(random_phrases(2)).batch(torch.tensor([2]))


KILLED_WRITER = """
import sys, time
import numpy as np
from jukepix import store
from jukepix.constants import PHRASE_SHAPE

def slow_save(handle, array):
    np.lib.format.write_array(handle, array)
    handle.flush()
    print("written", flush=True)
    time.sleep(60)  # killed here, after data.npy, before the manifest and the rename

store.np.save = slow_save
phrases = np.ones((3, *PHRASE_SHAPE), dtype=bool)
manifest = [{"source": "x.mid", "first_bar": "0", "mode": "piano-hands", "segmentation": "bars"}] * 3
store.write_dataset(
    sys.argv[1], store.PhraseSet(store.pack_phrases(phrases), manifest, [], {}), {}, force=True
)
"""


@pytest.mark.slow  # subprocess (a writer killed mid-write)
def test_killed_run_leaves_the_old_dataset_untouched(tmp_path):
    target = write_dataset(tmp_path / "ds", phrase_set(random_phrases(2)), {})
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "written"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert len(load_dataset(target)) == 2
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "ds"]
    assert all(name.startswith(".ds.building-") for name in leftovers)


def test_only_a_folder_holding_exactly_our_dataset_counts_as_one(tmp_path):
    target = write_dataset(tmp_path / "ds", phrase_set(random_phrases(1)), {})
    assert dataset_format(target) == "jukepix-phrases"
    check_target(target, force=True)
    with pytest.raises(DataError, match="--force"):
        check_target(target)
    (target / "notes.txt").write_text("mine")
    assert dataset_format(target) is None
    (target / "notes.txt").unlink()
    (target / "sub").mkdir()
    assert dataset_format(target) is None
    (target / "sub").rmdir()
    meta = json.loads((target / "metadata.json").read_text())
    (target / "metadata.json").write_text(json.dumps({**meta, "format": "someone-else"}))
    assert dataset_format(target) is None
    with pytest.raises(DataError, match="not a Jukepix dataset"):
        check_target(target, force=True)
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(DataError, match="symbolic link"):
        check_target(tmp_path / "link", force=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        check_target(tmp_path / "file", force=True)
