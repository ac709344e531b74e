"""One WGAN-GP critic update and one generator update (Gulrajani et al., 2017), DDP-aware.

A critic update minimises ``E[D(c, G(c, z))] - E[D(c, x)] + lambda * GP`` plus the recipe's
extra critic terms; a generator update minimises ``-E[D(c, G(c, z))]`` plus the recipe's extra
generator terms. Each takes one Adam step on one network and returns its losses by name, as
0-d float32 tensors on the device (detached, so reading them is the caller's choice of sync).

Under data parallelism the Wasserstein terms run through the
:class:`~torch.nn.parallel.DistributedDataParallel` wrappers (:attr:`Player.wrapped`), which
average the gradients over the processes during ``backward()``. The gradient penalty (a double
backward) and the extra terms call the plain modules, whose parameters are the wrapper's, so
their gradients are averaged in that same single ``backward()``. A term's own module
(:attr:`~crossmodal.contract.recipe.LossTerm.module`) is given to it as its DDP wrapper, and its
parameters are in the optimiser of the side the term is on.
"""

from __future__ import annotations

import operator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial, reduce
from typing import Callable, Mapping

import torch
from torch import nn

from crossmodal.losses.wasserstein import gradient_penalty, wasserstein_critic_loss, wasserstein_generator_loss
from crossmodal.contract.recipe import LossTerm, Recipe

Autocast = Callable[[], AbstractContextManager]
"""Makes the context the forward passes run in (e.g. bf16 autocast; ``nullcontext`` for float32)."""


@dataclass(frozen=True)
class Player:
    """One side of the game as an update sees it.

    :param module: the plain network (penalty, generating without gradients, extra terms).
    :param wrapped: the DDP wrapper that averages gradients over processes (``module`` when alone).
    :param optimizer: the Adam optimiser over ``module``'s parameters.
    """

    module: nn.Module
    wrapped: nn.Module
    optimizer: torch.optim.Optimizer


@dataclass(frozen=True)
class Batch:
    """This process's share of a global batch of ``b`` pairs.

    :param conditions: ``(b, *condition_shape)``.
    :param real: ``(b, *sample_shape)``, or ``None`` when the update needs no real samples.
    :param noise: ``(b, noise_dim)``.
    :param condition_indices, target_indices: int64 ``(b,)`` on the CPU: the pairs' items in the
        conditions and targets sample sets (``None`` when not known).
    """

    conditions: torch.Tensor
    real: torch.Tensor | None
    noise: torch.Tensor
    condition_indices: torch.Tensor | None = None
    target_indices: torch.Tensor | None = None


def autocast_for(device: torch.device, bf16: bool) -> Autocast:
    """bfloat16 autocast on ``device`` when ``bf16``, else float32 (``nullcontext``)."""
    return partial(torch.autocast, device_type=device.type, dtype=torch.bfloat16) if bf16 else nullcontext


def loss_names(recipe: Recipe) -> tuple[list[str], list[str]]:
    """The names :func:`critic_update` and :func:`generator_update` return for ``recipe``, in order."""
    critic = ["wasserstein", "gp", *(term.name for term in recipe.critic_losses), "total"]
    generator = ["adversarial", *(term.name for term in recipe.generator_losses), "total"]
    return critic, generator


def _context(generator: Player, critic: Player, batch: Batch, fake: torch.Tensor) -> dict[str, object]:
    """What an extra loss term's ``fn`` receives (see :class:`~crossmodal.contract.recipe.LossTerm`)."""
    return {"conditions": batch.conditions, "real": batch.real, "fake": fake, "noise": batch.noise,
            "generator": generator.module,
            "critic": critic.module, "condition_indices": batch.condition_indices,
            "target_indices": batch.target_indices}


def _extra(terms: tuple[LossTerm, ...], context: dict[str, object],
           modules: Mapping[str, nn.Module]) -> dict[str, torch.Tensor]:
    """Each term's weighted value; a term that owns a module finds it as ``context["module"]``."""
    values = {}
    for term in terms:
        seen = context if term.module is None else {**context, "module": modules[term.name]}
        values[term.name] = term.weight * term.fn(seen).float()
    return values


def _descend(optimizer: torch.optim.Optimizer, terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """One optimiser step on the sum of ``terms``; returns them and ``total``, detached."""
    total = reduce(operator.add, terms.values())  # added in order, as a hand-written loss would be
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    optimizer.step()
    return {**{name: value.detach() for name, value in terms.items()}, "total": total.detach()}


def critic_update(
    generator: Player,
    critic: Player,
    batch: Batch,
    *,
    gp_weight: float,
    penalty_rng: torch.Generator,
    extra_terms: tuple[LossTerm, ...] = (),
    term_modules: Mapping[str, nn.Module] | None = None,
    autocast: Autocast = nullcontext,
) -> dict[str, torch.Tensor]:
    """One critic update; returns ``wasserstein``, ``gp``, each extra term and ``total``.

    :param penalty_rng: draws the penalty's ``b`` mixing weights.
    :param term_modules: loss-term name -> its module (as the term should call it), for the
        terms that own one.
    """
    conditions, real = batch.conditions, batch.real
    with autocast():
        with torch.no_grad():
            fake = generator.module(conditions, batch.noise)
        wasserstein = wasserstein_critic_loss(
            critic.wrapped(conditions, real).float(), critic.wrapped(conditions, fake).float()
        )
    penalty = gradient_penalty(critic.module, conditions, real, fake, gp_weight, generator=penalty_rng)
    terms = {"wasserstein": wasserstein, "gp": penalty}
    if extra_terms:
        with autocast():
            terms.update(_extra(extra_terms, _context(generator, critic, batch, fake), term_modules or {}))
    return _descend(critic.optimizer, terms)


def generator_update(
    generator: Player,
    critic: Player,
    batch: Batch,
    *,
    extra_terms: tuple[LossTerm, ...] = (),
    term_modules: Mapping[str, nn.Module] | None = None,
    autocast: Autocast = nullcontext,
) -> dict[str, torch.Tensor]:
    """One generator update; returns ``adversarial``, each extra term and ``total``.

    The critic is scored through its plain module with its gradients off, so no critic
    gradient is computed (or averaged over processes).

    :param term_modules: as for :func:`critic_update`.
    """
    conditions = batch.conditions
    critic.module.requires_grad_(False)
    try:
        with autocast():
            fake = generator.wrapped(conditions, batch.noise)
            terms = {"adversarial": wasserstein_generator_loss(critic.module(conditions, fake).float())}
            if extra_terms:
                terms.update(_extra(extra_terms, _context(generator, critic, batch, fake), term_modules or {}))
        return _descend(generator.optimizer, terms)
    finally:
        critic.module.requires_grad_(True)
