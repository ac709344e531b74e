"""A mode-seeking term (Mao et al., 2019, "Mode Seeking Generative Adversarial Networks") as a
recipe loss term: two noise draws for one condition must give two different samples.

A conditional generator whose condition is strong (an information term, say) tends to ignore
its noise: every draw for one condition gives the same sample, and the parts of a sample that the
noise alone sets (Jukepix's bars, each from its own temporal vector) come out alike. The term
divides the samples' distance by their noises' distance and rewards the ratio::

    ratio = mean|G(c, z1) - G(c, z2)| / mean|z1 - z2|        loss = 1 / (ratio + eps)

per pair, averaged over the batch. ``z1`` is the update's noise and ``z2`` the same noise rolled
by one place along the batch (another pair's draw), so the term draws no random numbers and a
resumed run stays bit-exact. It costs one more generator forward and backward per generator
update. The core knows no modality here: distances are means over every entry of a sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from .recipe import LossTerm

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["MODE_SEEKING_EPS", "mode_seeking_loss", "mode_seeking_term"]

MODE_SEEKING_EPS = 1e-5
"""Added to the ratio before it is inverted, as in the paper's code, so identical samples give a
large but finite loss."""


def mode_seeking_loss(context: Mapping[str, Any]) -> torch.Tensor:
    """The term's ``fn``: ``1 / (ratio + eps)`` averaged over the batch (module docstring).

    Uses ``context["generator"]``, ``["conditions"]``, ``["noise"]`` ``(B, noise_dim)`` and
    ``["fake"]`` ``(B, *sample_shape)``, the samples of that noise. A batch of one has no second
    draw to compare with: the loss is then 0.
    """
    import torch

    fake, noise = context["fake"], context["noise"]
    if noise.shape[0] < 2:
        return fake.sum() * 0.0
    other_noise = noise.roll(1, dims=0)
    other = context["generator"](context["conditions"], other_noise)  # (B, *sample_shape)
    sample_distance = (fake - other).abs().flatten(1).float().mean(dim=1)  # (B,)
    noise_distance = (noise - other_noise).abs().mean(dim=1)  # (B,)
    return torch.mean(1.0 / (sample_distance / noise_distance + MODE_SEEKING_EPS))


def mode_seeking_term(weight: float = 1.0, *, name: str = "mode-seeking") -> LossTerm:
    """A generator loss term that rewards different samples for different noise (module docstring).

    For a recipe: ``generator_losses=(mode_seeking_term(weight=1.0),)``; logged as
    ``generator/<name>``. With binary outputs (straight-through), the distance is that of the 0/1
    samples and its gradient reaches the probabilities.

    :param weight: the term's weight in the generator's loss (the paper's lambda, 1 in its
        experiments).
    """
    return LossTerm(name, mode_seeking_loss, weight)
