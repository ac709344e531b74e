"""Read the MIDI files the Jukepix writer wrote back as exactly the phrases written.

Public: :data:`PHRASE_MARKER`, :func:`phrase_marker`, :func:`written_phrases`.

A generated phrase is a phrase whatever its notes: one with a silent track, or with notes in a
single bar, must be evaluated as it is. Cut like other music (:func:`jukepix.phrases.cut_phrases`)
such a file would be dropped ("no 4 consecutive bars with notes", "no notes") or cut elsewhere,
and the metrics would describe some other set of phrases. So
:class:`jukepix.writer.PianoRollWriter` marks each file with a text meta event in its conductor
track, :func:`phrase_marker` (``"jukepix phrases: 4 bars of 4/4, 2 tracks"``), and a file that
carries it is read by :func:`written_phrases`:

- the tracks after the conductor track are the phrase's tracks, in order (track 1 first), all
  their notes whatever the channel or program: no track mode is applied;
- bars are 4/4 from tick 0; the roll holds exactly the bars the marker names, cut into phrases
  of :data:`~jukepix.constants.BARS_PER_PHRASE` bars, silent phrases included;
- notes go on the step grid as :mod:`jukepix.midi_reader` puts them (ticks rounded to the nearest
  step) and are drawn by :func:`jukepix.phrases.notes_to_roll`.

The writer leaves an off-step between two notes of one pitch, so a written phrase reads back
cell for cell. A file saved again by another program usually loses the marker; it is then read
as any other MIDI file.
"""

from __future__ import annotations

import re
from typing import Sequence

import mido
import numpy as np

from crossmodal.storage.skips import SkipFile

from .constants import (
    BARS_PER_PHRASE,
    BEAT_NOTE_VALUE,
    BEATS_PER_BAR,
    N_TRACKS,
    NOTE_FIELDS,
    NOTE_OFFSET,
    NOTE_ONSET,
    NOTE_PITCH,
    STEPS_PER_BAR,
)
from .midi_reader import RawTrack, raw_tracks, ticks_to_steps
from .phrases import notes_to_roll

__all__ = ["PHRASE_MARKER", "phrase_marker", "written_phrases"]

PHRASE_MARKER = "jukepix phrases"
"""Start of the text meta event that marks a file as written by the Jukepix writer."""

_MARKER = re.compile(rf"^{re.escape(PHRASE_MARKER)}: (\d+) bars of (\d+)/(\d+), (\d+) tracks$")


def phrase_marker(n_phrases: int = 1) -> str:
    """The marker text of a file holding ``n_phrases`` phrases, one after the other."""
    return (
        f"{PHRASE_MARKER}: {n_phrases * BARS_PER_PHRASE} bars of {BEATS_PER_BAR}/{BEAT_NOTE_VALUE}, "
        f"{N_TRACKS} tracks"
    )


def _marker(tracks: Sequence[RawTrack]) -> tuple[str, tuple[int, int, int, int]] | None:
    """The first marker text of the file and its numbers (bars, numerator, denominator, tracks)."""
    for track in tracks:
        for _, text in track.texts:
            match = _MARKER.match(text.strip())
            if match:
                return text.strip(), tuple(int(group) for group in match.groups())
    return None


def written_phrases(midi: mido.MidiFile) -> np.ndarray | None:
    """The phrases of a file written by the Jukepix writer; ``None`` for any other file.

    :param midi: a parsed file (:func:`jukepix.midi_reader.open_midi`).
    :returns: bool ``(n_phrases, 4, 96, 128, 2)`` (phrases, bars, steps, MIDI pitches, tracks),
        silent phrases and tracks included.
    :raises SkipFile: the file carries the marker but does not hold what it says (category
        ``unreadable``, the reason says what differs).
    """
    tracks = raw_tracks(midi)
    found = _marker(tracks)
    if found is None:
        return None
    text, (n_bars, numerator, denominator, n_tracks) = found
    problem = None
    meters = {(n, d) for track in tracks for _, n, d in track.signatures}
    parts = tracks[1:]  # the conductor track, then one track per phrase track
    if (numerator, denominator) != (BEATS_PER_BAR, BEAT_NOTE_VALUE) or n_tracks != N_TRACKS:
        problem = f"this Jukepix reads {BEATS_PER_BAR}/{BEAT_NOTE_VALUE} phrases of {N_TRACKS} tracks"
    elif n_bars == 0 or n_bars % BARS_PER_PHRASE:
        problem = f"{n_bars} bars is not a whole number of {BARS_PER_PHRASE}-bar phrases"
    elif meters - {(BEATS_PER_BAR, BEAT_NOTE_VALUE)}:
        problem = "it holds time signature(s) " + ", ".join(f"{n}/{d}" for n, d in sorted(meters))
    elif len(parts) != N_TRACKS:
        problem = f"it holds {len(parts)} track(s) after the conductor track, not {N_TRACKS}"
    if problem is not None:
        raise SkipFile("unreadable", f"marked {text!r} by the Jukepix writer, but {problem}")
    notes = []
    for part in parts:
        ticks = np.array(sorted(note for channel in part.notes.values() for note in channel), dtype=np.int64)
        ticks = ticks.reshape(-1, 3)  # (n, 3): onset tick, offset tick, pitch
        onset = ticks_to_steps(ticks[:, 0], midi.ticks_per_beat)
        offset = np.maximum(ticks_to_steps(ticks[:, 1], midi.ticks_per_beat), onset + 1)
        columns = np.zeros((len(ticks), len(NOTE_FIELDS)), dtype=np.int64)
        columns[:, NOTE_ONSET], columns[:, NOTE_OFFSET], columns[:, NOTE_PITCH] = onset, offset, ticks[:, 2]
        notes.append(columns)
    roll = notes_to_roll(notes, n_bars * STEPS_PER_BAR)  # (steps, pitches, tracks)
    return roll.reshape(n_bars // BARS_PER_PHRASE, BARS_PER_PHRASE, STEPS_PER_BAR, *roll.shape[1:])
