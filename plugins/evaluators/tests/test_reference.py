"""Property tests: the batched torch metrics equal the loop-based reference on random rolls.

Rolls are drawn two ways: independent random cells (any density, so every corner case of runs,
empty bars and ties shows up on small shapes) and random notes (maximal runs, as real data has).
Shapes, steps per beat, the lowest pitch and every threshold are drawn too. Numerators and
denominators are compared per sample, so a pooled value cannot hide a per-sample error.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossmodal_evaluators.metrics import METRICS

import metric_reference as reference  # the loop-based oracle, beside the tests (see conftest.py)

OPTIONS = {
    "eb": (),
    "upc": ("lowest_pitch",),
    "qn": ("min_steps",),
    "td": ("steps_per_beat", "lowest_pitch", "radii"),
    "polyphony": ("min_pitches",),
    "in-scale": ("lowest_pitch",),
    "pitch-range": (),
    "n-pitches": (),
    "empty-beats": ("steps_per_beat",),
}
"""Which drawn options (besides ``threshold``) each metric takes."""


def random_roll(rng: np.random.Generator, shape: tuple[int, ...], mode: str, density: float) -> np.ndarray:
    """A float32 roll of probabilities: random cells, or random notes (runs) of random lengths."""
    n, s, t, p, k = shape
    if mode == "cells":
        return (rng.random(shape) < density).astype(np.float32) * rng.uniform(0.3, 1.0, shape).astype(np.float32)
    flat = np.zeros((n, s * t, p, k), np.float32)
    n_notes = int(density * s * t * k)
    for _ in range(n_notes):
        sample, pitch, track = rng.integers(n), rng.integers(p), rng.integers(k)
        start = rng.integers(s * t)
        length = rng.integers(1, max(2, t))
        flat[sample, start : start + length, pitch, track] = 1.0
    return flat.reshape(shape)


@st.composite
def cases(draw, full_size: bool = False):
    """(roll, options) with a random shape and random metric options."""
    if full_size:
        shape, steps_per_beat = (1, 4, 96, 128, 2), 24
    else:
        steps_per_beat = draw(st.integers(1, 4))
        steps_per_bar = steps_per_beat * draw(st.integers(1, 3))
        shape = (
            draw(st.integers(1, 3)),  # samples
            draw(st.integers(1, 3)),  # bars
            steps_per_bar,
            draw(st.integers(1, 26)),  # pitches
            draw(st.integers(1, 3)),  # tracks
        )
    mode = draw(st.sampled_from(["cells", "notes"]))
    density = draw(st.floats(0.0, 0.12 if full_size else 1.0))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    options = {
        "threshold": draw(st.sampled_from([0.5, 0.25, 0.8])),
        "steps_per_beat": steps_per_beat,
        "lowest_pitch": draw(st.integers(0, 127)),
        "min_steps": draw(st.integers(0, 5)),
        "min_pitches": draw(st.integers(1, 4)),
        "radii": draw(st.sampled_from([(1.0, 1.0, 0.5), (2.0, 0.5, 1.0)])),
    }
    return random_roll(rng, shape, mode, density), options


def assert_same(name: str, roll: np.ndarray, options: dict) -> None:
    chosen = {key: options[key] for key in OPTIONS[name] + ("threshold",)}
    ratio = METRICS[name](torch.from_numpy(roll), **chosen)
    numerator, denominator = reference.evaluate(name, roll, **chosen)
    np.testing.assert_allclose(ratio.numerator.numpy(), numerator, rtol=1e-9, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(ratio.denominator.numpy(), denominator, rtol=0, atol=0, err_msg=name)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_batched_metrics_equal_the_reference_on_small_rolls(case):
    roll, options = case
    for name in METRICS:
        assert_same(name, roll, options)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(full_size=True))
def test_batched_metrics_equal_the_reference_on_jukepix_phrases(case):
    roll, options = case
    for name in METRICS:
        assert_same(name, roll, options)


@settings(max_examples=30, deadline=None)
@given(cases(), st.integers(-60, 60))
def test_td_and_upc_do_not_change_under_transposition(case, semitones):
    # Shifting every pitch by the same interval rotates each circle of the tonal centroid
    # (an isometry) and permutes the pitch classes, so TD and UPC stay the same.
    roll, options = case
    roll = torch.from_numpy(roll)
    for name in ("td", "upc"):
        chosen = {key: options[key] for key in OPTIONS[name]}
        before = METRICS[name](roll, **chosen)
        chosen["lowest_pitch"] = options["lowest_pitch"] + semitones + 120  # keep it non-negative
        after = METRICS[name](roll, **chosen)
        torch.testing.assert_close(after.per_sample(), before.per_sample(), equal_nan=True)


@settings(max_examples=30, deadline=None)
@given(cases())
def test_per_track_metrics_follow_the_tracks_and_stay_in_range(case):
    roll, options = case
    roll = torch.from_numpy(roll)
    for name in METRICS:
        if name == "td":
            continue
        chosen = {key: options[key] for key in OPTIONS[name]}
        values = METRICS[name](roll, **chosen).per_sample()
        flipped = METRICS[name](roll.flip(-1), **chosen).per_sample()
        torch.testing.assert_close(flipped, values.flip(-1), equal_nan=True)
        finite = values[~values.isnan()]
        if name in ("eb", "qn", "polyphony", "in-scale", "empty-beats"):
            assert ((finite >= 0) & (finite <= 1)).all(), name
        else:
            assert (finite >= 0).all(), name
