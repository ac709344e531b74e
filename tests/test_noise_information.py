"""The noise information term (latent regression): on hand-built cases with known answers, and
in a toy training run where its head is trained with the generator."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import RecipeError, hookimpl, load_plugins, noise_information_term  # noqa: E402
from crossmodal.losses import NoiseInformationLoss  # noqa: E402
from crossmodal.trainer import start_training  # noqa: E402


class FirstEntries(nn.Module):
    """A head that reads the first ``n`` entries of a flat sample: exact when the sample is the noise."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        return samples.flatten(1)[:, : self.n]


def test_the_loss_is_the_squared_error_against_the_leading_noise_entries():
    noise = torch.tensor([[1.0, 2.0, 9.0], [-1.0, 0.0, 9.0]])
    exact = NoiseInformationLoss(FirstEntries(2), n_noise=2)
    assert exact(noise.clone(), noise).item() == 0.0  # the sample carries its noise
    blind = NoiseInformationLoss(FirstEntries(2), n_noise=2)
    silent = torch.zeros(2, 3)  # a head that reads 0 from every sample: the mean of the squares
    assert blind(silent, noise).item() == pytest.approx((1 + 4 + 1 + 0) / 4)


def test_more_entries_than_the_noise_has_are_refused():
    with pytest.raises(RecipeError, match="reads 4 noise entries, but the generator's noise has 3"):
        NoiseInformationLoss(FirstEntries(4), n_noise=4)(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(RecipeError, match="n_noise must be at least 1"):
        noise_information_term(n_noise=0)
    with pytest.raises(RecipeError, match="head 'no colon' is not an import path"):
        noise_information_term("no colon")


def test_a_head_learns_to_read_noise_that_the_sample_encodes_but_not_noise_it_ignores():
    torch.manual_seed(0)
    losses = {}
    for name, encode in {"encoded": lambda z: torch.sigmoid(z), "ignored": lambda z: torch.full_like(z, 0.5)}.items():
        module = NoiseInformationLoss(nn.Sequential(nn.Linear(4, 32), nn.LeakyReLU(0.2), nn.Linear(32, 2)), 2)
        optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
        for _ in range(300):
            noise = torch.randn(32, 4)
            loss = module(encode(noise), noise)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        losses[name] = sum(module(encode(z), z).item() for z in torch.randn(10, 256, 4)) / 10
    assert losses["encoded"] < 0.1
    assert losses["ignored"] > 0.9  # nothing to read: the variance of a standard normal


class NoiseReadingPlugin:
    @hookimpl
    def crossmodal_register_components(self, register) -> None:
        register("recipe", "toy-noise-reading", lambda: dataclasses.replace(
            toy_plugin.toy_recipe(), name="toy-noise-reading", generator_losses=(noise_information_term(n_noise=2),)))


def test_the_head_trains_with_the_generator_and_is_logged(tmp_path):
    registry = load_plugins(extra=[("toy", toy_plugin), ("reading", NoiseReadingPlugin())], allow=[]).registry
    trainer = start_training(registry, "toy-noise-reading", overrides={"steps": 3, "out_dir": str(tmp_path)})
    head = list(trainer.loss_modules["noise-information"].parameters())
    optimised = {p for group in trainer.generator_optimizer.param_groups for p in group["params"]}
    assert head and set(head) <= optimised
    before = [p.detach().clone() for p in head]
    trainer.train()
    assert trainer.last_losses["generator/noise-information"] > 0.0
    assert all(not torch.equal(a, b) for a, b in zip(before, head))
