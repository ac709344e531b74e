"""Batch preparation: real files mixed with bad ones, skip reasons, parallel = serial, atomic output."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
import torch

from crossmodal.errors import DataError
from jukepix.prepare import build_painting_set, build_phrase_set, prepare_images, prepare_music
from jukepix.store import load_dataset

REAL_MIDI = [
    "nottingham__hpps1.mid",
    "pianomidide__Chopin__chpn-p9.mid",
    "mutopia__Handel_HWV361_mvt1_violin-piano.mid",
    "nottingham__waltzes2.mid",
]


@pytest.fixture
def midi_folder(tmp_path, shared_data, make_midi):
    """A folder of 4 real MIDI files plus 5 bad ones (each with a known skip category)."""
    folder = tmp_path / "midi"
    folder.mkdir()
    for name in REAL_MIDI:
        shutil.copy(shared_data / "midi" / name, folder / name)
    (folder / "empty.mid").write_bytes(b"")
    (folder / "text.mid").write_text("not midi")
    data = (shared_data / "midi" / REAL_MIDI[0]).read_bytes()
    (folder / "truncated.mid").write_bytes(data[:300])
    make_midi(folder / "drums.mid", [[(0, 480, 36)]], channels=[9])
    make_midi(folder / "three_four.mid", [[(0, 480, 72)], [(0, 480, 40)]], signatures=[(0, 3, 4)])
    (folder / "readme.txt").write_text("ignored: not a .mid file")
    return folder


def test_bad_files_are_skipped_with_reasons_and_good_ones_kept(midi_folder):
    seen = []
    phrases = build_phrase_set([midi_folder], "piano-hands", "bars", jobs=1, progress=seen.append)
    assert len(seen) == 9  # readme.txt is not collected
    reasons = {path.rsplit("/", 1)[-1]: reason for path, reason in phrases.skipped}
    assert set(reasons) == {
        "empty.mid",
        "text.mid",
        "truncated.mid",
        "drums.mid",
        "three_four.mid",
        "nottingham__waltzes2.mid",
    }
    assert reasons["empty.mid"].startswith("unreadable: empty file")
    assert reasons["text.mid"].startswith("unreadable: not a MIDI file")
    assert reasons["truncated.mid"].startswith("unreadable:")
    assert reasons["drums.mid"].startswith("drums only:")
    assert reasons["three_four.mid"].startswith("no 4/4 bars:")
    assert {row["source"].rsplit("/", 1)[-1] for row in phrases.manifest} == set(REAL_MIDI[:3])


@pytest.mark.slow  # subprocesses: a pool of 2 worker processes (jobs=2)
def test_parallel_run_equals_serial_run(midi_folder):
    serial = build_phrase_set([midi_folder], "melody-chords", "structural", jobs=1)
    parallel = build_phrase_set([midi_folder], "melody-chords", "structural", jobs=2)
    assert np.array_equal(serial.data, parallel.data)
    assert serial.manifest == parallel.manifest and serial.skipped == parallel.skipped


def test_nothing_usable_raises_data_error_naming_the_files(tmp_path):
    (tmp_path / "a.mid").write_bytes(b"")
    with pytest.raises(DataError, match=r"a\.mid: unreadable: empty file"):
        build_phrase_set([tmp_path], jobs=1)
    with pytest.raises(DataError, match="no MIDI files found"):
        build_phrase_set([], jobs=1)


def test_missing_source_is_a_skip_not_a_crash(midi_folder, tmp_path):
    phrases = build_phrase_set([midi_folder / REAL_MIDI[0], tmp_path / "nope.mid"], jobs=1)
    assert phrases.skipped == [(str(tmp_path / "nope.mid"), "unreadable: no such file or folder")]


@pytest.mark.slow  # subprocesses: a pool of 2 worker processes (jobs=2)
def test_prepare_music_writes_a_loadable_dataset(midi_folder, tmp_path):
    out = tmp_path / "phrases"
    result = prepare_music([midi_folder], out, "piano-strings", "bars", jobs=2)
    assert (out / "data.npy").is_file() and len(result) > 0
    assert {row["source"].rsplit("/", 1)[-1] for row in result.manifest} == {REAL_MIDI[2]}
    reopened = load_dataset(out)
    assert len(reopened) == len(result) and reopened.meta["mode"] == "piano-strings"
    assert reopened.batch(torch.tensor([0])).shape == (1, 4, 96, 128, 2)


@pytest.mark.slow  # subprocesses: a pool of 2 worker processes (jobs=2)
def test_prepare_images_keeps_the_most_colourful(tmp_path, shared_data):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for path in sorted((shared_data / "paintings").glob("kaggle_*.jpg"))[:4]:
        shutil.copy(path, folder / path.name)
    cv2.imwrite(str(folder / "grey_flat.png"), np.full((300, 300, 3), 128, dtype=np.uint8))
    cv2.imwrite(str(folder / "tiny.png"), np.zeros((1, 1, 3), dtype=np.uint8))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken")
    every = build_painting_set([folder], jobs=1)
    assert len(every) == 5 and [r for _, r in every.skipped][0].startswith("unreadable:")
    scores = {row["source"]: float(row["colour_variance"]) for row in every.manifest}
    best = sorted(scores, key=scores.get, reverse=True)[:2]
    top = prepare_images([folder], tmp_path / "out", top_k=2, jobs=2)
    assert sorted(top.sources()) == sorted(best)
    assert str(folder / "grey_flat.png") not in top.sources()
    assert top.batch(torch.tensor([0, 1])).shape == (2, 3, 256, 256)
