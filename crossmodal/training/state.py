"""A run's training state: networks, optimisers, update counters and RNG streams, which a
checkpoint holds and restores, and the two updates that advance them."""

from __future__ import annotations

import json
from typing import Any, Mapping

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from crossmodal.training.batches import BatchDraws
from crossmodal.job.build import Job
from crossmodal.storage.checkpoint import capture_rng_state, restore_rng_state
from crossmodal.training import distributed, updates
from crossmodal.training.config import TrainConfig, critic_updates_for, updates_through
from crossmodal.callbacks.divergence import non_finite_weight
from crossmodal.errors import CheckpointError
from crossmodal.version import __version__


def _moving_average(decay: float):
    """``AveragedModel``'s update for an exponential moving average whose decay grows to ``decay``:
    after ``t`` updates folded in, ``average <- d * average + (1 - d) * weights`` with
    ``d = min(decay, (1 + t) / (10 + t))`` (TensorFlow's ``ExponentialMovingAverage`` with
    ``num_updates``), so early in a run the average follows the weights instead of the
    initialisation, and it spans about the last tenth of the run until ``1 / (1 - decay)`` updates."""

    @torch.no_grad()
    def update(averaged: list[torch.Tensor], weights: list[torch.Tensor], count: torch.Tensor) -> None:
        updates = int(count)
        kept = min(decay, (1 + updates) / (10 + updates))
        for average, weight in zip(averaged, weights):
            if average.is_floating_point():
                average.lerp_(weight, 1 - kept)
            else:  # counters such as BatchNorm's num_batches_tracked
                average.copy_(weight)

    return update


class TrainingState:
    """Both networks on the device with their Adam optimisers, the update counters, the batch
    draws and their RNGs, the generator's weight average when ``config.generator_average`` asks
    for one, the modules of extra loss terms, and (saved, never restored) what a run was made of:
    its configuration, job and plugins. :meth:`critic_update` and :meth:`generator_update` run
    one update of them (the maths: :mod:`crossmodal.training.updates`).

    :param job: its networks and loss-term modules are moved to ``device``; the parameters of each
        extra term's module are one more parameter group of that side's optimiser (same ``lr`` and betas).
    :param world_size, rank: this process's share of each batch (:class:`BatchDraws`); updates
        average the gradients over the processes (see :mod:`crossmodal.training.trainer`).
    :param plugin_versions: plugin name -> version.
    :raises RecipeError: when ``batch_size`` is not a multiple of ``world_size``.
    """

    def __init__(self, job: Job, config: TrainConfig, device: torch.device, world_size: int, rank: int,
                 plugin_versions: Mapping[str, str]) -> None:
        betas = (config.beta1, config.beta2)
        self.config, self.recipe, self.spec, self.plugin_versions = config, job.recipe, job.spec, plugin_versions
        self.generator, self.critic = job.generator.to(device), job.critic.to(device)
        self.loss_modules = {name: module.to(device) for name, module in job.loss_modules.items()}
        self.draws = BatchDraws(job, config, device, self.generator.sample_noise, world_size, rank)
        self.generator_optimizer = torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=betas)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.lr, betas=betas)
        self.term_modules: dict[str, nn.Module] = {}
        for optimizer, terms in ((self.generator_optimizer, job.recipe.generator_losses),
                                 (self.critic_optimizer, job.recipe.critic_losses)):
            owned = {term.name: self.loss_modules[term.name] for term in terms if term.name in self.loss_modules}
            for module in owned.values():
                optimizer.add_param_group({"params": list(module.parameters())})
            self.term_modules.update(owned)
        self.step = 0  # generator updates done
        self.critic_updates_done = 0
        self.average = None if config.generator_average == 0 else AveragedModel(
            self.generator, multi_avg_fn=_moving_average(config.generator_average), use_buffers=True)
        # Updates that need gradients averaged over the processes go through DDP wrappers (the
        # modules themselves when alone); the rest use the plain modules, which share their parameters.
        self.players = tuple(  # (generator, critic), as the updates see them
            updates.Player(module, distributed.wrap(module, device), optimizer)
            for module, optimizer in ((self.generator, self.generator_optimizer), (self.critic, self.critic_optimizer)))
        self.wrapped_terms = {  # DDP refuses a module with nothing to train
            name: distributed.wrap(module, device) if any(p.requires_grad for p in module.parameters()) else module
            for name, module in self.loss_modules.items()
        }
        self.autocast = updates.autocast_for(device, config.bf16)

    def critic_update(self) -> torch.Tensor:
        """One critic update on a batch of :attr:`draws`, counted; its losses ``(n,)`` on the device,
        in the order of :func:`~crossmodal.training.updates.loss_names`
        (:func:`~crossmodal.training.updates.critic_update`)."""
        losses = updates.critic_update(
            *self.players, self.draws.batch(), gp_weight=self.config.gp_weight, penalty_rng=self.draws.penalty_rng(),
            extra_terms=self.recipe.critic_losses, term_modules=self.wrapped_terms, autocast=self.autocast,
        )
        self.critic_updates_done += 1
        return torch.stack(list(losses.values()))

    def generator_update(self) -> torch.Tensor:
        """One generator update on a batch of :attr:`draws` (without targets unless an extra term
        needs them); its losses ``(n,)`` as :meth:`critic_update`'s
        (:func:`~crossmodal.training.updates.generator_update`). The caller folds it into the
        average (:meth:`average_generator`) and counts it."""
        extra_terms = self.recipe.generator_losses
        losses = updates.generator_update(
            *self.players, self.draws.batch(with_targets=bool(extra_terms)), extra_terms=extra_terms,
            term_modules=self.wrapped_terms, autocast=self.autocast,
        )
        return torch.stack(list(losses.values()))

    def critic_updates_left(self) -> int:
        """Critic updates that generator update :attr:`step` still needs: :func:`critic_updates_for`
        less those a checkpoint written during the step holds (:attr:`critic_updates_done` counts
        them). A count that fits no stopped step (updates run one by one, outside a training
        loop) leaves the step whole."""
        planned = critic_updates_for(self.step, self.config)
        done = self.critic_updates_done + self.step - updates_through(self.step, self.config)
        return planned - done if 0 <= done < planned else planned

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator that evaluations and samples use: the averaged copy, when there is one."""
        return self.generator if self.average is None else self.average.module

    def average_generator(self) -> None:
        """Fold the generator's current weights into the average (after each generator update).
        Floating-point buffers (BatchNorm's running statistics) are averaged with the weights, so
        the averaged network normalises with statistics of the same window; counters are copied."""
        if self.average is not None:
            self.average.update_parameters(self.generator)

    def state_dict(self) -> dict[str, Any]:
        """Weights, optimiser states, ``generator_step``, ``critic_step``, ``rng`` (tensors and ints),
        and ``config``, ``job`` (JSON), ``plugins`` and ``crossmodal_version``; with an average, also
        ``generator_average`` (the averaged generator's state dict, same keys as ``generator``) and
        ``generator_average_count`` (updates folded in); with loss-term modules, also
        ``loss_terms`` (term name -> state dict)."""
        average = {} if self.average is None else {
            "generator_average": self.average.module.state_dict(),
            "generator_average_count": int(self.average.n_averaged),
        }
        if self.term_modules:
            average["loss_terms"] = {name: module.state_dict() for name, module in self.term_modules.items()}
        return {**average,
            "generator": self.generator.state_dict(),
            "critic": self.critic.state_dict(),
            "generator_optimizer": self.generator_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "generator_step": self.step,
            "critic_step": self.critic_updates_done,
            "config": json.dumps(self.config.to_dict()),
            "job": json.dumps(self.spec.to_dict()),
            "plugins": dict(self.plugin_versions),
            "crossmodal_version": __version__,
            "rng": {**capture_rng_state(self.draws.rng), "trainer_device": self.draws.device_rng.get_state()},
        }

    def load_state_dict(self, document: Mapping[str, Any], where: str, seed: int) -> str | None:
        """Restore what :meth:`state_dict` saved.

        :param where: names the checkpoint in messages.
        :param seed: reseeds ``device_rng`` (as ``seed + step``) when the saved state is another
            kind of device's.
        :returns: a warning for the user, or ``None``.
        :raises CheckpointError: when the saved networks do not match these, or a weight is NaN/inf.
        """
        missing = sorted(set(self.term_modules) - set(document.get("loss_terms", {})))
        if missing:
            raise CheckpointError(
                f"{where} holds no weights for the loss term{'s' if len(missing) > 1 else ''} "
                f"{', '.join(map(repr, missing))} that the recipe now trains; it was written without "
                f"{'them' if len(missing) > 1 else 'it'}: resume with the recipe it was trained with, or start a "
                "new run"
            )
        try:
            self.generator.load_state_dict(document["generator"])
            self.critic.load_state_dict(document["critic"])
            for name, module in self.term_modules.items():
                module.load_state_dict(document["loss_terms"][name])
            self.generator_optimizer.load_state_dict(document["generator_optimizer"])
            self.critic_optimizer.load_state_dict(document["critic_optimizer"])
            if self.average is not None:
                self.average.module.load_state_dict(document["generator_average"])
                self.average.n_averaged.fill_(int(document["generator_average_count"]))
        except (RuntimeError, ValueError, KeyError) as err:
            raise CheckpointError(
                f"{where} does not fit the networks built from its recipe (did a plugin change?): {err}"
            ) from err
        self.step = int(document["generator_step"])
        self.critic_updates_done = int(document["critic_step"])
        rng, device_rng = self.draws.rng, self.draws.device_rng
        restore_rng_state(document["rng"], rng)
        warning = None
        if device_rng is not rng and "trainer_device" in document["rng"]:
            try:
                device_rng.set_state(document["rng"]["trainer_device"].cpu())
            except RuntimeError:  # written by another kind of device's generator (resumed elsewhere)
                device_rng.manual_seed(seed + self.step)
                warning = (
                    f"{where} was written on another kind of device; noise and penalty weights now "
                    f"come from a new stream on {device_rng.device}, so the run does not repeat bit for bit"
                )
        bad = self.non_finite_weight()  # only a checkpoint with finite weights is ever called good
        if bad is not None:
            raise CheckpointError(f"{where}: {bad} holds NaN or inf; resume from an earlier checkpoint file")
        return warning

    def non_finite_weight(self) -> str | None:
        """``"generator weight 'name'"`` of the first NaN/inf weight (``None``: all finite)."""
        average = {} if self.average is None else {"averaged generator": self.average.module}
        terms = {f"loss term {name!r}": module for name, module in self.term_modules.items()}
        return non_finite_weight({"generator": self.generator, "critic": self.critic, **average, **terms})
