"""WGAN-GP losses (Gulrajani et al. 2017), written once for samples of any rank, and the
information term's module (:class:`InformationLoss`; see :mod:`crossmodal.losses.information`).

Scores are the critic's outputs, float tensors ``(B,)``; the losses are scalars to minimise.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

__all__ = [
    "InformationLoss",
    "gradient_penalty",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
]


def wasserstein_critic_loss(real_score: torch.Tensor, fake_score: torch.Tensor) -> torch.Tensor:
    """``E[D(fake)] - E[D(real)]``: the critic minimises it to score real samples higher."""
    return fake_score.mean() - real_score.mean()


def wasserstein_generator_loss(fake_score: torch.Tensor) -> torch.Tensor:
    """``-E[D(fake)]``: the generator minimises it to have its samples scored like real ones."""
    return -fake_score.mean()


def gradient_penalty(
    critic: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    condition: torch.Tensor,
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = 10.0,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``weight * E[(||grad_x D(c, x)||_2 - 1)^2]`` at random points between real and fake samples.

    Each pair is mixed with its own weight ``alpha ~ U[0, 1)`` shaped ``(B, 1, ..., 1)``, so
    samples of any rank work; the gradient of each sample is flattened before its norm is taken.
    Computed in float32 with autocast disabled (second-order gradients in bfloat16 are too coarse),
    and differentiable with respect to the critic's parameters.

    :param critic: ``critic(condition, sample) -> (B,)`` scores.
    :param condition: ``(B, *condition_shape)``; no gradient is taken with respect to it.
    :param real, fake: ``(B, *sample_shape)``; detached here.
    :param weight: the penalty coefficient (lambda; 10 in the WGAN-GP paper).
    :param generator: RNG for ``alpha`` (drawn on its device, then moved); the global RNG if ``None``.
    :returns: a float32 scalar.
    """
    batch = real.shape[0]
    alpha_shape = (batch,) + (1,) * (real.dim() - 1)  # (B, 1, ..., 1)
    source = generator.device if generator is not None else real.device
    alpha = torch.rand(alpha_shape, generator=generator, device=source).to(real.device)
    with torch.autocast(device_type=real.device.type, enabled=False):
        mixed = alpha * real.detach().float() + (1.0 - alpha) * fake.detach().float()
        mixed.requires_grad_(True)
        score = critic(condition.detach().float(), mixed).float()  # (B,)
        (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
        norm = grad.reshape(batch, -1).norm(2, dim=1)  # (B,)
        return weight * ((norm - 1.0) ** 2).mean()


class InformationLoss(nn.Module):
    """InfoGAN's information term (Chen et al. 2016) for a conditional GAN: a head reads each
    sample's condition back, as the condition's standardised descriptor values.

    ``loss = mean over the batch and the D descriptors of (head(sample) - target(condition))^2``,
    float32. The generator is rewarded for samples from which the condition can be read, and
    the head learns to read it, both by minimising this loss. A ``loss-term`` module: called with
    the trainer's context, it scores ``context["fake"]`` against the conditions at
    ``context["condition_indices"]`` (:func:`crossmodal.losses.information.information_module` builds it).

    :param head: samples ``(B, *sample_shape)`` in [0, 1] -> predictions ``(B, D)``.
    :param targets: float ``(N_conditions, D)``: every condition's descriptor values,
        standardised (mean 0, standard deviation 1 per column). A buffer rebuilt from the data
        when the job is built, so not part of the state dict.
    :param names: the D descriptors' names, in column order.
    """

    def __init__(self, head: nn.Module, targets: torch.Tensor, names: Sequence[str]) -> None:
        super().__init__()
        self.head = head
        self.names = tuple(names)
        self.register_buffer("targets", targets.float(), persistent=False)

    def predict(self, samples: torch.Tensor) -> torch.Tensor:
        """The head's predictions ``(B, D)``, float32."""
        predictions = self.head(samples).float()
        if predictions.shape != (samples.shape[0], len(self.names)):
            from crossmodal.errors import ShapeError

            raise ShapeError(
                f"information head {type(self.head).__name__}: expected predictions of shape "
                f"{(samples.shape[0], len(self.names))} (batch, descriptors {', '.join(self.names)}), "
                f"got {tuple(predictions.shape)}"
            )
        return predictions

    def loss(self, samples: torch.Tensor, condition_indices: torch.Tensor) -> torch.Tensor:
        """The loss for samples ``(B, *sample_shape)`` of the conditions at ``condition_indices``
        (int64 ``(B,)``, any device): a float32 scalar."""
        target = self.targets[condition_indices.to(self.targets.device)]  # (B, D)
        return (self.predict(samples) - target).pow(2).mean()

    def forward(self, context: Mapping[str, Any]) -> torch.Tensor:
        """:meth:`loss` of the generated samples, ``context["fake"]``, and their ``condition_indices``."""
        return self.loss(context["fake"], context["condition_indices"])
