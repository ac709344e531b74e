"""The embedded default: Bach chorales from music21's corpus and the bundled colour pictures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crossmodal.errors import DataError
from jukepix import datasets, default_data
from jukepix.constants import STEPS_PER_BEAT
from jukepix.default_data import chorale_paths, chorale_phrases, default_painting_set, default_phrase_set
from jukepix.store import PaintingSet, PhraseSet, write_dataset


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSMODAL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "jukepix"


def chorale(name: str):
    return next(p for p in chorale_paths() if p.name == name)


def test_pickup_bar_is_padded_so_bar_lines_fall_on_the_grid():
    # bwv101.7 starts with a one-beat pickup: it lands on the last beat of padded bar 0.
    phrases, firsts = chorale_phrases(chorale("bwv101.7.mxl"), "piano-hands", "bars")
    assert firsts[:2] == [0, 4]
    first_bar = phrases[0, 0]
    assert not first_bar[: 3 * STEPS_PER_BEAT].any()
    assert first_bar[3 * STEPS_PER_BEAT].any(axis=0).all()  # both tracks sound on the pickup beat


def test_voice_layouts():
    hands, _ = chorale_phrases(chorale("bwv10.7.mxl"), "piano-hands", "bars")
    folk, _ = chorale_phrases(chorale("bwv10.7.mxl"), "melody-chords", "bars")
    polyphony = lambda track: track.sum(axis=-1).max()  # noqa: E731 - pitches sounding at once
    assert polyphony(hands[..., 0]) == 2 and polyphony(folk[..., 0]) == 1 and polyphony(folk[..., 1]) == 3


def test_default_phrase_set_is_built_once_then_cached(cache, monkeypatch):
    built = default_phrase_set(limit=3, jobs=1)
    assert isinstance(built, PhraseSet) and len(built) > 10
    assert built.skipped == []  # bwv1.6 has a fifth (instrument) part: its SATB parts are found by name
    assert built.sources()[0] == "music21:bach/bwv1.6.mxl bar 0"
    assert any(cache.iterdir())
    monkeypatch.setattr(default_data, "chorale_phrases", lambda *a: pytest.fail("rebuilt instead of cached"))
    again = default_phrase_set(limit=3, jobs=1)
    assert np.array_equal(np.asarray(again.data), np.asarray(built.data))
    assert again.batch(torch.tensor([0])).shape == (1, 4, 96, 128, 2)


def test_no_default_for_piano_strings(cache):
    with pytest.raises(DataError, match="piano-strings"):
        default_phrase_set("piano-strings", limit=1)


def test_default_pictures_need_no_download():
    pictures = default_painting_set(top_k=3)
    assert isinstance(pictures, PaintingSet) and len(pictures) == 3 and not pictures.skipped
    batch = pictures.batch(torch.arange(3))
    assert batch.shape == (3, 3, 256, 256) and 0.0 <= batch.min() and batch.max() <= 1.0


def test_factories_accept_none_a_file_a_folder_and_a_prepared_set(tmp_path, shared_data, monkeypatch):
    monkeypatch.setattr(datasets, "default_phrase_set", lambda mode, segmentation, jobs=None: "default")
    assert datasets.phrase_dataset(None) == "default"
    one = datasets.phrase_dataset(
        shared_data / "midi" / "nottingham__hpps1.mid", mode="melody-chords", jobs=1
    )
    assert len(one) > 0 and one.skipped == []
    write_dataset(tmp_path / "ds", one, {"mode": "melody-chords"})
    assert len(datasets.phrase_dataset(tmp_path / "ds")) == len(one)
    with pytest.raises(DataError, match="PaintingSet"):
        datasets.painting_dataset(tmp_path / "ds")
    assert len(datasets.painting_dataset(None, top_k=2)) == 2
    painting = sorted((shared_data / "paintings").glob("*.jpg"))[0]
    assert len(datasets.painting_dataset(painting)) == 1


def test_factories_raise_data_error_naming_the_path(tmp_path):
    with pytest.raises(DataError, match="nowhere"):
        datasets.phrase_dataset(tmp_path / "nowhere")
    (tmp_path / "junk.mid").write_text("junk")
    with pytest.raises(DataError, match="junk.mid"):
        datasets.phrase_dataset(tmp_path / "junk.mid", jobs=1)
    with pytest.raises(DataError, match="mode"):
        datasets.phrase_dataset(tmp_path / "junk.mid", mode="organ")
