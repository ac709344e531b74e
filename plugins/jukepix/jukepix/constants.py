"""Jukepix's fixed sizes and units, in one place.

A phrase is ``(BARS_PER_PHRASE, STEPS_PER_BAR, N_PITCHES, N_TRACKS)`` = ``(4, 96, 128, 2)``:
bars, time steps (24 per beat, 4/4), MIDI pitches 0-127, tracks. A painting is
``(3, IMAGE_SIZE, IMAGE_SIZE)`` RGB, float in [0, 1]. A note array is int64
``(n_notes, len(NOTE_FIELDS))``, its columns indexed by ``NOTE_ONSET``... ``NOTE_PROGRAM``.
"""

STEPS_PER_BEAT = 24
"""Time steps per quarter note (a 32nd-note triplet grid; a 32nd note is 3 steps)."""

BEATS_PER_BAR = 4
"""Quarter notes per bar: Jukepix keeps 4/4 material only."""

BEAT_NOTE_VALUE = 4
"""The time signature's denominator: the beat is a quarter note (the 4 under the 4 of 4/4)."""

STEPS_PER_BAR = STEPS_PER_BEAT * BEATS_PER_BAR
"""96 time steps per bar."""

BARS_PER_PHRASE = 4
"""Bars in one phrase, the unit the critic judges."""

N_PITCHES = 128
"""MIDI pitches 0 (C-1) to 127 (G9)."""

MIDI_MAX_VALUE = 127
"""Largest value of a 7-bit MIDI data byte: the highest pitch, velocity or (0-based) program."""

SEMITONES_PER_OCTAVE = 12
"""Pitch classes C ... B: MIDI pitch ``p`` has pitch class ``p % SEMITONES_PER_OCTAVE`` (0 = C)."""

N_OCTAVES = -(-N_PITCHES // SEMITONES_PER_OCTAVE)
"""11 octaves starting on C cover the MIDI pitches (C-1 ... B9; the last one only up to G9)."""

N_TRACKS = 2
"""Tracks per phrase: right/left hand, or piano/strings, or melody/chords."""

PHRASE_SHAPE = (BARS_PER_PHRASE, STEPS_PER_BAR, N_PITCHES, N_TRACKS)
"""Shape of one phrase: (bars, time steps, pitches, tracks)."""

IMAGE_SIZE = 256
"""Side of a prepared painting, in pixels."""

IMAGE_SHAPE = (3, IMAGE_SIZE, IMAGE_SIZE)
"""Shape of one painting tensor: (RGB channels, height, width)."""

STRING_PROGRAMS = range(40, 48)
"""GM programs 41-48 (strings), 0-based as in mido / pretty_midi: violin 40 ... timpani 47."""

PIANO_PROGRAMS = range(0, 8)
"""GM programs 1-8 (pianos), 0-based."""

ACOUSTIC_GRAND_PIANO = 0
"""GM program 1, 0-based: the piano of every piano track written."""

STRING_ENSEMBLE = 48
"""GM program 49 "String Ensemble 1", 0-based: the strings track written. It merges several string
parts and is often polyphonic, which an ensemble patch plays as a section; a solo patch from
:data:`STRING_PROGRAMS` (violin 40) would play chords as one violin."""

PIANO_PROGRAMS_PAIR = (ACOUSTIC_GRAND_PIANO, ACOUSTIC_GRAND_PIANO)
"""GM programs (0-based) written for two piano tracks (two hands, or melody and chords)."""

PIANO_STRINGS_PROGRAMS = (ACOUSTIC_GRAND_PIANO, STRING_ENSEMBLE)
"""GM programs (0-based) written for piano + strings."""

NOTE_FIELDS = ("onset", "offset", "pitch", "program")
"""Columns of a note array: onset and offset in grid steps (offset exclusive), MIDI pitch 0-127,
GM program 0-127 (0-based)."""

NOTE_ONSET, NOTE_OFFSET, NOTE_PITCH, NOTE_PROGRAM = range(len(NOTE_FIELDS))
"""Column indices of :data:`NOTE_FIELDS` in a note array."""

DEFAULT_TEMPO_QPM = 100.0
"""Tempo written into generated MIDI, in quarter notes per minute."""
