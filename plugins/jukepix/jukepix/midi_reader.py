"""Read a MIDI file into notes and bars on the 24-steps-per-beat grid, from ticks.

Public: :class:`Note` arrays, :class:`NoteTrack`, :class:`Bar`, :class:`Score`,
:class:`RawTrack`, :func:`ticks_to_steps`, :func:`bars_from_time_signatures`, :func:`open_midi`,
:func:`raw_tracks`, :func:`read_midi`.

Every time in this module is counted in MIDI ticks or in grid steps (``STEPS_PER_BEAT`` per quarter
note), never in seconds, so expressive tempo maps cannot smear the grid. A tick ``t`` becomes step
``round_half_up(t * STEPS_PER_BEAT / ticks_per_beat)``, for note onsets, note ends and bar lines
alike. ``pypianoroll.read`` is not used: it goes through seconds and rounds note ends down, which
shortens notes (see ``shared/docs/PITFALLS.md``).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import mido
import numpy as np

from .constants import (
    BEAT_NOTE_VALUE,
    BEATS_PER_BAR,
    NOTE_OFFSET,
    NOTE_ONSET,
    NOTE_PITCH,
    STEPS_PER_BAR,
    STEPS_PER_BEAT,
)
from crossmodal.storage.skips import SkipFile

__all__ = [
    "DRUM_CHANNEL",
    "MAX_BARS",
    "MAX_TRACKS",
    "Bar",
    "NoteTrack",
    "Score",
    "bars_from_time_signatures",
    "RawTrack",
    "open_midi",
    "raw_tracks",
    "read_midi",
    "ticks_to_steps",
]

DRUM_CHANNEL = 9
"""MIDI channel 10 (0-based 9) carries GM percussion; its notes are ignored."""

MAX_BARS = 5000
"""Longest accepted piece, in bars (over two hours of 4/4 at 120 bpm): a longer one means a corrupt
delta time, and its roll would not fit in memory."""

@dataclass(frozen=True, eq=False)
class NoteTrack:
    """The notes of one MIDI track on one channel.

    :ivar name: the track's name (``""`` when it has none).
    :ivar channel: MIDI channel 0-15.
    :ivar notes: int64 array ``(n_notes, 4)``, columns
        :data:`~jukepix.constants.NOTE_FIELDS`; onset/offset in steps,
        ``offset > onset`` always (a note whose end rounds to its start step lasts one step).
    """

    name: str
    channel: int
    notes: np.ndarray

    @property
    def mean_pitch(self) -> float:
        """Mean MIDI pitch of the notes."""
        return float(self.notes[:, NOTE_PITCH].mean())


@dataclass(frozen=True)
class Bar:
    """One bar: where it starts and its meter.

    :ivar start: first grid step of the bar.
    :ivar length: steps in the bar.
    :ivar numerator: beats per bar as written (4 in 4/4).
    :ivar denominator: the beat's note value (4 in 4/4).
    """

    start: int
    length: int
    numerator: int
    denominator: int

    @property
    def is_four_four(self) -> bool:
        """True for a complete 4/4 bar (the only kind Jukepix keeps)."""
        return (self.numerator, self.denominator) == (BEATS_PER_BAR, BEAT_NOTE_VALUE) and self.length == STEPS_PER_BAR


@dataclass(frozen=True)
class Score:
    """A MIDI file read onto the step grid.

    :ivar path: the file read.
    :ivar ticks_per_beat: the file's resolution, ticks per quarter note.
    :ivar tracks: one :class:`NoteTrack` per (track, channel) holding notes, drums excluded, in
        file order.
    :ivar bars: the bar grid from tick 0 to the end of the last note, from the time signatures.
    """

    path: str
    ticks_per_beat: int
    tracks: tuple[NoteTrack, ...]
    bars: tuple[Bar, ...]


def ticks_to_steps(ticks: np.ndarray | int, ticks_per_beat: int) -> np.ndarray:
    """Quantise MIDI ticks to grid steps, rounding to the nearest step (halves round up).

    :param ticks: int array (any shape) of absolute ticks.
    :param ticks_per_beat: ticks per quarter note.
    :returns: int64 array of the same shape, in steps (``STEPS_PER_BEAT`` per quarter note).
    """
    ticks = np.asarray(ticks, dtype=np.int64)
    return (2 * ticks * STEPS_PER_BEAT + ticks_per_beat) // (2 * ticks_per_beat)


def bars_from_time_signatures(
    signatures: list[tuple[int, int, int]], end_tick: int, ticks_per_beat: int
) -> tuple[Bar, ...]:
    """Lay bars from tick 0 to ``end_tick`` following the time-signature events.

    A bar lasts ``numerator * 4 / denominator`` quarter notes. A time signature takes effect at
    its tick; one that falls inside a bar cuts that bar short (the short bar keeps its meter
    but has fewer steps than that meter needs, so it is never a complete 4/4 bar). Without any
    time signature the MIDI default 4/4 applies.

    :param signatures: ``(tick, numerator, denominator)`` triples, any order.
    :param end_tick: the tick the last bar must reach.
    :returns: bars whose ``start``/``length`` are in steps.
    :raises SkipFile: a time signature with numerator 0, or more than :data:`MAX_BARS` bars.
    """
    changes: dict[int, tuple[int, int]] = {0: (BEATS_PER_BAR, BEAT_NOTE_VALUE)}
    for tick, numerator, denominator in sorted(signatures):
        if numerator < 1:
            raise SkipFile("unreadable", f"time signature {numerator}/{denominator} at tick {tick}")
        changes[tick] = (numerator, denominator)
    ticks = sorted(changes)
    bars: list[Bar] = []
    for i, tick in enumerate(ticks):
        numerator, denominator = changes[tick]
        bar_ticks = Fraction(numerator * 4 * ticks_per_beat, denominator)
        last_segment = i + 1 == len(ticks)
        until = Fraction(max(end_tick, tick + 1) if last_segment else ticks[i + 1])
        start = Fraction(tick)
        while start < until:
            if len(bars) > MAX_BARS:
                raise SkipFile(
                    "unreadable", f"implausibly long: more than {MAX_BARS} bars (corrupt delta times?)"
                )
            stop = start + bar_ticks if last_segment else min(start + bar_ticks, until)
            first, last = ticks_to_steps(np.array([round(start), round(stop)]), ticks_per_beat)
            bars.append(Bar(int(first), int(last - first), numerator, denominator))
            start = stop
    return tuple(b for b in bars if b.length > 0)


MAX_TRACKS = 0x7FFF
"""Most tracks a header may claim: mido reads the count as a signed 16-bit number, so a larger one
(65535) would silently read as no track at all."""


def _complete_chunks(data: bytes, start: int) -> int:
    """How many whole chunks (8-byte header plus its stated length) follow ``start`` in ``data``."""
    count, position = 0, start
    while position + 8 <= len(data):
        length = int.from_bytes(data[position + 4 : position + 8], "big")
        if position + 8 + length > len(data):
            break
        count, position = count + 1, position + 8 + length
    return count


def _check_header(data: bytes) -> None:
    """Check the ``MThd`` header against the file before mido parses it.

    :raises SkipFile: a short header, SMPTE timing or 0 ticks per beat, or fewer whole track chunks
        than the header claims (each reason says which).
    """
    if len(data) < 14:
        raise SkipFile(
            "unreadable", f"corrupt or truncated MIDI (file of {len(data)} bytes, the header needs 14)"
        )
    header_length, _, claimed, division = struct.unpack(">IHHH", data[4:14])
    if header_length < 6:
        raise SkipFile("unreadable", f"corrupt MIDI header (length {header_length}, expected 6)")
    if division & 0x8000:
        raise SkipFile("unreadable", "SMPTE time division is not supported (need ticks per beat)")
    if division == 0:
        raise SkipFile("unreadable", "ticks per beat is 0 in the header (no beat grid can be built)")
    held = _complete_chunks(data, 8 + header_length)
    if held < claimed:
        raise SkipFile(
            "unreadable",
            f"corrupt or truncated MIDI (the header claims {claimed} tracks but the file holds {held} "
            "whole track chunk(s))",
        )
    if claimed > MAX_TRACKS:
        raise SkipFile(
            "unreadable", f"the header claims {claimed} tracks, more than the {MAX_TRACKS} supported"
        )


def _open(path: Path) -> mido.MidiFile:
    """Parse ``path`` with mido, turning every parse failure into :class:`SkipFile`.

    The reasons never repeat the file's name (the caller reports it).
    """
    try:
        with path.open("rb") as handle:
            data = handle.read()
    except OSError as err:
        raise SkipFile("unreadable", f"cannot open ({err.strerror or type(err).__name__})") from err
    if not data:
        raise SkipFile("unreadable", "empty file (0 bytes)")
    if not data.startswith(b"MThd"):
        raise SkipFile("unreadable", "not a MIDI file (no MThd header)")
    _check_header(data)
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, struct.error) as err:
        lines = str(err).strip().splitlines()
        text = (err.strerror if isinstance(err, OSError) else None) or (lines[0] if lines else "")
        raise SkipFile("unreadable", f"corrupt or truncated MIDI ({type(err).__name__}: {text})") from err
    if midi.type == 2:
        raise SkipFile("unreadable", "MIDI type 2 (independent sequences) is not supported")
    if midi.ticks_per_beat <= 0:
        raise SkipFile("unreadable", f"ticks per beat is {midi.ticks_per_beat} (need a positive number)")
    return midi


def open_midi(path: str | Path) -> mido.MidiFile:
    """Parse a MIDI file with mido after checking its header against the file.

    :raises SkipFile: the file is unreadable (the reason says why, without repeating its name).
    """
    return _open(Path(path))


RawNotes = dict[int, list[tuple[int, int, int]]]
"""Channel -> ``(onset tick, offset tick, pitch)`` of every note played on it, in one track."""


@dataclass(frozen=True)
class RawTrack:
    """One MIDI track as read, times in ticks from the start of the file.

    :ivar name: the track's name (``""`` when it has none).
    :ivar notes: channel -> ``(onset tick, offset tick, pitch)`` per note, drums included.
    :ivar signatures: ``(tick, numerator, denominator)`` per time signature in the track.
    :ivar programs: ``(tick, channel, program)`` per program change in the track.
    :ivar texts: ``(tick, text)`` per text meta event in the track.
    """

    name: str
    notes: RawNotes
    signatures: list[tuple[int, int, int]]
    programs: list[tuple[int, int, int]]
    texts: list[tuple[int, str]]


def raw_tracks(midi: mido.MidiFile) -> list[RawTrack]:
    """Every track's notes, time signatures, program changes and texts, in ticks, in file order.

    Note-on with velocity 0 counts as note-off. Overlapping notes of the same pitch on the same
    channel are closed first-in first-out; a note never closed ends at its track's last tick.
    """
    tracks = []
    for track in midi.tracks:
        tick = 0
        open_notes: dict[tuple[int, int], list[int]] = {}
        per_channel: RawNotes = {}
        signatures: list[tuple[int, int, int]] = []
        programs: list[tuple[int, int, int]] = []
        texts: list[tuple[int, str]] = []
        for message in track:
            tick += message.time
            if message.type == "time_signature":
                signatures.append((tick, message.numerator, message.denominator))
            elif message.type == "program_change":
                programs.append((tick, message.channel, message.program))
            elif message.type == "text":
                texts.append((tick, message.text))
            elif message.type in ("note_on", "note_off"):
                key = (message.channel, message.note)
                if message.type == "note_on" and message.velocity > 0:
                    open_notes.setdefault(key, []).append(tick)
                elif open_notes.get(key):
                    onset = open_notes[key].pop(0)
                    per_channel.setdefault(message.channel, []).append((onset, tick, message.note))
        for (channel, pitch), onsets in open_notes.items():
            per_channel.setdefault(channel, []).extend((onset, tick, pitch) for onset in onsets)
        tracks.append(RawTrack(track.name, per_channel, signatures, programs, texts))
    return tracks


def read_midi(path: str | Path, midi: mido.MidiFile | None = None) -> Score:
    """Read a MIDI file's notes and bars on the step grid.

    Notes as :func:`raw_tracks` reads them. Programs come from the program changes on the
    note's channel (GM program 0 before any). Notes on :data:`DRUM_CHANNEL` are dropped.

    :param midi: the file already parsed by :func:`open_midi` (``None``: parse ``path``).
    :raises SkipFile: the file is unreadable, holds no notes, or holds only drums.
    """
    path = Path(path)
    midi = _open(path) if midi is None else midi
    tpb = midi.ticks_per_beat
    read = raw_tracks(midi)
    programs = [change for track in read for change in track.programs]
    signatures = [signature for track in read for signature in track.signatures]
    raw: list[tuple[str, RawNotes]] = []
    drum_notes = 0
    for track in read:
        per_channel = dict(track.notes)
        drum_notes += len(per_channel.pop(DRUM_CHANNEL, []))
        raw.append((track.name, per_channel))
    tracks = tuple(
        _note_track(name, channel, notes, programs, tpb)
        for name, per_channel in raw
        for channel, notes in sorted(per_channel.items())
        if notes
    )
    if not tracks:
        raise SkipFile(
            "drums only" if drum_notes else "no notes",
            f"{drum_notes} drum notes, no pitched notes" if drum_notes else "no notes in any track",
        )
    last_tick = max(
        offset for _, per_channel in raw for notes in per_channel.values() for _, offset, _ in notes
    )
    bars = bars_from_time_signatures(signatures, max(last_tick, 1), tpb)
    return Score(str(path), tpb, tracks, bars)


def _note_track(
    name: str, channel: int, notes: list[tuple[int, int, int]], programs: list[tuple[int, int, int]], tpb: int
) -> NoteTrack:
    """Quantise one channel's ``(onset_tick, offset_tick, pitch)`` notes into a :class:`NoteTrack`."""
    ticks = np.array(sorted(notes), dtype=np.int64)  # (n, 3): the first three NOTE_FIELDS, in ticks
    onset = ticks_to_steps(ticks[:, NOTE_ONSET], tpb)
    offset = np.maximum(ticks_to_steps(ticks[:, NOTE_OFFSET], tpb), onset + 1)
    changes = sorted((t, p) for t, c, p in programs if c == channel)
    if changes:
        change_ticks = np.array([t for t, _ in changes])
        change_programs = np.array([0] + [p for _, p in changes])
        program = change_programs[np.searchsorted(change_ticks, ticks[:, NOTE_ONSET], side="right")]
    else:
        program = np.zeros(len(ticks), dtype=np.int64)
    return NoteTrack(name.strip(), channel, np.stack([onset, offset, ticks[:, NOTE_PITCH], program], axis=1))
