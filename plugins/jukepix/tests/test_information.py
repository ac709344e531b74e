"""Jukepix's information head on hand-made phrases with known summaries, and both ways of making
the painting matter (descriptor pairs, the information term) in one real training step."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from crossmodal import ComponentSpec, ShapeError, load_plugins
from crossmodal.job.build import build_job
from crossmodal.evaluation.conditioning import spearman
from crossmodal.training.config import TrainConfig
from crossmodal.training.trainer import Trainer
from jukepix.constants import PHRASE_SHAPE, STEPS_PER_BAR
from jukepix.information import STEPS_PER_SIXTEENTH, PhraseInformationHead
from jukepix.recipes import piano_hands

C4, G4 = 60, 67  # MIDI numbers
PIANO_FILE = "midi/pianomidide__Beethoven__beethoven_les_adieux_2.mid"

COUPLINGS = (("brightness", "mean-pitch", +1), ("colourfulness", "note-density", +1), ("warmth", "mode", +1))
"""The couplings docs/plugin-guide.md suggests for Jukepix."""


def phrase(*notes: tuple[int, int, int, int]) -> torch.Tensor:
    """One phrase ``(1, 4, 96, 128, 2)`` holding ``(pitch, track, first step, steps)`` notes,
    steps counted along the whole phrase."""
    roll = torch.zeros(PHRASE_SHAPE[0] * STEPS_PER_BAR, PHRASE_SHAPE[2], PHRASE_SHAPE[3])
    for pitch, track, start, length in notes:
        roll[start:start + length, pitch, track] = 1.0
    return roll.reshape(1, *PHRASE_SHAPE)


def test_the_summaries_of_a_known_phrase():
    # C4 in track 0 for the first 2 beats (48 steps); G4 in track 1 twice, 12 steps each, from steps 0 and 24
    head = PhraseInformationHead(n_outputs=2)
    summary = head.summaries(phrase((C4, 0, 0, 48), (G4, 1, 0, 12), (G4, 1, 24, 12)))[0]
    pitch_profile = summary[:256].reshape(128, 2)  # (pitches, tracks)
    voices, onsets = summary[256:384].reshape(64, 2), summary[384:].reshape(64, 2)  # (sixteenths, tracks)
    assert pitch_profile[C4, 0] == pytest.approx(48 / 384) and pitch_profile[G4, 1] == pytest.approx(24 / 384)
    assert pitch_profile.sum() == pytest.approx(72 / 384)
    assert voices[:8, 0].tolist() == [1.0] * 8 and voices[8:, 0].sum() == 0  # 48 steps = 8 sixteenths
    assert voices[:2, 1].tolist() == [1.0, 1.0] and voices[2:4, 1].sum() == 0
    assert onsets[:, 0].nonzero().flatten().tolist() == [0] and onsets[0, 0] == 1
    assert onsets[:, 1].nonzero().flatten().tolist() == [0, 24 // STEPS_PER_SIXTEENTH]


def test_the_head_predicts_one_value_per_descriptor_and_passes_the_gradient_back():
    head = PhraseInformationHead(n_outputs=4)
    phrases = torch.rand(3, *PHRASE_SHAPE, requires_grad=True)
    predictions = head(phrases)
    assert predictions.shape == (3, 4)
    predictions.sum().backward()
    assert phrases.grad is not None and phrases.grad.abs().sum() > 0
    with pytest.raises(ShapeError, match="PhraseInformationHead reads phrases of shape"):
        PhraseInformationHead(sample_shape=(4, 96, 128, 3))


@pytest.mark.slow  # trains a real Jukepix step
def test_both_methods_in_a_jukepix_recipe_train_a_real_step(shared_data):
    registry = load_plugins(allow=["jukepix", "evaluators"], strict=True).registry
    recipe = dataclasses.replace(
        piano_hands(),
        pairing=ComponentSpec("descriptor-pairs", {"couplings": COUPLINGS, "temperature": 0}),
        generator_losses=(ComponentSpec("information", {"weight": 1.0}),),
    )
    job = build_job(registry, recipe, shared_data / "paintings", shared_data / PIANO_FILE)
    conditions, targets = job.pairing(len(job.conditions), len(job.targets), 400, torch.Generator().manual_seed(0))
    for painting, music, _ in COUPLINGS:
        paintings, phrases = job.data.condition_descriptors[painting], job.data.target_descriptors[music]
        rho = spearman(paintings[conditions], phrases[targets])
        assert rho > 0.3, (painting, music, rho)
    schedule = {"batch_size": 2, "device": "cpu", "eval_samples": 2}
    trainer = Trainer(job, TrainConfig().merged(schedule, "test"), run_dir=None)
    head = trainer.loss_modules["information"]
    assert head.names == ("brightness", "colourfulness", "warmth", "edge-density")
    before = [p.detach().clone() for p in head.parameters()]
    losses = trainer.generator_step()
    assert list(losses) == ["adversarial", "information", "total"] and losses["information"] > 0
    # an untrained generator writes silence, so only the biases get a gradient on this first step
    assert any(not torch.equal(a, b) for a, b in zip(before, head.parameters()))
    assert all(p.grad is not None for p in job.generator.encoder.parameters())
