"""Fixtures shared by the Jukepix tests: where the shared development data lives, a MIDI writer."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import mido
import pytest

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
"""``<repository>/../shared/data``: real MIDI files and paintings (see its SOURCES.md)."""


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder (``midi/``, ``paintings/``); skips the test when it is absent."""
    if not (SHARED_DATA / "midi").is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


Note = tuple[int, int, int]
"""(onset tick, offset tick, pitch)."""


def write_midi(
    path: Path,
    tracks: Sequence[Sequence[Note]],
    ticks_per_beat: int = 480,
    names: Sequence[str] = (),
    channels: Sequence[int] = (),
    programs: Sequence[int | None] = (),
    signatures: Sequence[tuple[int, int, int]] = ((0, 4, 4),),
) -> Path:
    """Write a type-1 file: a conductor track with ``(tick, numerator, denominator)`` time
    signatures, then one track per note list (named, on a channel, with an optional program)."""
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    midi.tracks.append(
        _timed(
            [(t, mido.MetaMessage("time_signature", numerator=n, denominator=d)) for t, n, d in signatures]
        )
    )
    for index, notes in enumerate(tracks):
        channel = channels[index] if index < len(channels) else 0
        events: list[tuple[int, mido.Message | mido.MetaMessage]] = []
        if index < len(names):
            events.append((0, mido.MetaMessage("track_name", name=names[index])))
        if index < len(programs) and programs[index] is not None:
            events.append((0, mido.Message("program_change", channel=channel, program=programs[index])))
        for onset, offset, pitch in notes:
            events.append((onset, mido.Message("note_on", channel=channel, note=pitch, velocity=80)))
            events.append((offset, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
        midi.tracks.append(_timed(events))
    midi.save(path)
    return path


def _timed(events: list[tuple[int, object]]) -> mido.MidiTrack:
    """A track from ``(absolute tick, message)`` pairs (note-offs before note-ons at equal ticks)."""
    track = mido.MidiTrack()
    now = 0
    order = sorted(events, key=lambda e: (e[0], getattr(e[1], "type", "") == "note_on"))
    for tick, message in order:
        track.append(message.copy(time=tick - now))
        now = tick
    return track


@pytest.fixture
def make_midi() -> Callable[..., Path]:
    """:func:`write_midi`: ``make_midi(path, tracks, ticks_per_beat=480, names=(), channels=(),
    programs=(), signatures=((0, 4, 4),))`` writes a small type-1 MIDI file with mido."""
    return write_midi
