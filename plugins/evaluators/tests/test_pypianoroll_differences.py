"""Where pypianoroll 1.0.4's metrics differ from ours, pinned on the same hand-built inputs.

Each test asserts pypianoroll's actual (wrong, or differently defined) value next to ours, so it
fails if pypianoroll is fixed (then update ``docs/evaluators.md``) or if our value changes.
pypianoroll works on one track ``(time steps, 128 pitches)``; we pass it one track of a phrase
with the bars laid end to end. See ``shared/docs/PITFALLS.md`` and ``docs/evaluators.md``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from crossmodal_evaluators.metrics import METRICS

pypianoroll = pytest.importorskip("pypianoroll")

C4, D4, E4, F4, G4, A4, B4, C5 = 60, 62, 64, 65, 67, 69, 71, 72
SHAPE = (1, 4, 96, 128, 2)
BEAT = 24


def track_roll(roll: torch.Tensor, track: int = 0, sample: int = 0) -> np.ndarray:
    """One track of one sample as pypianoroll wants it: ``(bars * steps, 128)`` bool."""
    phrase = roll[sample, ..., track]
    return phrase.reshape(-1, phrase.shape[-1]).numpy().copy()


def ours(name: str, roll: torch.Tensor, **options) -> float:
    """Our value for track 0 of sample 0."""
    return METRICS[name](roll, **options).per_sample()[0, 0].item()


def test_pitch_classes_are_grouped_by_tens(make_roll):
    triad = make_roll(SHAPE, [(0, 0, p, 0, 96) for p in (C4, E4, G4)])
    assert pypianoroll.n_pitch_classes_used(track_roll(triad)) == 1  # 60, 64, 67 all in "6x"
    assert ours("upc", triad) == 3
    octave = make_roll(SHAPE, [(0, 0, C4, 0, 96), (0, 0, C5, 0, 96)])
    assert pypianoroll.n_pitch_classes_used(track_roll(octave)) == 2  # 60 and 72: "6x", "7x"
    assert ours("upc", octave) == 1


def test_pitch_class_helper_modifies_the_callers_array(make_roll):
    roll = track_roll(make_roll(SHAPE, [(0, 0, 120, 0, 5)]))
    pypianoroll.n_pitch_classes_used(roll)
    # pitches 120-127 are added into pitches 10 r + j (j < 8) of the caller's own array
    assert np.flatnonzero(roll.any(0)).tolist() == list(range(0, 121, 10))


def test_in_scale_rate_of_a_c_major_scale(make_roll):
    scale = make_roll(SHAPE, [(0, 0, p, 10 * i, 5) for i, p in enumerate((C4, D4, E4, F4, G4, A4, B4))])
    # root=3 is C major (roots count from A), but the tens grouping puts 60-69 in class 6,
    # outside the scale: only B4 (71, class 7) counts, 5 of 35 cells
    assert pypianoroll.in_scale_rate(track_roll(scale)) == pytest.approx(1 / 7)
    assert pypianoroll.in_scale_rate(track_roll(scale), root=0) == pytest.approx(6 / 7)  # A major
    assert ours("in-scale", scale) == 1.0


def test_empty_beat_rate_returns_the_non_empty_share(make_roll):
    roll = make_roll(SHAPE, [(0, 0, C4, 20, 6), (0, 0, E4, 5 * BEAT, 1)])  # 3 of 16 beats sound
    assert pypianoroll.empty_beat_rate(track_roll(roll), BEAT) == pytest.approx(3 / 16)
    assert ours("empty-beats", roll) == pytest.approx(13 / 16)


def test_qualified_note_rate_crashes_on_binary_rolls(make_roll):
    roll = make_roll(SHAPE, [(0, 0, C4, 0, 3), (0, 0, E4, 10, 2)])
    # uint8 differences wrap around (0 - 1 = 255), so no offset is found and the arrays mismatch
    with pytest.raises(ValueError, match="could not be broadcast"):
        pypianoroll.qualified_note_rate(track_roll(roll), threshold=3)
    with pytest.raises(ValueError, match="could not be broadcast"):
        pypianoroll.qualified_note_rate(track_roll(roll).astype(np.uint8), threshold=3)
    assert ours("qn", roll) == 0.5


def test_qualified_note_rate_on_integer_rolls_counts_every_note(make_roll):
    roll = make_roll(SHAPE, [(0, 0, C4, 0, 3), (0, 0, E4, 10, 2)])
    # lengths are differences of flattened (time, pitch) indices, i.e. 128 x the real length
    assert pypianoroll.qualified_note_rate(track_roll(roll).astype(np.int64), threshold=3) == 1.0
    assert ours("qn", roll) == 0.5


@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_tonal_distance_crashes_at_24_steps_per_beat(make_roll):
    roll = make_roll(SHAPE, [(0, 0, p, 0, 96) for p in (C4, E4, G4)])
    with pytest.raises(ValueError, match="matmul"):
        pypianoroll.tonal_distance(track_roll(roll), track_roll(roll), BEAT)
    assert ours("td", make_roll(SHAPE, [(0, k, p, 0, 96) for k in (0, 1) for p in (C4, E4, G4)])) == pytest.approx(0)


def test_polyphonic_rate_needs_three_pitches_and_counts_silence(make_roll):
    dyad = make_roll(SHAPE, [(0, 0, C4, 0, 48), (0, 0, E4, 0, 48)])
    assert pypianoroll.polyphonic_rate(track_roll(dyad)) == 0.0  # "> threshold=2" pitches
    assert ours("polyphony", dyad) == 1.0
    triad = make_roll(SHAPE, [(0, 0, p, 0, 96) for p in (C4, E4, G4)])
    assert pypianoroll.polyphonic_rate(track_roll(triad)) == pytest.approx(96 / 384)  # over all steps
    assert ours("polyphony", triad) == 1.0  # over the 96 steps that sound


def test_pitch_range_and_pitches_used_agree(make_roll):
    generator = torch.Generator().manual_seed(5)
    rolls = torch.rand(4, 4, 96, 128, 2, generator=generator) < 0.002
    rolls[3] = False  # a silent phrase
    for metric, theirs in (("pitch-range", pypianoroll.pitch_range), ("n-pitches", pypianoroll.n_pitches_used)):
        values = METRICS[metric](rolls).per_sample()
        for sample in range(4):
            for track in range(2):
                expected = theirs(track_roll(rolls, track, sample))
                if math.isnan(expected):
                    assert math.isnan(values[sample, track]), (metric, sample, track)
                else:
                    assert values[sample, track] == expected, (metric, sample, track)
