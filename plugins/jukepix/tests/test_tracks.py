"""Assigning notes to track 1 and track 2 in each track mode, including odd layouts."""

from __future__ import annotations

import numpy as np
import pytest

from jukepix.midi_reader import read_midi
from crossmodal.storage.skips import SkipFile
from jukepix.tracks import MIDDLE_C, assign_tracks

HIGH = [(0, 480, 76), (480, 960, 79)]
LOW = [(0, 960, 43)]
MIDDLE = [(0, 480, 55), (480, 960, 57)]


def pitches(notes: np.ndarray) -> list[int]:
    return sorted(notes[:, 2].tolist())


def test_hands_follow_track_names_not_order(tmp_path, make_midi):
    path = make_midi(tmp_path / "named.mid", [LOW, HIGH], names=["Piano left", "Piano right"])
    right, left = assign_tracks(read_midi(path), "piano-hands")
    assert pitches(right) == [76, 79] and pitches(left) == [43]


def test_unnamed_tracks_go_by_mean_pitch(tmp_path, make_midi):
    path = make_midi(tmp_path / "unnamed.mid", [LOW, HIGH])
    right, left = assign_tracks(read_midi(path), "piano-hands")
    assert pitches(right) == [76, 79] and pitches(left) == [43]


def test_pedal_track_joins_the_left_hand_and_extra_tracks_fill_by_pitch(tmp_path, make_midi):
    path = make_midi(
        tmp_path / "three.mid", [HIGH, MIDDLE, LOW], names=["Piano right", "Piano middle", "Pedal"]
    )
    right, left = assign_tracks(read_midi(path), "piano-hands")
    assert pitches(right) == [76, 79]
    assert pitches(left) == [43, 55, 57]  # "Piano middle" has mean pitch 56 < middle C


def test_single_track_piano_is_split_at_middle_c(tmp_path, make_midi):
    path = make_midi(tmp_path / "one.mid", [HIGH + LOW + [(0, 480, MIDDLE_C)]])
    right, left = assign_tracks(read_midi(path), "piano-hands")
    assert pitches(right) == [MIDDLE_C, 76, 79] and pitches(left) == [43]


def test_melody_chords_takes_first_track_then_the_rest(tmp_path, make_midi):
    path = make_midi(tmp_path / "folk.mid", [LOW, HIGH, MIDDLE])
    melody, chords = assign_tracks(read_midi(path), "melody-chords")
    assert pitches(melody) == [43] and pitches(chords) == [55, 57, 76, 79]
    single = make_midi(tmp_path / "melody_only.mid", [HIGH])
    with pytest.raises(SkipFile, match="melody only"):
        assign_tracks(read_midi(single), "melody-chords")


def test_piano_strings_merge_by_program_across_tracks(tmp_path, make_midi):
    path = make_midi(tmp_path / "ps.mid", [HIGH, LOW, MIDDLE], channels=[0, 1, 2], programs=[0, 42, 73])
    piano, strings = assign_tracks(read_midi(path), "piano-strings")
    assert pitches(piano) == [76, 79] and pitches(strings) == [43]  # the flute (73) is dropped


def test_piano_strings_without_strings_is_skipped(tmp_path, make_midi):
    path = make_midi(tmp_path / "piano.mid", [HIGH, LOW], channels=[0, 1], programs=[0, 1])
    with pytest.raises(SkipFile, match="strings"):
        assign_tracks(read_midi(path), "piano-strings")


def test_unknown_mode_is_a_value_error(tmp_path, make_midi):
    path = make_midi(tmp_path / "x.mid", [HIGH, LOW])
    with pytest.raises(ValueError, match="piano-hands"):
        assign_tracks(read_midi(path), "organ")


def test_real_three_track_chopin_merges_right_main_into_the_right_hand(shared_data):
    score = read_midi(shared_data / "midi" / "pianomidide__Chopin__chpn-p9.mid")
    right, left = assign_tracks(score, "piano-hands")
    assert len(right) == 67 + 228 and len(left) == 118
    assert right[:, 2].mean() > left[:, 2].mean()


def test_real_mutopia_file_gives_piano_and_violin(shared_data):
    score = read_midi(shared_data / "midi" / "mutopia__Handel_HWV361_mvt1_violin-piano.mid")
    piano, strings = assign_tracks(score, "piano-strings")
    assert len(piano) == 360 and len(strings) == 154  # note-on/off pairs in the file
    assert set(strings[:, 3].tolist()) == {40}


def test_piano_hands_drops_non_piano_programs(tmp_path, make_midi):
    path = make_midi(
        tmp_path / "duo.mid",
        [HIGH + LOW, [(0, 960, 88)]],
        names=["Piano", "Violin"],
        channels=[0, 1],
        programs=[0, 40],
    )
    right, left = assign_tracks(read_midi(path), "piano-hands")
    assert pitches(right) == [76, 79] and pitches(left) == [43]  # piano split at middle C, violin gone
