"""WGAN-GP losses: the gradient penalty on critics whose gradient norm is known, at any rank."""

import math

import pytest
import torch
from torch import nn

from crossmodal.losses.wasserstein import gradient_penalty, wasserstein_critic_loss, wasserstein_generator_loss


class LinearCritic(nn.Module):
    """``D(c, x) = <w, x> + <v, c>``: its gradient in x is ``w`` everywhere, of norm ``||w||``."""

    def __init__(self, sample_shape, scale):
        super().__init__()
        weight = torch.zeros(sample_shape)
        weight.view(-1)[0] = scale  # ||w|| = scale
        self.w = nn.Parameter(weight)
        self.v = nn.Parameter(torch.ones(2))

    def forward(self, condition, sample):
        return (sample * self.w).flatten(1).sum(1) + condition @ self.v


@pytest.mark.parametrize("sample_shape", [(5,), (3, 4), (2, 3, 4), (2, 4, 6, 5, 2)])
@pytest.mark.parametrize("scale, expected", [(3.0, 40.0), (1.0, 0.0), (0.5, 2.5)])
def test_penalty_of_a_linear_critic_is_weight_times_norm_minus_one_squared(sample_shape, scale, expected):
    critic = LinearCritic(sample_shape, scale)
    real, fake = torch.rand(4, *sample_shape), torch.rand(4, *sample_shape)
    penalty = gradient_penalty(critic, torch.randn(4, 2), real, fake, weight=10.0)
    assert penalty.dtype == torch.float32 and penalty.dim() == 0
    assert math.isclose(penalty.item(), expected, rel_tol=1e-5, abs_tol=1e-6)


def test_penalty_flattens_each_sample_before_the_norm():
    # w = 1 on all 12 cells: per-sample norm sqrt(12), not 1 per row of a rank-3 sample.
    critic = LinearCritic((3, 4), 1.0)
    with torch.no_grad():
        critic.w.fill_(1.0)
    penalty = gradient_penalty(critic, torch.zeros(2, 2), torch.rand(2, 3, 4), torch.rand(2, 3, 4), weight=1.0)
    assert math.isclose(penalty.item(), (math.sqrt(12) - 1) ** 2, rel_tol=1e-5)


def test_penalty_is_differentiable_for_the_critic_only():
    critic = LinearCritic((3, 4), 3.0)
    real = torch.rand(2, 3, 4, requires_grad=True)
    gradient_penalty(critic, torch.zeros(2, 2), real, torch.rand(2, 3, 4)).backward()
    assert critic.w.grad is not None and critic.w.grad.abs().sum() > 0
    assert real.grad is None  # inputs are detached


def test_penalty_depends_on_the_mixing_point_for_a_nonlinear_critic_and_uses_the_given_rng():
    critic = nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 1))
    score = lambda c, x: critic(x).squeeze(1)  # noqa: E731
    real, fake = torch.rand(4, 2, 3), torch.rand(4, 2, 3)
    a = gradient_penalty(score, torch.zeros(4, 1), real, fake, generator=torch.Generator().manual_seed(1))
    b = gradient_penalty(score, torch.zeros(4, 1), real, fake, generator=torch.Generator().manual_seed(1))
    c = gradient_penalty(score, torch.zeros(4, 1), real, fake, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_penalty_stays_float32_under_bf16_autocast():
    critic = LinearCritic((3, 4), 3.0)
    real, fake = torch.rand(4, 3, 4), torch.rand(4, 3, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        penalty = gradient_penalty(critic, torch.zeros(4, 2), real.bfloat16(), fake.bfloat16())
    assert penalty.dtype == torch.float32
    assert math.isclose(penalty.item(), 40.0, rel_tol=1e-5)


def test_wasserstein_losses():
    real, fake = torch.tensor([3.0, 5.0]), torch.tensor([1.0, 2.0])
    assert wasserstein_critic_loss(real, fake).item() == pytest.approx(1.5 - 4.0)
    assert wasserstein_generator_loss(fake).item() == pytest.approx(-1.5)
