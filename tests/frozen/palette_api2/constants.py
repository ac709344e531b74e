"""Every shape and unit of the palette plugin, in one place.

A palette is ``PALETTE_SHAPE = (5, 3)``: 5 colours, each (red, green, blue) in [0, 1].
A light pattern is ``PATTERN_SHAPE = (2, 8, 2)``: 2 segments of 8 time steps for 2 lamps (the
tracks), each value the lamp's brightness in [0, 1] (0 = off, 1 = full). A batch adds a leading
batch axis: ``(B, 5, 3)`` and ``(B, 2, 8, 2)``.
"""

N_COLOURS = 5
"""Colours per palette."""

N_CHANNELS = 3
"""Channels per colour: red, green, blue, each in [0, 1]."""

PALETTE_SHAPE = (N_COLOURS, N_CHANNELS)
"""Shape of one condition: (colours, RGB channels)."""

N_SEGMENTS = 2
"""Segments per pattern (the temporal source makes one vector per segment)."""

STEPS_PER_SEGMENT = 8
"""Time steps per segment (the decoder makes one segment of one lamp at a time)."""

N_LAMPS = 2
"""Lamps per pattern: the tracks (one decoder each)."""

SEGMENT_SHAPE = (STEPS_PER_SEGMENT,)
"""Shape of one segment of one lamp: (steps,)."""

PATTERN_SHAPE = (N_SEGMENTS, STEPS_PER_SEGMENT, N_LAMPS)
"""Shape of one sample: (segments, steps, lamps)."""

SAMPLE_KIND = "light-pattern"
"""``sample_kind`` of the pattern dataset and of the evaluators that read patterns."""

PALETTE_KIND = "palette"
"""``sample_kind`` of the palette dataset."""

ON_LEVEL = 0.5
"""Brightness at or above which a lamp counts as on (evaluators, text rendering)."""
