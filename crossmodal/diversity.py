"""A mode-seeking term as a recipe loss term: two noise draws for one condition must give two
different samples.

A conditional generator whose condition is strong (an information term, say) tends to ignore
its noise: every draw for one condition gives the same sample, and the parts of a sample that the
noise alone sets (Jukepix's bars, each from its own temporal vector) come out alike. The term
measures, per pair, how far apart two draws' samples are for how far apart their noises are::

    ratio = mean|G(c, z1) - G(c, z2)| / mean|z1 - z2|
    loss  = -min(ratio, tau) / tau            (in [-1, 0]; -1 once the ratio reaches tau)

averaged over the batch: the diversity-sensitive form (Yang et al., 2019, "Diversity-Sensitive
Conditional GANs") of the mode-seeking ratio (Mao et al., 2019). The bound ``tau`` keeps the
reward from growing without end (samples need differ no more than the data's own samples do)
and keeps the loss finite when two samples are identical, which the mode-seeking paper's
``1 / ratio`` is not. A good ``tau`` is the data's: the mean distance between two random real
samples divided by ``2 / sqrt(pi)``, the mean distance of two standard normal noise entries.

``z1`` is the update's noise and ``z2`` the same noise rolled by one place along the batch
(another pair's draw), so the term draws no random numbers and a resumed run stays bit-exact. It
costs one more generator forward and backward per generator update. The core knows no modality
here: distances are means over every entry of a sample.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Mapping

from .recipe import LossTerm

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["mode_seeking_loss", "mode_seeking_term"]


def mode_seeking_loss(context: Mapping[str, Any], tau: float) -> torch.Tensor:
    """The term's ``fn``: ``-min(ratio, tau) / tau`` averaged over the batch (module docstring).

    Uses ``context["generator"]``, ``["conditions"]``, ``["noise"]`` ``(B, noise_dim)`` and
    ``["fake"]`` ``(B, *sample_shape)``, the samples of that noise. A batch of one has no second
    draw to compare with: the loss is then 0.
    """
    fake, noise = context["fake"], context["noise"]
    if noise.shape[0] < 2:
        return fake.float().sum() * 0.0
    other_noise = noise.roll(1, dims=0)
    other = context["generator"](context["conditions"], other_noise)  # (B, *sample_shape)
    sample_distance = (fake - other).abs().flatten(1).float().mean(dim=1)  # (B,)
    noise_distance = (noise - other_noise).abs().mean(dim=1)  # (B,)
    return -(sample_distance / noise_distance).clamp(max=tau).mean() / tau


def mode_seeking_term(tau: float, weight: float = 1.0, *, name: str = "mode-seeking") -> LossTerm:
    """A generator loss term that rewards different samples for different noise (module docstring).

    For a recipe: ``generator_losses=(mode_seeking_term(tau=0.02, weight=1.0),)``; logged as
    ``generator/<name>``. With binary outputs (straight-through), the distance is that of the 0/1
    samples, and its gradient reaches the probabilities of the cells where two samples differ.

    :param tau: the ratio from which more difference earns nothing (> 0).
    :param weight: the term's weight in the generator's loss.
    :raises ValueError: ``tau`` is not positive.
    """
    if not tau > 0:
        raise ValueError(f"mode_seeking_term: tau must be positive, got {tau}")
    return LossTerm(name, partial(mode_seeking_loss, tau=float(tau)), weight)
