"""Rolls, 4/4 bar windows and structural segmentation into 4-bar phrases."""

from __future__ import annotations

import numpy as np
import pytest

from jukepix.constants import BARS_PER_PHRASE, PHRASE_SHAPE, STEPS_PER_BAR, STEPS_PER_BEAT
from jukepix.midi_reader import Bar
from jukepix.phrases import bar_windows, cut_phrases, four_four_runs, notes_to_roll
from jukepix.prepare import midi_phrases
from jukepix.segmentation import bar_features, novelty_curve, structural_boundaries, structural_windows
from crossmodal.storage.skips import SkipFile


def four_four_bars(n: int) -> list[Bar]:
    return [Bar(i * STEPS_PER_BAR, STEPS_PER_BAR, 4, 4) for i in range(n)]


def test_note_boundary_rule_rests_only_before_re_struck_notes():
    notes = np.array([[0, 1, 60], [1, 3, 60], [3, 8, 60], [8, 9, 61], [5, 8, 62]])
    roll = notes_to_roll([notes, np.zeros((0, 3), dtype=int)], 10)
    assert roll.shape == (10, 128, 2)
    # the 1-step note at 0 cannot be kept apart from the note at 1; the note at 3 is re-struck
    assert roll[:, 60, 0].astype(int).tolist() == [1, 1, 0, 1, 1, 1, 1, 1, 0, 0]
    assert roll[:, 62, 0].astype(int).tolist() == [0] * 5 + [1, 1, 1, 0, 0]  # exact length
    assert roll[:, 61, 0].astype(int).tolist() == [0] * 8 + [1, 0]
    assert not roll[:, :, 1].any()


def test_four_four_runs_and_windows():
    bars = four_four_bars(5) + [Bar(480, 72, 3, 4)] + [Bar(552 + i * 96, 96, 4, 4) for i in range(9)]
    runs = four_four_runs(bars)
    assert runs == [[0, 1, 2, 3, 4], list(range(6, 15))]
    assert bar_windows(runs[0]) == [0]
    assert bar_windows(runs[1]) == [6, 10]


def test_cut_phrases_skips_windows_across_meter_changes_and_silent_phrases():
    bars = four_four_bars(5) + [Bar(480, 72, 3, 4)] + [Bar(552 + i * 96, 96, 4, 4) for i in range(8)]
    end = bars[-1].start + bars[-1].length
    notes = np.array([[0, 10, 60], [600, 610, 62]])  # in bar 0 and bar 6; bars 10-13 are silent
    roll = notes_to_roll([notes, notes], end)
    phrases, firsts = cut_phrases(roll, bars)
    assert phrases.shape == (2, *PHRASE_SHAPE) and phrases.dtype == bool
    assert firsts == [0, 6]
    assert phrases[1, 0, 600 - 552, 62, 1]


def test_novelty_peaks_at_a_change_of_material():
    bars = four_four_bars(16)
    end = 16 * STEPS_PER_BAR
    a = [
        [b * STEPS_PER_BAR + s, b * STEPS_PER_BAR + s + 12, 60 + (s // 24) * 4]
        for b in range(8)
        for s in (0, 24, 48, 72)
    ]
    b = [
        [b * STEPS_PER_BAR + s, b * STEPS_PER_BAR + s + 6, 66 + (s // 12) % 3]
        for b in range(8, 16)
        for s in range(0, 96, 12)
    ]
    roll = notes_to_roll([np.array(a + b), np.zeros((0, 3), dtype=int)], end)
    novelty = novelty_curve(bar_features(roll, bars))
    assert int(np.argmax(novelty)) == 8
    assert structural_boundaries(novelty) == [0, 8]
    assert structural_windows(roll, bars, list(range(16))) == [0, 4, 8, 12]


def test_structural_boundaries_are_a_phrase_apart():
    novelty = np.array([0.0, 0, 5, 0, 4, 0, 0, 3, 0, 0, 0, 0, 0, 0, 9, 0])
    # 2 is too close to bar 0, 7 too close to 4, 14 too close to the end (16 bars)
    assert structural_boundaries(novelty) == [0, 4]
    assert BARS_PER_PHRASE == 4


def test_three_four_only_file_gives_no_phrase(tmp_path, make_midi):
    path = make_midi(
        tmp_path / "waltz.mid", [[(i * 480, i * 480 + 240, 64) for i in range(48)]], signatures=[(0, 3, 4)]
    )
    with pytest.raises(SkipFile, match="no 4/4 bars"):
        midi_phrases(path, "piano-hands", "bars")


@pytest.mark.parametrize("segmentation", ["bars", "structural"])
def test_real_files_give_phrases(shared_data, segmentation):
    phrases, firsts = midi_phrases(
        shared_data / "midi" / "nottingham__hpps1.mid", "melody-chords", segmentation
    )
    assert phrases.shape[1:] == PHRASE_SHAPE and len(phrases) == len(firsts) > 0
    assert all(phrases[i].any() for i in range(len(phrases)))
    melody_notes = phrases[..., 0].sum(axis=(1, 2, 3))
    assert (melody_notes > 0).mean() > 0.9
    if segmentation == "bars":
        assert firsts == list(range(0, 4 * len(firsts), 4))


def test_real_piano_phrases_put_the_right_hand_higher(shared_data):
    phrases, _ = midi_phrases(
        shared_data / "midi" / "pianomidide__Beethoven__pathetique_3.mid", "piano-hands", "bars"
    )
    pitch = np.arange(128)
    mean = [(phrases[..., t].sum(axis=(0, 1, 2)) * pitch).sum() / phrases[..., t].sum() for t in range(2)]
    assert mean[0] > mean[1] + 12
    assert STEPS_PER_BEAT * 4 == phrases.shape[2]
