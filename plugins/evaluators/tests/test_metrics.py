"""Hand-built rolls whose metric values are known by hand.

Every case runs through both the batched torch metric and the loop-based reference, so a wrong
answer in either fails. Fixtures are asymmetric (different tracks, bars and beats get different
values), so a metric cannot pass by computing its complement or by swapping axes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from crossmodal.errors import ShapeError
from crossmodal_evaluators.metrics import METRICS, Ratio, tonal_matrix, track_pairs

import metric_reference as reference  # the loop-based oracle, beside the tests (see conftest.py)

C4, D4, E4, F4, FS4, G4, A4, B4, C5 = 60, 62, 64, 65, 66, 67, 69, 71, 72
SHAPE = (1, 4, 96, 128, 2)  # one Jukepix phrase: bars, steps (24 per beat), pitches, tracks
BAR = 96
BEAT = 24


def pooled(name: str, roll: torch.Tensor, implementation: str, **options) -> np.ndarray:
    """The batch value of metric ``name``: summed numerators / summed denominators."""
    if implementation == "batched":
        ratio = METRICS[name](roll, **options)
        return ratio.pooled().numpy()
    numerator, denominator = reference.evaluate(name, roll.numpy(), **options)
    with np.errstate(invalid="ignore", divide="ignore"):
        return numerator.sum(0) / denominator.sum(0)


@pytest.fixture(params=["batched", "reference"])
def implementation(request) -> str:
    return request.param


# --- EB -------------------------------------------------------------------------------------


def test_eb_counts_empty_bars_not_full_ones(make_roll, implementation):
    # track 0: notes in bars 0, 1, 2 (bar 3 empty) -> 1/4; track 1: only bar 2 sounds -> 3/4
    notes = [(0, 0, C4, 0, 24), (0, 0, E4, BAR + 10, 5), (0, 0, G4, 2 * BAR + 95, 1), (0, 1, C4, 2 * BAR, 3)]
    value = pooled("eb", make_roll(SHAPE, notes), implementation)
    np.testing.assert_allclose(value, [0.25, 0.75])


def test_eb_of_an_empty_track_is_one(make_roll, implementation):
    value = pooled("eb", make_roll(SHAPE, [(0, 0, C4, 0, 4)]), implementation)
    np.testing.assert_allclose(value, [0.75, 1.0])


# --- UPC ------------------------------------------------------------------------------------


def test_upc_counts_pitch_classes_not_pitches(make_roll, implementation):
    # track 0: bar 0 holds a C-E-G triad (3 classes); track 1: bar 0 holds C4 + C5 (1 class)
    notes = [(0, 0, p, 0, 24) for p in (C4, E4, G4)] + [(0, 1, C4, 0, 24), (0, 1, C5, 30, 6)]
    value = pooled("upc", make_roll(SHAPE, notes), implementation)
    np.testing.assert_allclose(value, [3.0, 1.0])


def test_upc_averages_over_non_empty_bars_only(make_roll, implementation):
    # track 0: bar 0 triad (3), bar 2 two classes (2), bars 1 and 3 empty -> 2.5; track 1 silent -> NaN
    notes = [(0, 0, p, 0, 24) for p in (C4, E4, G4)] + [(0, 0, D4, 2 * BAR, 3), (0, 0, A4, 2 * BAR + 50, 3)]
    value = pooled("upc", make_roll(SHAPE, notes), implementation)
    assert value[0] == pytest.approx(2.5)
    assert math.isnan(value[1])


def test_upc_counts_a_note_in_every_bar_it_sounds(make_roll, implementation):
    # one C held over the line between bars 0 and 1, and a G in bar 1: bar 0 -> 1, bar 1 -> 2
    notes = [(0, 0, C4, BAR - 5, 10), (0, 0, G4, BAR + 40, 3)]
    value = pooled("upc", make_roll(SHAPE, notes), implementation)
    assert value[0] == pytest.approx(1.5)


def test_upc_uses_lowest_pitch_for_pitch_classes(make_roll, implementation):
    # 24 pitches starting at MIDI 60: indices 0 (C) and 12 (C) are one class; 7 (G) another
    shape = (1, 2, 12, 24, 1)
    roll = make_roll(shape, [(0, 0, 0, 0, 3), (0, 0, 12, 3, 3), (0, 0, 7, 6, 3)])
    assert pooled("upc", roll, implementation, lowest_pitch=60)[0] == pytest.approx(2.0)
    # starting at MIDI 61, index 0 is C#, 12 is C# and 7 is G#: still 2 classes; 11 (C) adds one
    roll = make_roll(shape, [(0, 0, 0, 0, 3), (0, 0, 12, 3, 3), (0, 0, 7, 6, 3), (0, 0, 11, 9, 3)])
    assert pooled("upc", roll, implementation, lowest_pitch=61)[0] == pytest.approx(3.0)


# --- QN -------------------------------------------------------------------------------------


def test_qn_two_one_step_notes_is_zero(make_roll, implementation):
    notes = [(0, 0, C4, 0, 1), (0, 0, C4, 2, 1), (0, 1, G4, 0, 3)]
    value = pooled("qn", make_roll(SHAPE, notes), implementation)
    np.testing.assert_allclose(value, [0.0, 1.0])


def test_qn_one_three_step_and_one_two_step_note_is_half(make_roll, implementation):
    notes = [(0, 0, C4, 10, 3), (0, 0, E4, 10, 2)]
    value = pooled("qn", make_roll(SHAPE, notes), implementation)
    assert value[0] == pytest.approx(0.5)
    assert math.isnan(value[1])  # no notes at all


def test_qn_repeated_notes_separated_by_a_rest_are_two_notes(make_roll, implementation):
    # C for 2 steps, one-step rest, C for 4 steps: 2 notes, 1 qualified
    notes = [(0, 0, C4, 0, 2), (0, 0, C4, 3, 4)]
    assert pooled("qn", make_roll(SHAPE, notes), implementation)[0] == pytest.approx(0.5)


def test_qn_note_held_over_a_bar_line_is_one_note(make_roll, implementation):
    # 2 steps at the end of bar 0 + 2 at the start of bar 1 = one 4-step note, qualified
    notes = [(0, 0, C4, BAR - 2, 4)]
    assert pooled("qn", make_roll(SHAPE, notes), implementation)[0] == pytest.approx(1.0)


def test_qn_does_not_join_notes_of_consecutive_samples(make_roll, implementation):
    # sample 0 ends with 2 steps of C, sample 1 starts with 2 steps of C: two 2-step notes
    shape = (2, 4, 96, 128, 2)
    notes = [(0, 0, C4, 4 * BAR - 2, 2), (1, 0, C4, 0, 2)]
    assert pooled("qn", make_roll(shape, notes), implementation)[0] == pytest.approx(0.0)


def test_qn_threshold_is_a_parameter(make_roll, implementation):
    notes = [(0, 0, C4, 0, 2), (0, 0, E4, 0, 1)]
    assert pooled("qn", make_roll(SHAPE, notes), implementation, min_steps=2)[0] == pytest.approx(0.5)
    assert pooled("qn", make_roll(SHAPE, notes), implementation, min_steps=1)[0] == pytest.approx(1.0)


# --- TD -------------------------------------------------------------------------------------

C_VERSUS_G = math.sqrt(19 / 4 - math.sqrt(3))
"""Tonal distance between a lone C and a lone G, by hand.

C (class 0) maps to (0, 1, 0, 1, 0, 1/2); G (class 7) to (1/2, sqrt(3)/2, 1, 0, sqrt(3)/4, -1/4).
Squared differences: 1/4 + (1 - sqrt(3)/2)^2 + 1 + 1 + 3/16 + 9/16 = 19/4 - sqrt(3).
"""


def test_td_of_identical_triads_is_zero(make_roll, implementation):
    notes = [(0, k, p, 0, 4 * BAR) for k in (0, 1) for p in (C4, E4, G4)]
    assert pooled("td", make_roll(SHAPE, notes), implementation)[0] == pytest.approx(0.0, abs=1e-12)


def test_td_ignores_octaves(make_roll, implementation):
    notes = [(0, 0, C5, 0, BAR), (0, 0, G4, 0, BAR), (0, 1, C4 - 12, 0, BAR), (0, 1, G4 - 24, 0, BAR)]
    assert pooled("td", make_roll(SHAPE, notes), implementation)[0] == pytest.approx(0.0, abs=1e-12)


def test_td_of_c_against_g(make_roll, implementation):
    notes = [(0, 0, C4, 0, BEAT), (0, 1, G4, 0, BEAT)]
    assert pooled("td", make_roll(SHAPE, notes), implementation)[0] == pytest.approx(C_VERSUS_G)
    assert C_VERSUS_G == pytest.approx(1.7372243)


def test_td_averages_over_beats_where_both_tracks_sound(make_roll, implementation):
    # beat 0: C vs G; beat 1: C vs C (0); beat 2: only track 0 sounds (ignored) -> mean of 2 beats
    notes = [(0, 0, C4, 0, 3 * BEAT), (0, 1, G4, 0, BEAT), (0, 1, C4, BEAT, BEAT)]
    value = pooled("td", make_roll(SHAPE, notes), implementation)[0]
    assert value == pytest.approx(C_VERSUS_G / 2)


def test_td_normalises_chroma_by_its_sum(make_roll, implementation):
    # track 0: C for the whole beat and G for a third of it -> chroma (3/4 C, 1/4 G); track 1: C
    notes = [(0, 0, C4, 0, BEAT), (0, 0, G4, 0, BEAT // 3), (0, 1, C4, 0, BEAT)]
    phi = tonal_matrix().numpy()
    expected = np.linalg.norm(0.75 * phi[:, 0] + 0.25 * phi[:, 7] - phi[:, 0])
    assert pooled("td", make_roll(SHAPE, notes), implementation)[0] == pytest.approx(expected)
    assert expected == pytest.approx(C_VERSUS_G / 4)


def test_td_is_nan_when_the_tracks_never_share_a_beat(make_roll, implementation):
    notes = [(0, 0, C4, 0, BEAT), (0, 1, G4, BEAT, BEAT)]
    assert math.isnan(pooled("td", make_roll(SHAPE, notes), implementation)[0])


def test_td_of_three_tracks_has_one_column_per_pair(make_roll, implementation):
    shape = (1, 1, 96, 128, 3)
    notes = [(0, 0, C4, 0, BEAT), (0, 1, C4, 0, BEAT), (0, 2, G4, 0, BEAT)]
    value = pooled("td", make_roll(shape, notes), implementation)
    assert track_pairs(3) == [(0, 1), (0, 2), (1, 2)]
    np.testing.assert_allclose(value, [0.0, C_VERSUS_G, C_VERSUS_G], atol=1e-12)


# --- polyphony ------------------------------------------------------------------------------


def test_polyphony_counts_active_steps_only(make_roll, implementation):
    # track 0: 4 steps with C+E, then 12 steps of C alone, then silence -> 4 / 16
    # track 1: 6 steps of a triad, 2 steps of one note -> 6 / 8
    notes = [(0, 0, C4, 0, 16), (0, 0, E4, 0, 4)]
    notes += [(0, 1, p, 50, 6) for p in (C4, E4, G4)] + [(0, 1, C4, 56, 2)]
    value = pooled("polyphony", make_roll(SHAPE, notes), implementation)
    np.testing.assert_allclose(value, [0.25, 0.75])


def test_polyphony_threshold_is_a_parameter(make_roll, implementation):
    notes = [(0, 0, p, 0, 6) for p in (C4, E4, G4)] + [(0, 0, C4, 6, 2), (0, 0, E4, 6, 2)]
    value = pooled("polyphony", make_roll(SHAPE, notes), implementation, min_pitches=3)
    assert value[0] == pytest.approx(6 / 8)
    assert math.isnan(value[1])


# --- in-scale -------------------------------------------------------------------------------


def test_in_scale_fits_one_major_scale_over_all_tracks(make_roll, implementation):
    # track 0: C, E, G, B (3 cells each); track 1: F (3 cells) and C# (2 cells).
    # C major holds 15 of the phrase's 17 cells (G major 12, F major 12, D major 11): C major
    # wins; track 0 is all in it (12/12), track 1 has 3 of 5 cells in it.
    notes = [(0, 0, p, 0, 3) for p in (C4, E4, G4, B4)] + [(0, 1, F4, 0, 3), (0, 1, C4 + 1, 10, 2)]
    value = pooled("in-scale", make_roll(SHAPE, notes), implementation)
    np.testing.assert_allclose(value, [1.0, 0.6])


def test_in_scale_counts_cells_so_long_notes_weigh_more(make_roll, implementation):
    # G major scale notes for 20 cells, one F (not in G major) for 1 cell; G major wins
    notes = [(0, 0, p, 0, 5) for p in (G4, A4, B4, FS4)] + [(0, 0, F4, 30, 1)]
    assert pooled("in-scale", make_roll(SHAPE, notes), implementation)[0] == pytest.approx(20 / 21)


# --- pitch range and pitches used -----------------------------------------------------------


def test_pitch_range_averages_over_phrases_where_the_track_sounds(make_roll, implementation):
    shape = (3, 4, 96, 128, 2)
    notes = [(0, 0, 48, 0, 3), (0, 0, 72, 200, 3), (1, 0, 60, 0, 3), (1, 0, 72, 5, 1)]  # 24, 12
    notes += [(2, 1, 60, 0, 3)]  # phrase 2: track 0 silent (left out); track 1 one pitch -> 0
    value = pooled("pitch-range", make_roll(shape, notes), implementation)
    np.testing.assert_allclose(value, [18.0, 0.0])


def test_pitch_range_of_a_silent_track_is_nan(make_roll, implementation):
    value = pooled("pitch-range", make_roll(SHAPE, [(0, 0, 60, 0, 3)]), implementation)
    assert value[0] == 0.0 and math.isnan(value[1])


def test_n_pitches_counts_distinct_pitches_and_silence_as_zero(make_roll, implementation):
    shape = (2, 4, 96, 128, 2)
    notes = [(0, 0, p, 0, 3) for p in (C4, E4, C5)] + [(0, 0, C4, 100, 3), (1, 0, G4, 0, 1)]
    value = pooled("n-pitches", make_roll(shape, notes), implementation)
    np.testing.assert_allclose(value, [2.0, 0.0])  # phrases: 3 and 1 pitches; track 1 silent


# --- empty beats ----------------------------------------------------------------------------


def test_empty_beat_rate_counts_empty_beats(make_roll, implementation):
    # track 0 sounds in 3 of 16 beats (one note spans beats 0-1); track 1 in 15 of 16
    notes = [(0, 0, C4, 20, 6), (0, 0, C4, 5 * BEAT, 1)]
    notes += [(0, 1, C4, 0, 15 * BEAT)]
    value = pooled("empty-beats", make_roll(SHAPE, notes), implementation)
    np.testing.assert_allclose(value, [13 / 16, 1 / 16])


def test_empty_beat_rate_uses_steps_per_beat(make_roll, implementation):
    shape = (1, 2, 12, 24, 1)  # 2 bars of 12 steps; 3 steps per beat -> 8 beats
    roll = make_roll(shape, [(0, 0, 0, 0, 1), (0, 0, 5, 13, 1)])
    assert pooled("empty-beats", roll, implementation, steps_per_beat=3)[0] == pytest.approx(6 / 8)


# --- binarisation, shapes, batches ----------------------------------------------------------


def test_probabilities_are_on_above_one_half():
    roll = torch.zeros(SHAPE)
    roll[0, 0, 0:3, C4, 0] = torch.tensor([0.9, 0.51, 0.5])  # 0.5 is off: a 2-step note
    roll[0, 0, 0:3, E4, 0] = 0.7
    assert METRICS["qn"](roll).pooled()[0] == pytest.approx(0.5)
    assert METRICS["qn"](roll, threshold=0.8).pooled()[0] == pytest.approx(0.0)
    numerator, denominator = reference.evaluate("qn", roll.numpy())
    assert numerator[0, 0] / denominator[0, 0] == pytest.approx(0.5)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metrics_refuse_a_roll_without_five_axes(name):
    with pytest.raises(ShapeError, match=r"\(samples, bars, time steps, pitches, tracks\)"):
        METRICS[name](torch.zeros(4, 96, 128, 2))


@pytest.mark.parametrize("name", ["td", "empty-beats"])
def test_beat_metrics_refuse_bars_that_do_not_split_into_beats(name):
    with pytest.raises(ShapeError, match="steps_per_beat=7"):
        METRICS[name](torch.zeros(1, 2, 12, 24, 2), steps_per_beat=7)


def test_per_sample_values_and_concatenated_chunks(make_roll):
    shape = (2, 4, 96, 128, 2)
    roll = make_roll(shape, [(0, 0, C4, 0, 3), (1, 0, C4, 0, 1), (1, 0, E4, 0, 1)])
    ratio = METRICS["qn"](roll)
    per_sample = ratio.per_sample()
    assert per_sample.shape == (2, 2) and per_sample.dtype == torch.float64
    assert per_sample[0, 0] == 1.0 and per_sample[1, 0] == 0.0 and per_sample[:, 1].isnan().all()
    assert ratio.pooled()[0] == pytest.approx(1 / 3)  # pooled over 3 notes, not mean(1, 0)
    joined = Ratio.concat([METRICS["qn"](roll[:1]), METRICS["qn"](roll[1:])])
    torch.testing.assert_close(joined.pooled(), ratio.pooled(), equal_nan=True)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_empty_batch_gives_nan_not_an_error(name):
    ratio = METRICS[name](torch.zeros(0, 4, 96, 128, 2))
    assert ratio.per_sample().shape[0] == 0
    assert ratio.pooled().isnan().all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", sorted(METRICS))
def test_metrics_run_on_the_gpu(name):
    roll = torch.rand(3, 4, 96, 128, 2, generator=torch.Generator().manual_seed(1)) < 0.05
    on_cpu = METRICS[name](roll).pooled()
    on_gpu = METRICS[name](roll.cuda()).pooled()
    assert on_gpu.device.type == "cuda"
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, equal_nan=True)
