"""Realism: phrase features on hand-built phrases, the densities' overlap and KL, and the report.

Feature values are worked out by hand in the comments beside each phrase; the two tracks of a
phrase differ in every feature, so a swapped axis or a complement cannot pass.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from crossmodal.errors import ShapeError
from crossmodal_evaluators import realism as realism_module
from crossmodal_evaluators.realism import (
    FEATURES,
    compare_features,
    format_table,
    kl,
    overlap,
    phrase_features,
    realism,
    split_halves,
)

C3, D3, F3, FS3, A3 = 48, 50, 53, 54, 57
C4, E4, G4, C5 = 60, 64, 67, 72
SHAPE = (1, 4, 96, 128, 2)  # one Jukepix phrase: bars, steps (24 per beat), pitches, tracks
BEAT = 24
HALF_NOTE = 2 * BEAT

# Track 0: two voices in half notes, 8 onset times (every 2 beats), upper G4 C5 G4 C5 ..., lower
# C4 E4 C4 E4 ...: 16 notes of 2 beats, 2 pitches at each onset, range C4-C5 = 12, mean pitch
# (4*67 + 4*72 + 4*60 + 4*64) / 16 = 65.75, pitch classes C 8, E 4, G 4 (entropy 1.5 bits), top
# line G4 C5 G4 ... (largest leap 5).
TWO_VOICES = [
    (0, 0, pitch, i * HALF_NOTE, HALF_NOTE)
    for i in range(8)
    for pitch in ((G4, C4) if i % 2 == 0 else (C5, E4))
]
# Track 1, off the grid: C3 at 0 (12 steps), D3 at 12 (8), F#3 + A3 at 20 (4 and 10), F#3 at 100
# (20), F3 at 200 (40). Onset times 0, 12, 20, 100, 200: on a beat 1 of 5, on the 8th grid 2 of 5
# (0, 12); pitches on at them 1, 1, 2, 1, 1; gaps 12, 8, 80, 100 steps (mean 50 = 50/24 beats).
# 6 notes of 94 steps in all. Top line C3 D3 A3 (rest) F#3 (rest) F3: leaps 2, 7, 3, 1.
OFF_GRID = [
    (0, 1, C3, 0, 12), (0, 1, D3, 12, 8), (0, 1, FS3, 20, 4), (0, 1, A3, 20, 10),
    (0, 1, FS3, 100, 20), (0, 1, F3, 200, 40),
]
# The phrase's notes per pitch class: C 9, D 1, E 4, F 1, F# 2, G 4, A 1. C major holds
# 9+1+4+1+4+1 = 20, G major 9+1+4+2+4+1 = 21: G major, so track 0 is all in key and track 1 has
# its F out (5/6); a wrongly chosen C major would give 4/6.


def entropy_bits(counts: list[int]) -> float:
    shares = np.array(counts) / sum(counts)
    return float(-(shares * np.log2(shares)).sum())


EXPECTED = {
    "onset_on_beat": [1.0, 1 / 5],
    "onset_on_8th_grid": [1.0, 2 / 5],
    "voices_at_onset": [2.0, 6 / 5],
    "note_length": [2.0, 94 / 6 / BEAT],
    "inter_onset": [2.0, 200 / 4 / BEAT],
    "notes": [16.0, 6.0],
    "pitch_range": [12.0, A3 - C3],
    "mean_pitch": [65.75, (C3 + D3 + FS3 + A3 + FS3 + F3) / 6],
    "pitch_class_entropy": [1.5, entropy_bits([1, 1, 2, 1, 1])],
    "largest_leap": [5.0, 7.0],
    "in_key": [1.0, 5 / 6],
}


def test_every_feature_of_a_hand_built_phrase(make_roll):
    values = phrase_features(make_roll(SHAPE, TWO_VOICES + OFF_GRID))
    assert list(values) == [feature.name for feature in FEATURES] == list(EXPECTED)
    for name, expected in EXPECTED.items():
        assert values[name].shape == (1, 2)
        np.testing.assert_allclose(values[name][0], expected, rtol=1e-12, err_msg=name)


def test_an_empty_track_is_undefined_except_its_note_count(make_roll):
    values = phrase_features(make_roll(SHAPE, OFF_GRID))  # track 0 silent
    for name, value in values.items():
        if name == "notes":
            assert value[0, 0] == 0.0
        else:
            assert math.isnan(value[0, 0]), name
        assert not math.isnan(value[0, 1]), name


def test_one_chord_has_no_inter_onset_and_a_held_pitch_no_leap(make_roll):
    # track 0: a C4-E4 chord at step 30 (one onset time), E4 released first: top line E4 then C4.
    # track 1: G4 struck twice (23 steps, a one-step rest, 24 steps): top line G4 only.
    notes = [(0, 0, C4, 30, 20), (0, 0, E4, 30, 10), (0, 1, G4, 0, 23), (0, 1, G4, 24, 24)]
    values = phrase_features(make_roll(SHAPE, notes))
    assert math.isnan(values["inter_onset"][0, 0])
    assert values["inter_onset"][0, 1] == 1.0  # onsets 0 and 24
    assert values["largest_leap"][0, 0] == 4.0
    assert values["largest_leap"][0, 1] == 0.0
    np.testing.assert_allclose(values["note_length"][0], [15 / BEAT, 23.5 / BEAT])
    np.testing.assert_allclose(values["notes"][0], [2, 2])


def test_top_line_skips_rests_and_follows_the_highest_pitch(make_roll):
    # C4 (held 0-47) under E4 (0-11) then G4 (12-23); rest 48-99; C5 at 100. Top line:
    # E4, G4, C4 (the upper voice stops), C5: leaps 3, 7, 12 -> 12 across the rest.
    notes = [(0, 0, C4, 0, 48), (0, 0, E4, 0, 12), (0, 0, G4, 12, 12), (0, 0, C5, 100, 5)]
    values = phrase_features(make_roll(SHAPE, notes))
    assert values["largest_leap"][0, 0] == 12.0


def test_a_note_across_a_bar_line_is_one_note(make_roll):
    notes = [(0, 0, C4, 90, 12), (0, 1, C4, 0, 4)]  # steps 90-101: bar 0 into bar 1
    values = phrase_features(make_roll(SHAPE, notes))
    np.testing.assert_allclose(values["notes"][0], [1, 1])
    np.testing.assert_allclose(values["note_length"][0], [0.5, 4 / BEAT])
    np.testing.assert_allclose(values["onset_on_8th_grid"][0], [0.0, 1.0])  # 90 % 12 = 6


def test_probabilities_are_binarised_at_the_threshold(make_roll):
    roll = make_roll(SHAPE, TWO_VOICES + OFF_GRID).float() * 0.9
    roll[0, 3, 50, 100, 0] = 0.5  # exactly 0.5 is off: no extra note
    values = phrase_features(roll)
    np.testing.assert_allclose(values["notes"][0], [16, 6])


def test_steps_per_beat_and_lowest_pitch_are_used(make_roll):
    # 2 bars of 8 steps at 4 steps per beat, pitch index 0 = MIDI 60 (C4). Notes at steps 0 (2
    # steps, index 0 = C4), 2 (index 7 = G4, 4 steps) and 9 (index 6 = F#4, 1 step): onsets in
    # the bar 0, 2, 1 -> on a beat 1/3, on the 8th grid (multiples of 2) 2/3.
    roll = make_roll((1, 2, 8, 12, 1), [(0, 0, 0, 0, 2), (0, 0, 7, 2, 4), (0, 0, 6, 9, 1)])
    values = phrase_features(roll, steps_per_beat=4, lowest_pitch=60)
    assert values["onset_on_beat"][0, 0] == pytest.approx(1 / 3)
    assert values["onset_on_8th_grid"][0, 0] == pytest.approx(2 / 3)
    assert values["note_length"][0, 0] == pytest.approx(7 / 3 / 4)
    assert values["mean_pitch"][0, 0] == pytest.approx((60 + 67 + 66) / 3)
    assert values["in_key"][0, 0] == pytest.approx(1.0)  # C, G, F#: G major holds all three


def test_chunks_give_the_same_features(make_roll, monkeypatch):
    roll = make_roll((3, 4, 96, 128, 2), [(1, *note[1:]) for note in TWO_VOICES + OFF_GRID] + [(2, 0, C4, 5, 7)])
    whole = phrase_features(roll)
    monkeypatch.setattr(realism_module, "PHRASES_PER_CHUNK", 2)
    chunked = phrase_features(roll)
    for name in whole:
        np.testing.assert_array_equal(whole[name], chunked[name])
    assert whole["notes"][:, 0].tolist() == [0, 16, 1]


def test_features_refuse_a_roll_that_is_not_5d():
    with pytest.raises(ShapeError):
        phrase_features(torch.zeros(4, 96, 128, 2))


# --- overlap and KL --------------------------------------------------------------------------


def test_overlap_of_identical_samples_is_one_and_kl_zero():
    values = np.random.default_rng(0).normal(60, 5, 200)
    assert overlap(values, values) == pytest.approx(1.0, abs=1e-6)
    assert kl(values, values) == pytest.approx(0.0, abs=1e-12)


def test_far_apart_samples_do_not_overlap():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 100), rng.normal(100, 1, 100)
    assert overlap(a, b) < 1e-9
    assert kl(a, b) > 15  # bounded by the floor: about log(1 / 1e-10) = 23 nats at most


def test_two_single_values_give_two_unit_normals():
    # N(0, 1) against N(1, 1): overlap 2 Phi(-1/2) = erfc(1 / (2 sqrt 2)), KL = 1/2 nat
    assert overlap([0.0], [1.0], min_bandwidth=1.0) == pytest.approx(math.erfc(0.5 / math.sqrt(2)), abs=1e-5)
    assert kl([0.0], [1.0], min_bandwidth=1.0) == pytest.approx(0.5, abs=1e-5)


def test_kde_overlap_matches_scipy_gaussian_kde():
    from scipy import stats  # installed with pypianoroll, a dependency of the plugins
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 50), rng.normal(1.5, 2, 80)
    grid = np.linspace(-15, 20, 200_001)
    expected = np.trapezoid(np.minimum(stats.gaussian_kde(a)(grid), stats.gaussian_kde(b)(grid)), grid)
    assert overlap(a, b) == pytest.approx(expected, abs=1e-6)


def test_min_bandwidth_widens_a_narrow_density():
    # 0, 0, 0, 0.001 has Scott bandwidth 0.0004: far narrower than the floor of 1, which makes both
    # samples nearly N(0, 1) and N(0.5, 1): overlap about 2 Phi(-1/4)
    assert overlap([0, 0, 0, 0.001], [0.5], min_bandwidth=1.0) == pytest.approx(
        math.erfc(0.25 / math.sqrt(2)), abs=1e-3
    )


def test_share_histograms_put_exact_tenths_in_the_upper_bin():
    # a: bins 0, 3, 3, 9 -> 1/4, 1/2, 1/4; b: bins 0, 2, 7, 9. Overlap = bin 0 + bin 9 = 1/2.
    # (Edges from linspace would put 3/10 in bin 2 and 7/10 in bin 6: overlap 3/4.)
    a, b = [0.0, 3 / 10, 0.35, 1.0], [0.05, 0.25, 7 / 10, 0.95]
    assert overlap(a, b, kind="share") == pytest.approx(0.5)


def test_share_kl_is_the_discrete_kl_of_the_bins():
    # a: 1/2 in bins 0 and 1; b: 1/4 in bin 0, 3/4 in bin 1 -> 1/2 ln(2) + 1/2 ln(2/3) = 1/2 ln(4/3)
    assert kl([0.05, 0.15], [0.05, 0.15, 0.15, 0.15], kind="share") == pytest.approx(0.5 * math.log(4 / 3), abs=1e-8)


def test_nan_values_are_dropped_and_an_empty_sample_is_undefined():
    assert overlap([np.nan, 0.1, 0.9], [0.1, 0.9], kind="share") == pytest.approx(1.0)
    assert math.isnan(overlap([np.nan], [1.0, 2.0]))
    assert math.isnan(kl([1.0, 2.0], []))


def test_bad_density_requests_are_refused():
    with pytest.raises(ValueError, match="min_bandwidth"):
        overlap([2.0, 2.0], [1.0, 3.0])
    with pytest.raises(ValueError, match="kind"):
        overlap([0.5], [0.5], kind="histogram")


# --- the report ----------------------------------------------------------------------------------


def test_split_halves_by_index_and_by_group():
    a, b = split_halves(5)
    assert a.tolist() == [0, 2, 4] and b.tolist() == [1, 3]
    a, b = split_halves(6, ["b", "a", "b", "c", "a", "c"])  # labels a, b, c: a and c to half A
    assert a.tolist() == [1, 3, 4, 5] and b.tolist() == [0, 2]


def varied_phrases(n: int, seed: int) -> torch.Tensor:
    """``n`` phrases of 5-30 random notes per track (pitch 40-80, start on any step, 2-30 steps)."""
    rng = np.random.default_rng(seed)
    roll = torch.zeros(n, 4 * 96, 128, 2, dtype=torch.bool)
    for phrase in range(n):
        for track in range(2):
            for _ in range(rng.integers(5, 30)):
                start, length = rng.integers(0, 350), rng.integers(2, 30)
                roll[phrase, start : start + length, rng.integers(40, 80), track] = True
    return roll.reshape(n, 4, 96, 128, 2)


def test_ceiling_compares_the_two_halves_of_the_real_set():
    real, generated = varied_phrases(8, seed=3), varied_phrases(5, seed=4)
    groups = ["x", "y", "x", "z", "y", "z", "w", "w"]
    report = realism(generated, real, groups=groups)
    # sorted labels w, x, y, z alternate A, B, A, B: half A = w and y = phrases 1, 4, 6, 7
    half_a, half_b = phrase_features(real[[1, 4, 6, 7]]), phrase_features(real[[0, 2, 3, 5]])
    assert report.n_halves == (4, 4)
    gen = phrase_features(generated)
    whole = phrase_features(real)
    assert len(report.rows) == 2 * len(FEATURES)
    for row, (feature, track) in zip(report.rows, [(f, k) for f in FEATURES for k in range(2)]):
        assert (row.feature, row.track, row.unit, row.kind) == (feature.name, track, feature.unit, feature.kind)
        options = {"kind": feature.kind, "min_bandwidth": feature.min_bandwidth}
        a, b = half_a[feature.name][:, track], half_b[feature.name][:, track]
        assert row.ceiling == overlap(b, a, **options)
        assert row.ceiling_kl == kl(a, b, **options)
        assert row.overlap == overlap(gen[feature.name][:, track], whole[feature.name][:, track], **options)
        assert row.kl == kl(whole[feature.name][:, track], gen[feature.name][:, track], **options)
        assert row.real_mean == pytest.approx(np.nanmean(whole[feature.name][:, track]))
    assert report.realism == pytest.approx(np.mean([row.overlap for row in report.rows]))
    assert report.ceiling == pytest.approx(np.mean([row.ceiling for row in report.rows]))


def test_real_against_itself_scores_one():
    real = varied_phrases(6, seed=5)
    report = realism(real, real)
    assert report.realism == pytest.approx(1.0, abs=1e-6)
    assert all(row.kl == pytest.approx(0.0, abs=1e-9) for row in report.rows)


def test_a_silent_generator_scores_zero_where_it_has_no_values():
    real = varied_phrases(6, seed=6)
    report = realism(torch.zeros(4, 4, 96, 128, 2), real)
    for row in report.rows:
        if row.feature == "notes":  # 0 notes against 5-30: defined, and far apart
            assert 0 < row.overlap < 0.1 and math.isfinite(row.kl)
        else:
            assert (row.overlap, row.kl) == (0.0, math.inf)
            assert math.isnan(row.generated_mean)
    assert report.realism < 0.1 / len(report.rows)


def test_compare_features_takes_precomputed_features():
    real, generated = varied_phrases(4, seed=7), varied_phrases(3, seed=8)
    direct = realism(generated, real)
    assert compare_features(phrase_features(generated), phrase_features(real)) == direct


def test_format_table_lists_every_row_and_the_figures():
    real = varied_phrases(4, seed=9)
    report = realism(real[:2], real)
    lines = format_table(report).splitlines()
    assert lines[0].split()[:3] == ["feature", "track", "unit"]
    assert len(lines) == 2 + len(report.rows)
    first = lines[1].split()
    assert first[:3] == ["onset_on_beat", "1", "share"]
    assert float(first[5]) == pytest.approx(report.rows[0].overlap, rel=1e-2)
    assert f"realism (mean overlap) {report.realism:.3f}; ceiling {report.ceiling:.3f}" in lines[-1]


def test_the_evaluator_compares_two_sets_from_their_batched_features():
    from crossmodal.evaluation.sets import set_features
    from crossmodal_evaluators.realism import RealismEvaluator

    class Phrases:  # a sample set of hand-built phrases, read in batches
        sample_kind = "pianoroll"

        def __init__(self, rolls):
            self.rolls = rolls

        def __len__(self):
            return len(self.rolls)

        def batch(self, indices):
            return self.rolls[indices].float()

    real, generated = varied_phrases(8, seed=10), varied_phrases(5, seed=11)
    evaluator = RealismEvaluator()
    features = set_features(Phrases(generated), evaluator, batch_size=2)  # three batches
    reference = set_features(Phrases(real), evaluator, batch_size=3)
    assert {name: tuple(v.shape) for name, v in features.items()} == {f.name: (5, 2) for f in FEATURES}
    metrics = evaluator.compare(features, reference)
    report = realism(generated, real, groups=[i >= 4 for i in range(8)])  # ceiling: first half against second
    assert metrics["realism"].item() == pytest.approx(report.realism)
    assert metrics["realism-ceiling"].item() == pytest.approx(report.ceiling)
    for feature in FEATURES:
        assert metrics[f"realism/{feature.name}"].tolist() == pytest.approx(
            [row.overlap for row in report.rows if row.feature == feature.name], nan_ok=True)


def test_the_registered_realism_evaluator_is_the_class_with_its_description():
    from crossmodal.contract.plugins import load_plugins
    from crossmodal_evaluators import plugin
    from crossmodal_evaluators.realism import RealismEvaluator

    info = load_plugins(strict=True, allow=[], extra=[("evaluators", plugin)]).registry.get("evaluator", "realism")
    assert info.factory is RealismEvaluator and info.description == RealismEvaluator.description
