"""Jukepix's fixed sizes and units, in one place.

A phrase is ``(BARS_PER_PHRASE, STEPS_PER_BAR, N_PITCHES, N_TRACKS)`` = ``(4, 96, 128, 2)``:
bars, time steps (24 per beat, 4/4), MIDI pitches 0-127, tracks. A painting is
``(3, IMAGE_SIZE, IMAGE_SIZE)`` RGB, float in [0, 1].
"""

STEPS_PER_BEAT = 24
"""Time steps per quarter note (a 32nd-note triplet grid; a 32nd note is 3 steps)."""

BEATS_PER_BAR = 4
"""Quarter notes per bar: Jukepix keeps 4/4 material only."""

STEPS_PER_BAR = STEPS_PER_BEAT * BEATS_PER_BAR
"""96 time steps per bar."""

BARS_PER_PHRASE = 4
"""Bars in one phrase, the unit the critic judges."""

STEPS_PER_PHRASE = STEPS_PER_BAR * BARS_PER_PHRASE
"""384 time steps per phrase."""

N_PITCHES = 128
"""MIDI pitches 0 (C-1) to 127 (G9)."""

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

DEFAULT_TEMPO_QPM = 100.0
"""Tempo written into generated MIDI, in quarter notes per minute."""
