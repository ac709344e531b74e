"""Reading MIDI onto the 24-steps-per-beat grid from ticks: exact durations, bars, bad files."""

from __future__ import annotations

import mido
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jukepix.constants import STEPS_PER_BAR, STEPS_PER_BEAT
from jukepix.midi_reader import MAX_BARS, bars_from_time_signatures, read_midi, ticks_to_steps
from jukepix.phrases import notes_to_roll
from crossmodal.storage.skips import SkipFile


def steps_to_ticks(steps: int, ticks_per_beat: int) -> int:
    """The tick nearest to a step (what a sequencer on that resolution would write)."""
    return round(steps * ticks_per_beat / STEPS_PER_BEAT)


@pytest.mark.parametrize("ticks_per_beat", [1024, 480, 10080, 384])
def test_note_lengths_are_exact_at_odd_resolutions(tmp_path, make_midi, ticks_per_beat):
    # (onset step, length in steps, pitch): 3- and 5-step notes at odd positions, one repeated.
    plan = [(7, 3, 60), (10, 3, 60), (13, 5, 64), (101, 5, 67), (190, 3, 72)]
    notes = [
        (steps_to_ticks(s, ticks_per_beat), steps_to_ticks(s + n, ticks_per_beat), p) for s, n, p in plan
    ]
    score = read_midi(make_midi(tmp_path / "odd.mid", [notes], ticks_per_beat=ticks_per_beat))
    got = score.tracks[0].notes
    assert got[:, :3].tolist() == [[s, s + n, p] for s, n, p in plan]
    roll = notes_to_roll([got], 200)[:, :, 0]
    assert np.flatnonzero(roll[:, 60]).tolist() == [7, 8, 10, 11, 12]  # re-struck C4 stays two notes
    assert np.flatnonzero(roll[:, 64]).tolist() == [13, 14, 15, 16, 17]
    assert np.flatnonzero(roll[:, 67]).tolist() == [101, 102, 103, 104, 105]
    assert roll.sum() == 2 + 3 + 5 + 5 + 3


def test_ticks_round_to_nearest_step_halves_up():
    # 48 ticks per beat: 2 ticks per step, so tick 1 is half a step.
    assert ticks_to_steps(np.array([0, 1, 2, 3, 4]), 48).tolist() == [0, 1, 1, 2, 2]
    assert ticks_to_steps(np.array([21, 22, 64]), 1024).tolist() == [0, 1, 2]  # 21.33 -> 0.49, 22 -> 0.52


@given(st.integers(min_value=24, max_value=20000), st.lists(st.integers(0, 100000), min_size=1, max_size=20))
def test_steps_survive_any_resolution_of_at_least_24(ticks_per_beat, steps):
    ticks = [steps_to_ticks(s, ticks_per_beat) for s in steps]
    assert ticks_to_steps(np.array(ticks), ticks_per_beat).tolist() == steps


def test_corrupt_time_signature_and_absurd_length_are_skipped():
    with pytest.raises(SkipFile, match="time signature 0/4"):
        bars_from_time_signatures([(0, 0, 4)], 480, 480)
    with pytest.raises(SkipFile, match="implausibly long"):
        bars_from_time_signatures([], 480 * 4 * (MAX_BARS + 10), 480)


def test_bars_follow_time_signature_changes():
    tpb = 480
    bar = 4 * tpb
    signatures = [(0, 4, 4), (2 * bar, 3, 4), (2 * bar + 3 * tpb, 4, 4)]
    bars = bars_from_time_signatures(signatures, 5 * bar, tpb)
    assert [(b.start, b.length, b.numerator) for b in bars[:4]] == [
        (0, STEPS_PER_BAR, 4),
        (STEPS_PER_BAR, STEPS_PER_BAR, 4),
        (192, 72, 3),
        (264, STEPS_PER_BAR, 4),
    ]
    assert [b.is_four_four for b in bars[:4]] == [True, True, False, True]


def test_time_signature_inside_a_bar_cuts_it_short():
    bars = bars_from_time_signatures([(0, 4, 4), (480 * 6, 4, 4)], 480 * 12, 480)
    assert [(b.start, b.length, b.is_four_four) for b in bars] == [
        (0, 96, True),
        (96, 48, False),
        (144, 96, True),
        (240, 96, True),
    ]


def test_velocity_zero_note_on_ends_note_and_drums_are_ignored(tmp_path):
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack(
        [
            mido.Message("note_on", note=60, velocity=90, time=0),
            mido.Message("note_on", channel=9, note=36, velocity=90, time=0),
            mido.Message("note_on", note=60, velocity=0, time=480),
            mido.Message("note_off", channel=9, note=36, time=0),
        ]
    )
    midi.tracks.append(track)
    midi.save(tmp_path / "v0.mid")
    score = read_midi(tmp_path / "v0.mid")
    assert [t.channel for t in score.tracks] == [0]
    assert score.tracks[0].notes.tolist() == [[0, STEPS_PER_BEAT, 60, 0]]


def test_real_nottingham_file_reads_two_tracks_in_four_four(shared_data):
    score = read_midi(shared_data / "midi" / "nottingham__hpps1.mid")
    assert score.ticks_per_beat == 1024
    assert len(score.tracks) == 2
    assert all(bar.is_four_four for bar in score.bars)


def test_real_file_with_meter_change_keeps_its_four_four_bars(shared_data):
    score = read_midi(shared_data / "midi" / "pianomidide__Borodin__bor_ps5.mid")
    assert [b.is_four_four for b in score.bars].count(False) == 1
    assert score.bars[24].numerator == 9


@pytest.mark.parametrize(
    "content, category",
    [
        (b"", "unreadable"),
        (b"this is a text file, not MIDI\n", "unreadable"),
    ],
)
def test_unreadable_files_are_skipped_with_a_reason(tmp_path, content, category):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    with pytest.raises(SkipFile) as info:
        read_midi(path)
    assert info.value.category == category


def test_truncated_file_is_skipped(tmp_path, shared_data):
    data = (shared_data / "midi" / "nottingham__hpps1.mid").read_bytes()
    path = tmp_path / "truncated.mid"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SkipFile, match="unreadable: corrupt or truncated"):
        read_midi(path)


def test_drums_only_and_no_notes(tmp_path, make_midi):
    drums = make_midi(tmp_path / "drums.mid", [[(0, 480, 36), (480, 960, 38)]], channels=[9])
    with pytest.raises(SkipFile, match="drums only"):
        read_midi(drums)
    silent = make_midi(tmp_path / "silent.mid", [[]])
    with pytest.raises(SkipFile, match="no notes"):
        read_midi(silent)


def test_pypianoroll_read_shortens_notes_that_this_reader_keeps(tmp_path, make_midi):
    """Why ``read_midi`` exists: ``pypianoroll.read`` goes through seconds and rounds note ends down."""
    pypianoroll = pytest.importorskip("pypianoroll")
    plan = [(s, 3 + (s % 2) * 2) for s in range(0, 40 * 8, 8)]  # 3- and 5-step notes
    notes = [(steps_to_ticks(s, 1024), steps_to_ticks(s + n, 1024), 60) for s, n in plan]
    path = make_midi(tmp_path / "grid.mid", [notes], ticks_per_beat=1024)
    ours = read_midi(path).tracks[0].notes
    assert (ours[:, 1] - ours[:, 0]).tolist() == [n for _, n in plan]
    theirs = pypianoroll.read(path, resolution=STEPS_PER_BEAT).tracks[0].pianoroll[:, 60] > 0
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, theirs.astype(int), 0])))[::2]
    assert len(runs) == len(plan) and sum(runs) < sum(n for _, n in plan)


def patched_header(tmp_path, make_midi, claimed_tracks: int | None = None, division: int | None = None):
    """A valid one-note type-1 file (conductor track + one note track) with its MThd fields replaced."""
    path = make_midi(tmp_path / "patched.mid", [[(0, 480, 60)]])
    data = bytearray(path.read_bytes())
    if claimed_tracks is not None:
        data[10:12] = claimed_tracks.to_bytes(2, "big")
    if division is not None:
        data[12:14] = division.to_bytes(2, "big")
    path.write_bytes(bytes(data))
    return path


def test_zero_ticks_per_beat_is_named_as_such(tmp_path, make_midi):
    with pytest.raises(SkipFile) as info:
        read_midi(patched_header(tmp_path, make_midi, division=0))
    assert str(info.value) == "unreadable: ticks per beat is 0 in the header (no beat grid can be built)"


def test_smpte_division_is_named_as_such(tmp_path, make_midi):
    with pytest.raises(SkipFile, match="SMPTE time division"):
        read_midi(patched_header(tmp_path, make_midi, division=0xE728))  # -25 fps, 40 ticks per frame


@pytest.mark.parametrize("claimed", [65535, 3])
def test_header_claiming_more_tracks_than_the_file_holds(tmp_path, make_midi, claimed):
    path = patched_header(tmp_path, make_midi, claimed_tracks=claimed)
    with pytest.raises(SkipFile) as info:
        read_midi(path)
    assert str(info.value) == (
        f"unreadable: corrupt or truncated MIDI (the header claims {claimed} tracks but the file holds 2 "
        "whole track chunk(s))"
    )
    assert str(path) not in str(info.value)
