"""The mode-seeking term on hand-built cases with known answers, and in a toy training run."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
import torch

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import hookimpl, load_plugins, mode_seeking_term  # noqa: E402
from crossmodal.trainer import start_training  # noqa: E402


def _context(generator, noise: torch.Tensor) -> dict:
    conditions = torch.zeros(noise.shape[0], 1)
    return {"generator": generator, "conditions": conditions, "noise": noise, "fake": generator(conditions, noise)}


def test_a_generator_that_copies_its_noise_has_ratio_one():
    noise = torch.tensor([[0.0, 2.0], [1.0, 0.0], [3.0, 1.0]])
    copy = lambda conditions, z: z.clone()  # noqa: E731 - sample distance = noise distance: ratio 1
    assert mode_seeking_term(tau=2.0).fn(_context(copy, noise)).item() == pytest.approx(-0.5)  # -min(1, 2) / 2
    assert mode_seeking_term(tau=0.5).fn(_context(copy, noise)).item() == pytest.approx(-1.0)  # capped at tau


def test_a_generator_that_ignores_its_noise_earns_nothing():
    noise = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    constant = lambda conditions, z: torch.ones(z.shape[0], 5)  # noqa: E731
    assert mode_seeking_term(tau=0.1).fn(_context(constant, noise)).item() == 0.0


def test_the_ratio_is_per_pair_with_the_next_pairs_noise():
    noise = torch.tensor([[0.0], [2.0]])  # rolled: [[2], [0]], |z1 - z2| = 2 for both pairs
    half = lambda conditions, z: z * 0.5  # noqa: E731 - sample distance 1 per pair: ratio 0.5
    assert mode_seeking_term(tau=1.0).fn(_context(half, noise)).item() == pytest.approx(-0.5)


def test_a_batch_of_one_gives_zero_and_tau_must_be_positive():
    copy = lambda conditions, z: z.clone()  # noqa: E731
    assert mode_seeking_term(tau=1.0).fn(_context(copy, torch.ones(1, 2))).item() == 0.0
    with pytest.raises(ValueError, match="tau must be positive"):
        mode_seeking_term(tau=0.0)


class SeekingPlugin:
    @hookimpl
    def crossmodal_register_components(self, register) -> None:
        register("recipe", "toy-seeking", lambda: dataclasses.replace(
            toy_plugin.toy_recipe(), name="toy-seeking", generator_losses=(mode_seeking_term(tau=0.05, weight=2.0),)))


def test_the_term_is_logged_and_trains_the_generator(tmp_path):
    registry = load_plugins(extra=[("toy", toy_plugin), ("seeking", SeekingPlugin())], allow=[]).registry
    trainer = start_training(registry, "toy-seeking", overrides={"steps": 3, "out_dir": str(tmp_path)})
    trainer.train()
    value = trainer.last_losses["generator/mode-seeking"]
    assert -2.0 <= value < 0.0  # weight 2 x a reward in [-1, 0): the samples differ with the noise
