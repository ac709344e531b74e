"""Jukepix's painting and phrase descriptors on hand-made items with known answers, on real
paintings, through the registry, and in ``crossmodal evaluate --conditioning`` on a tiny real run."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from crossmodal import Descriptor, ShapeError, load_plugins
from crossmodal.cli import make_cli
from crossmodal.training.launch import start_training
from jukepix.constants import IMAGE_SHAPE, PHRASE_SHAPE, STEPS_PER_BAR
from jukepix.datasets import painting_dataset
from jukepix.descriptors import PaintingDescriptor, PhraseDescriptor, colourfulness, mode_score, pitch_class_histogram
from jukepix.recipes import melody_chords, piano_hands, piano_strings
from jukepix.store import PaintingSet, PhraseSet

C4, D4, E4, E_FLAT4, G4, C5 = 60, 62, 64, 63, 67, 72  # MIDI numbers


def images(*colours: tuple[float, float, float]) -> torch.Tensor:
    """Flat RGB images ``(N, 3, 256, 256)``, one per colour."""
    return torch.tensor(colours, dtype=torch.float32).reshape(-1, 3, 1, 1).expand(-1, *IMAGE_SHAPE).clone()


def phrase(*notes: tuple[int, int, int, int]) -> torch.Tensor:
    """One phrase ``(1, 4, 96, 128, 2)`` holding ``(pitch, track, first step, steps)`` notes,
    steps counted along the whole phrase (bars laid end to end)."""
    roll = torch.zeros(PHRASE_SHAPE[0] * STEPS_PER_BAR, PHRASE_SHAPE[2], PHRASE_SHAPE[3])
    for pitch, track, start, length in notes:
        roll[start:start + length, pitch, track] = 1.0
    return roll.reshape(1, *PHRASE_SHAPE)


# -------------------------------------------------------------------------------------------
# Paintings
# -------------------------------------------------------------------------------------------


def test_a_white_image_is_brighter_than_a_dark_one():
    values = PaintingDescriptor().describe(images((1.0, 1.0, 1.0), (0.1, 0.1, 0.1), (0.0, 1.0, 0.0)))
    assert values["brightness"].tolist() == pytest.approx([1.0, 0.1, 0.587])  # BT.601 weight of green


def test_colourfulness_is_zero_for_grey_and_follows_hasler_suesstrunk():
    grey, red = colourfulness(images((0.5, 0.5, 0.5), (1.0, 0.0, 0.0))).tolist()
    assert grey == 0.0
    # A flat red image: rg = 255, yb = 127.5, no spread: M = 0.3 * sqrt(255^2 + 127.5^2).
    assert red == pytest.approx(0.3 * np.hypot(255, 127.5))
    halves = images((0.5, 0.5, 0.5))
    halves[0, 0, :128] = 1.0  # the top half reddish: spread and mean both grow
    assert colourfulness(halves).item() > 0


def test_warmth_is_red_minus_blue():
    values = PaintingDescriptor().describe(images((0.9, 0.5, 0.1), (0.2, 0.5, 0.8)))["warmth"]
    assert values.tolist() == pytest.approx([0.8, -0.6])


def test_edge_density_counts_canny_edge_pixels():
    flat, stripes = images((0.5, 0.5, 0.5), (0.0, 0.0, 0.0))
    stripes[:, :, ::16] = 1.0  # a white column every 16 pixels on black: 16 lines, each edged both sides
    density = PaintingDescriptor().describe(torch.stack([flat, stripes]))["edge-density"].tolist()
    assert density[0] == 0.0
    assert 16 / 256 <= density[1] <= 3 * 16 / 256


def test_real_paintings_give_finite_values_in_range(shared_data, tmp_path):
    for path in sorted((shared_data / "paintings").glob("*.jpg"))[:3]:
        shutil.copy(path, tmp_path)
    paintings = painting_dataset(tmp_path, jobs=1)
    values = PaintingDescriptor().describe(paintings.batch(torch.arange(3)))
    assert all(v.shape == (3,) and bool(torch.isfinite(v).all()) for v in values.values())
    assert bool(((values["brightness"] > 0) & (values["brightness"] < 1)).all())
    assert bool((values["colourfulness"] > 0).all())
    assert bool(((values["edge-density"] > 0) & (values["edge-density"] < 0.5)).all())


def test_painting_descriptor_checks_the_shape():
    with pytest.raises(ShapeError, match="PaintingDescriptor: items must have shape"):
        PaintingDescriptor().describe(torch.zeros(2, 3, 64, 64))


# -------------------------------------------------------------------------------------------
# Phrases
# -------------------------------------------------------------------------------------------


def test_a_major_triad_scores_more_major_than_a_minor_triad():
    major = phrase((C4, 0, 0, 96), (E4, 0, 0, 96), (G4, 1, 0, 96))
    minor = phrase((C4, 0, 0, 96), (E_FLAT4, 0, 0, 96), (G4, 1, 0, 96))
    describe = PhraseDescriptor().describe
    major_mode, minor_mode = describe(major)["mode"].item(), describe(minor)["mode"].item()
    assert major_mode > 0 > minor_mode


def test_mode_score_is_krumhansl_schmuckler():
    # The C major profile itself: r = 1 with C major; the best minor key is A minor's (its relative).
    histogram = torch.tensor([[6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]])
    minor = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
    best_minor = max(np.corrcoef(histogram[0].numpy(), np.roll(minor, k))[0, 1] for k in range(12))
    assert mode_score(histogram).item() == pytest.approx(1 - best_minor)
    assert torch.isnan(mode_score(torch.zeros(1, 12))).item()


def test_note_density_counts_onsets_per_bar():
    # Three notes in bar 1; one held from bar 2 into bar 3 (one note); a re-struck E after a rest
    # (two notes) in the other track: 6 onsets over 4 bars.
    notes = phrase((C4, 0, 0, 10), (D4, 0, 20, 10), (E4, 0, 40, 10), (G4, 0, 150, 100),
                   (E4, 1, 300, 5), (E4, 1, 306, 5))
    assert PhraseDescriptor().describe(notes)["note-density"].item() == pytest.approx(6 / 4)


def test_mean_pitch_of_a_single_note_is_its_pitch_and_weighs_by_length():
    describe = PhraseDescriptor().describe
    assert describe(phrase((D4, 1, 5, 7)))["mean-pitch"].item() == D4
    # C4 for 30 steps and C5 for 10: (60 * 30 + 72 * 10) / 40 = 63.
    assert describe(phrase((C4, 0, 0, 30), (C5, 1, 0, 10)))["mean-pitch"].item() == pytest.approx(63.0)


def test_polyphony_counts_steps_with_two_pitches_over_sounding_steps():
    # C4 for 40 steps, E4 joins for the last 10 (in the other track): 10 of 40 sounding steps.
    values = PhraseDescriptor().describe(phrase((C4, 0, 0, 40), (E4, 1, 30, 10)))
    assert values["polyphony"].item() == pytest.approx(10 / 40)


def test_a_silent_phrase_is_undefined_but_has_no_notes():
    values = PhraseDescriptor().describe(torch.zeros(1, *PHRASE_SHAPE))
    assert values["note-density"].item() == 0.0
    assert all(torch.isnan(values[name]).item() for name in ("mean-pitch", "mode", "polyphony"))


def test_probabilities_are_binarised_above_one_half():
    half = phrase((C4, 0, 0, 96)) * 0.5 + phrase((G4, 0, 0, 96)) * 0.6
    assert PhraseDescriptor().describe(half)["mean-pitch"].item() == G4


def test_features_are_descriptors_then_pitch_class_shares_per_track_then_octaves():
    notes = phrase((C4, 0, 0, 30), (G4, 0, 0, 10), (C5, 1, 0, 20))
    features = PhraseDescriptor().features(torch.cat([notes, torch.zeros(1, *PHRASE_SHAPE)]))
    assert features.shape == (2, 4 + 12 * 2 + 11)
    assert features[0, 4 + 0].item() == pytest.approx(0.75) and features[0, 4 + 7].item() == pytest.approx(0.25)
    assert features[0, 4 + 12].item() == 1.0  # track 2: all C
    octaves = features[0, 28:]
    assert octaves[5].item() == pytest.approx(40 / 60) and octaves[6].item() == pytest.approx(20 / 60)
    assert features[1, 4:].abs().sum().item() == 0.0  # silent: zero shares


def test_pitch_class_histogram_folds_octaves():
    histogram = pitch_class_histogram(phrase((C4, 0, 0, 4), (C5, 0, 0, 2), (E4, 1, 0, 3)) > 0.5)
    assert histogram[0, 0].tolist() == [6.0, 0.0] and histogram[0, 4].tolist() == [0.0, 3.0]


# -------------------------------------------------------------------------------------------
# Through the plugin
# -------------------------------------------------------------------------------------------


def test_the_recipes_name_registered_descriptors_of_their_sample_kinds():
    registry = load_plugins(allow=["jukepix"], strict=True).registry
    for recipe in (piano_hands(), piano_strings(), melody_chords()):
        condition = registry.create("descriptor", recipe.condition_descriptor)
        sample = registry.create("descriptor", recipe.sample_descriptor)
        assert isinstance(condition, Descriptor) and isinstance(sample, Descriptor)
        assert condition.sample_kind == PaintingSet.sample_kind and sample.sample_kind == PhraseSet.sample_kind
    for name, factory in (("painting", PaintingDescriptor), ("phrase", PhraseDescriptor)):
        info = registry.get("descriptor", name)
        assert info.import_path == f"jukepix.descriptors:{factory.__name__}"  # listed without importing it
        assert info.description == factory.__doc__ == factory.description


def test_conditioning_report_on_real_paintings(tmp_path, shared_data, monkeypatch):
    """A run saved before its first step (training adds nothing to check here) and 3 held-out paintings."""
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "jukepix,evaluators")
    files = sorted((shared_data / "paintings").glob("*.jpg"))
    training, held_out, music = tmp_path / "training", tmp_path / "held-out", tmp_path / "music"
    for folder, chosen in ((training, files[:2]), (held_out, files[2:5]), (music, [])):
        folder.mkdir()
        for path in chosen:
            shutil.copy(path, folder)
    for name in ("pianomidide__Beethoven__beethoven_les_adieux_2.mid", "pianomidide__Beethoven__beethoven_hammerklavier_4.mid"):
        shutil.copy(shared_data / "midi" / name, music)  # two files: one trains, one is held out
    plugins = load_plugins(allow=["jukepix", "evaluators"], strict=True)
    trainer = start_training(
        plugins.registry, "jukepix", condition_source=str(training), target_source=str(music),
        condition_options={"jobs": 1}, target_options={"jobs": 1},
        overrides={"out_dir": str(tmp_path / "runs"), "device": "cpu"},
        plugin_versions={p.name: p.version for p in plugins.loaded},
    )
    try:
        trainer.save_checkpoint()
    finally:
        trainer.close()
    result = CliRunner().invoke(make_cli(), ["evaluate", "--checkpoint", str(trainer.run_dir), "--conditioning",
                                             str(held_out), "--seeds", "2", "--permutations", "10", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["conditioning"]["conditions"] == 3 and report["descriptors"] == {
        "conditions": "painting", "samples": "phrase"}
    assert report["features"] == "39 values from descriptor 'phrase'"
    agreement = report["columns"]["checkpoint"]["descriptor_agreement"]
    assert set(agreement) == {"brightness", "colourfulness", "warmth", "edge-density"}
    assert set(agreement["warmth"]) == {"mean-pitch", "note-density", "mode", "polyphony"}
    assert set(report["columns"]["training pairs"]["descriptor_agreement"]) == set(agreement)
    assert report["training_pairs"] == 6
