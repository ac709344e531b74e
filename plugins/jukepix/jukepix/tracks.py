"""Assign a score's notes to Jukepix's two tracks, per track mode.

Public: :data:`TRACK_MODES`, :data:`MIDDLE_C`, :func:`assign_tracks`.

Modes (track 1, track 2):

``piano-hands``
    right hand, left hand, from the notes played with piano programs (GM 1-8, 0-based 0-7; a
    file without program changes is all piano); a violin or flute part is dropped. Note tracks
    whose name contains "right" go right; "left" or "pedal" (piano-midi.de's "Pedal" track holds
    real bass notes) go left. The remaining note tracks are placed by mean pitch: those at or
    above the midpoint between the highest and the lowest remaining mean pitch go right, the
    others left (two unnamed tracks: the higher one is the right hand). A single remaining track
    fills the hand that is still empty, or, when neither or both are, goes right if its mean
    pitch is at or above :data:`MIDDLE_C`. When all piano notes sit in one note track, each note
    is split at :data:`MIDDLE_C` (pitch >= 60 right, below left). A file that still leaves one
    hand empty is skipped.
``melody-chords``
    the first note track in file order (Nottingham's melody), then every other note track merged
    (the chords). A file with a single note track is skipped.
``piano-strings``
    every note played with a piano program (GM 1-8, 0-based 0-7), then every note played with a
    string program (GM 41-48, 0-based 40-47), whatever track it sits in; other programs are
    dropped. A file lacking either is skipped.
"""

from __future__ import annotations

import numpy as np

from .constants import NOTE_FIELDS, NOTE_PITCH, NOTE_PROGRAM, PIANO_PROGRAMS, STRING_PROGRAMS
from .midi_reader import NoteTrack, Score
from crossmodal.storage.skips import SkipFile

__all__ = ["MIDDLE_C", "TRACK_MODES", "assign_tracks"]

TRACK_MODES = ("piano-hands", "melody-chords", "piano-strings")
"""Names of the track modes, for the command line and the dataset factory."""

MIDDLE_C = 60
"""MIDI pitch of middle C (C4): the split point for a single-track piano file."""

RIGHT_NAMES = ("right",)
LEFT_NAMES = ("left", "pedal")


def _merge(tracks: list[NoteTrack]) -> np.ndarray:
    """Concatenate the note arrays of ``tracks``: int64 ``(n, len(NOTE_FIELDS))`` (an empty
    array if none)."""
    if not tracks:
        return np.zeros((0, len(NOTE_FIELDS)), dtype=np.int64)
    return np.concatenate([t.notes for t in tracks])


def _piano_only(tracks: tuple[NoteTrack, ...]) -> list[NoteTrack]:
    """The tracks' notes played with piano programs; tracks left without notes are dropped."""
    kept = []
    for track in tracks:
        piano = track.notes[np.isin(track.notes[:, NOTE_PROGRAM], list(PIANO_PROGRAMS))]
        if len(piano):
            kept.append(NoteTrack(track.name, track.channel, piano))
    return kept


def _piano_hands(tracks: list[NoteTrack]) -> tuple[np.ndarray, np.ndarray]:
    """Right-hand and left-hand notes (see the module docstring for the rule)."""
    if not tracks:
        return _merge([]), _merge([])
    if len(tracks) == 1:
        notes = tracks[0].notes
        high = notes[:, NOTE_PITCH] >= MIDDLE_C
        return notes[high], notes[~high]
    right = [t for t in tracks if any(w in t.name.lower() for w in RIGHT_NAMES)]
    left = [t for t in tracks if t not in right and any(w in t.name.lower() for w in LEFT_NAMES)]
    rest = [t for t in tracks if t not in right and t not in left]
    if len(rest) == 1 and bool(right) != bool(left):
        (left if right else right).append(rest[0])
    elif len(rest) == 1:
        (right if rest[0].mean_pitch >= MIDDLE_C else left).append(rest[0])
    elif rest:
        means = [t.mean_pitch for t in rest]
        midpoint = (max(means) + min(means)) / 2
        for track, mean in zip(rest, means):
            (right if mean >= midpoint else left).append(track)
    return _merge(right), _merge(left)


def assign_tracks(score: Score, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Split ``score``'s notes into track 1 and track 2 for ``mode``.

    :returns: two int64 note arrays ``(n_notes, len(NOTE_FIELDS))`` (columns
        :data:`jukepix.constants.NOTE_FIELDS`).
    :raises ValueError: ``mode`` is not one of :data:`TRACK_MODES`.
    :raises SkipFile: the layout does not fit the mode (category ``"track layout"``).
    """
    if mode == "piano-hands":
        first, second = _piano_hands(_piano_only(score.tracks))
        missing = "right hand" if not len(first) else "left hand" if not len(second) else ""
    elif mode == "melody-chords":
        if len(score.tracks) < 2:
            raise SkipFile("track layout", "melody-chords needs 2 note tracks, found 1 (melody only)")
        first, second = score.tracks[0].notes, _merge(list(score.tracks[1:]))
        missing = ""
    elif mode == "piano-strings":
        notes = _merge(list(score.tracks))
        first = notes[np.isin(notes[:, NOTE_PROGRAM], list(PIANO_PROGRAMS))]
        second = notes[np.isin(notes[:, NOTE_PROGRAM], list(STRING_PROGRAMS))]
        missing = (
            "piano (programs 0-7)"
            if not len(first)
            else "strings (programs 40-47)"
            if not len(second)
            else ""
        )
    else:
        raise ValueError(f"unknown track mode {mode!r}; expected one of {', '.join(TRACK_MODES)}")
    if missing:
        raise SkipFile("track layout", f"{mode}: no notes for the {missing}")
    return first, second
