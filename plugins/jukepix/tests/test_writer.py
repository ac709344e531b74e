"""PianoRollWriter: MIDI read back with pretty_midi and mido, PNG validity, atomic writes."""

from __future__ import annotations

import errno

import mido
import numpy as np
import pretty_midi
import pytest
import torch

from crossmodal import OutputError, SampleWriter, ShapeError
from jukepix.constants import DEFAULT_TEMPO_QPM, PHRASE_SHAPE, PIANO_STRINGS_PROGRAMS, STEPS_PER_BAR
from jukepix.writer import TICKS_PER_STEP, PianoRollWriter, phrase_to_pretty_midi, roll_to_notes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# (track, bar, first step, steps, pitch): asymmetric on purpose (different counts per track)
NOTES = [
    (0, 0, 0, 3, 60),  # a 3-step note (a 32nd note) ...
    (0, 0, 4, 5, 60),  # ... then the same pitch again after a one-step gap: two notes
    (0, 1, 10, 48, 67),  # a half note
    (0, 3, 90, 6, 72),  # runs to the end of the phrase
    (1, 0, 0, 96, 36),  # a whole bar
    (1, 1, 90, 12, 43),  # crosses the bar line into bar 3: one note of 12 steps
]


def make_phrases(batch: int = 2) -> torch.Tensor:
    """``(batch, 4, 96, 128, 2)``: phrase 0 holds NOTES (values 0.9 / 0.1), the others are silent."""
    phrases = torch.full((batch, *PHRASE_SHAPE), 0.1)
    flat = phrases[0].reshape(-1, *PHRASE_SHAPE[2:])  # (time over bars, pitch, tracks), a view
    for track, bar, start, steps, pitch in NOTES:
        first = bar * STEPS_PER_BAR + start
        flat[first : first + steps, pitch, track] = 0.9
    return phrases


def expected_notes(track: int) -> list[tuple[int, int, int]]:
    """(pitch, start tick, end tick) of NOTES in one track."""
    notes = []
    for t, bar, start, steps, pitch in NOTES:
        if t == track:
            first = bar * STEPS_PER_BAR + start
            notes.append((pitch, first * TICKS_PER_STEP, (first + steps) * TICKS_PER_STEP))
    return sorted(notes, key=lambda note: (note[1], note[0]))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    directory = tmp_path_factory.mktemp("samples") / "new-folder"
    writer = PianoRollWriter(programs=PIANO_STRINGS_PROGRAMS, track_names=("Piano", "Strings"))
    return directory, writer.write(make_phrases(), directory, "step-100")


def test_writer_is_a_sample_writer():
    assert isinstance(PianoRollWriter(), SampleWriter)


def test_files_written_and_no_temporaries_left(written):
    directory, paths = written
    names = ["step-100-0.mid", "step-100-0.png", "step-100-1.mid", "step-100-1.png"]
    assert [p.name for p in paths] == names
    assert sorted(p.name for p in directory.iterdir()) == sorted(names)


def test_png_is_valid(written):
    _, paths = written
    for path in paths[1::2]:
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width > height > 100


def test_midi_reads_back_with_mido(written):
    _, paths = written
    midi = mido.MidiFile(paths[0])
    assert midi.ticks_per_beat == TICKS_PER_STEP * 24
    tempos = [m.tempo for track in midi.tracks for m in track if m.type == "set_tempo"]
    assert [mido.tempo2bpm(t) for t in tempos] == [pytest.approx(DEFAULT_TEMPO_QPM)]
    signatures = [(m.numerator, m.denominator) for track in midi.tracks for m in track if m.type == "time_signature"]
    assert signatures == [(4, 4)]
    note_tracks = [track for track in midi.tracks if any(m.type == "note_on" for m in track)]
    assert [track.name for track in note_tracks] == ["Piano", "Strings"]
    for index, track in enumerate(note_tracks):
        programs = [m.program for m in track if m.type == "program_change"]
        assert programs == [PIANO_STRINGS_PROGRAMS[index]]
        tick, started, notes = 0, {}, []
        for message in track:
            tick += message.time
            if message.type == "note_on" and message.velocity > 0:
                started[message.note] = tick
            elif message.type in ("note_on", "note_off"):
                notes.append((message.note, started.pop(message.note), tick))
        assert sorted(notes, key=lambda n: (n[1], n[0])) == expected_notes(index)
        assert len({m.channel for m in track if not m.is_meta}) == 1
    assert {m.channel for t in note_tracks for m in t if not m.is_meta} == {0, 1}


def test_midi_reads_back_with_pretty_midi(written):
    _, paths = written
    midi = pretty_midi.PrettyMIDI(str(paths[0]))
    assert [(i.name, i.program, i.is_drum) for i in midi.instruments] == [
        ("Piano", PIANO_STRINGS_PROGRAMS[0], False),
        ("Strings", PIANO_STRINGS_PROGRAMS[1], False),
    ]
    _, tempi = midi.get_tempo_changes()
    assert tempi.tolist() == [pytest.approx(DEFAULT_TEMPO_QPM)]
    for track, instrument in enumerate(midi.instruments):
        notes = [(n.pitch, midi.time_to_tick(n.start), midi.time_to_tick(n.end)) for n in instrument.notes]
        assert sorted(notes, key=lambda n: (n[1], n[0])) == expected_notes(track)
    # the 3-step and 5-step notes at 24 steps per beat: 60 and 100 ticks at 480 ticks per beat
    first_two = sorted(midi.instruments[0].notes, key=lambda n: n.start)[:2]
    assert [midi.time_to_tick(n.end) - midi.time_to_tick(n.start) for n in first_two] == [60, 100]


def test_silent_phrase_gives_empty_tracks(written):
    _, paths = written
    midi = mido.MidiFile(paths[2])  # pretty_midi drops instruments without notes when reading
    tracks = [track for track in midi.tracks if any(m.type == "program_change" for m in track)]
    assert [track.name for track in tracks] == ["Piano", "Strings"]
    assert not any(m.type == "note_on" for track in midi.tracks for m in track)


def test_roll_to_notes_merges_runs_and_splits_at_gaps():
    roll = np.zeros((10, 128), dtype=bool)
    roll[0:3, 60] = roll[4:9, 60] = True  # two notes of one pitch
    roll[2:10, 40] = True  # runs to the end
    assert roll_to_notes(roll) == [(60, 0, 3), (40, 2, 10), (60, 4, 9)]
    assert roll_to_notes(np.zeros((10, 128), dtype=bool)) == []


def test_tempo_and_programs_options():
    phrase = make_phrases(1)[0]
    midi = phrase_to_pretty_midi(phrase, programs=(0, 40), track_names=("a", "b"), tempo_qpm=60.0)
    assert midi.get_tempo_changes()[1].tolist() == [60.0]
    # at 60 qpm a beat is one second: the 3-step note lasts 3/24 s
    first = sorted(midi.instruments[0].notes, key=lambda n: n.start)[0]
    assert first.end - first.start == pytest.approx(3 / 24)
    assert [i.program for i in midi.instruments] == [0, 40]


def test_bad_options_and_shapes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="programs"):
        PianoRollWriter(programs=(0, 128))
    with pytest.raises(ValueError, match="track_names"):
        PianoRollWriter(track_names=("only one",))
    with pytest.raises(ShapeError, match="PianoRollWriter"):
        PianoRollWriter().write(torch.zeros(1, 4, 96, 128), tmp_path, "bad")
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_is_one_output_error_naming_the_file_and_leaves_nothing(tmp_path, monkeypatch):
    def full(self, file):
        file.write(b"MThd partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pretty_midi.PrettyMIDI, "write", full)
    with pytest.raises(OutputError) as info:
        PianoRollWriter().write(make_phrases(1), tmp_path, "x")
    message = str(info.value)
    assert "x-0.mid" in message and "No space left on device" in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_existing_files_are_never_overwritten_and_pairs_share_a_number(tmp_path):
    writer = PianoRollWriter()
    first = writer.write(make_phrases(2), tmp_path, "x")
    before = {p: p.read_bytes() for p in first}
    (tmp_path / "x-1-2.png").write_bytes(b"someone else's")  # only the PNG of number 2 is taken for phrase 1
    second = writer.write(make_phrases(2), tmp_path, "x")
    assert [p.name for p in second] == ["x-0-2.mid", "x-0-2.png", "x-1-3.mid", "x-1-3.png"]
    assert {p: p.read_bytes() for p in first} == before
    assert (tmp_path / "x-1-2.png").read_bytes() == b"someone else's"
    assert all(p.read_bytes().startswith(b"MThd") for p in second if p.suffix == ".mid")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
