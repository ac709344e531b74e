"""The one WGAN-GP trainer, for whatever components a recipe names.

Each generator update is preceded by :func:`~crossmodal.config.critic_updates_for` critic updates.
A critic update minimises ``E[D(c, G(c, z))] - E[D(c, x)] + lambda * GP`` plus the recipe's extra
critic terms; a generator update minimises ``-E[D(c, G(c, z))]`` plus the recipe's extra
generator terms. Batches of (condition, target) index pairs come from ``recipe.pairing``.

Losses stay on the device during training; every ``log_every`` generator updates (and before
every evaluation, sample or checkpoint) they are copied to the host once, checked for NaN/inf
and for an absolute value above ``divergence_bound``, and reported. Such a loss raises
:class:`~crossmodal.errors.TrainingDivergedError` naming the step and the loss; no checkpoint is
written after it, and only checkpoints whose weights were checked finite (when written, or when
loaded to resume) are ever called good.

SIGINT (Ctrl-C) and SIGTERM, while :meth:`Trainer.train` runs, ask the run to stop: the current
update finishes, every process agrees to stop at that step boundary, a checkpoint is written and
:class:`TrainingInterrupted` is raised (a second signal stops at once, without a checkpoint).
The previous signal handlers are restored when :meth:`Trainer.train` returns.

A run folder holds ``config.json``, ``metrics.csv``, ``curves/*.png``, ``samples/step-XXXXXX/``,
``checkpoints/``, ``run.lock`` and, when TensorBoard is installed, ``tensorboard/``. Every file
is written by the main process only (``is_main_process``), atomically (:mod:`crossmodal.files`);
a failed write raises :class:`~crossmodal.errors.OutputError` naming the file. The main process
holds an exclusive lock on ``run.lock`` (:class:`RunLock`) from when the trainer is made until
:meth:`Trainer.train` returns or :meth:`Trainer.close`, so a second process cannot train the same
run at once; it removes the leftovers of killed processes from the run folder when it takes it.

Data parallelism (see :mod:`crossmodal.distributed`): under ``torchrun`` each of the N processes
trains on ``batch_size / N`` pairs. Every process draws the same *global* batch of indices,
noise and penalty mixing weights from identically seeded generators and keeps its own slice of
it, so the slices partition the global batch and every RNG state is the same on every process
(a checkpoint holds rank 0's and every process loads it). The Wasserstein terms run through
:class:`~torch.nn.parallel.DistributedDataParallel` wrappers, which average the gradients over
the processes during ``backward()``; the gradient penalty (a double backward) and the extra
loss terms call the plain modules, whose parameters are the wrapper's, so their gradients are
averaged in that same single ``backward()``. On the CPU a run of N processes takes the same
updates as one process with the same global batch, up to float rounding (networks with
BatchNorm normalise each process's slice on its own). Losses are averaged over the processes
before they are checked and logged; rank 0 alone evaluates and writes. The trainer keeps no
module-level state, so several trainers can live in one process.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import random
import signal
import threading
import time
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch

from . import distributed
from .build import Job, JobSpec, build_job, count_parameters, get_recipe
from .checkpoint import (
    capture_rng_state,
    checkpoint_name,
    load_checkpoint,
    plugin_version_changes,
    restore_rng_state,
    save_checkpoint,
)
from .config import TrainConfig, critic_updates_for, resolve_config, resolve_device, resume_config
from .curves import plot_curves
from .errors import (
    CheckpointError,
    OutputError,
    RecipeError,
    RunInUseError,
    ShapeError,
    TrainingDivergedError,
    TrainingInterrupted,
)
from .files import atomic_write_text, remove_leftovers, shown
from .interfaces import SampleSet
from .losses import gradient_penalty, wasserstein_critic_loss, wasserstein_generator_loss
from .recipe import LossTerm
from .registry import Registry
from .runlock import RunLock

__all__ = [
    "DEVICE_CACHE_LIMIT_BYTES",
    "Progress",
    "Trainer",
    "new_run_dir",
    "resume_training",
    "run_dir_of",
    "seed_everything",
    "start_training",
]

DEVICE_CACHE_LIMIT_BYTES = 2 * 1024**3
"""A dataset whose float32 items fit in this many bytes is copied to a CUDA device once."""

_CACHE_CHUNK = 1024  # items per host -> device copy when caching a dataset on the device

Progress = Callable[[int, int, Mapping[str, float]], None]
"""``progress(generator_step, total_steps, losses)``, called every ``log_every`` updates."""


def _resolved_source(source: str | None) -> str | None:
    """A data source that names an existing path, as an absolute resolved path; others unchanged."""
    if source is None:
        return None
    try:
        path = Path(source)
        return str(path.resolve()) if path.exists() else source
    except (OSError, ValueError):  # not a path (e.g. a name with a NUL)
        return source


def _crossmodal_version() -> str:
    from . import __version__

    return __version__


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and Python's ``random`` (before building the networks)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def new_run_dir(out_dir: str | Path, recipe: str) -> Path:
    """Create and return ``out_dir/<recipe>-<UTC time>`` (with ``-2``, ``-3``... if taken)."""
    base = Path(out_dir)
    base.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 1000):
        path = base / (f"{recipe}-{stamp}" if attempt == 1 else f"{recipe}-{stamp}-{attempt}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a new run folder in {base}")


def _memory_format(tensor: torch.Tensor) -> torch.Tensor:
    """Channels-last layout for 4-D tensors (channels-last-3d for 5-D); other ranks unchanged."""
    if tensor.dim() == 4:
        return tensor.contiguous(memory_format=torch.channels_last)
    if tensor.dim() == 5:
        return tensor.contiguous(memory_format=torch.channels_last_3d)
    return tensor


def _local_batch(batch_size: int, world_size: int) -> int:
    """Pairs per process when the global ``batch_size`` is split over ``world_size`` processes.

    :raises RecipeError: when it does not split evenly.
    """
    if batch_size % world_size:
        raise RecipeError(
            f"batch_size {batch_size} (the global batch) cannot be split evenly over {world_size} "
            f"processes; choose a multiple of {world_size}"
        )
    return batch_size // world_size


class _Batches:
    """Fetches items of a :class:`SampleSet` onto the device; small sets are kept on a GPU."""

    def __init__(self, data: SampleSet, device: torch.device, channels_last: bool) -> None:
        self.data = data
        self.device = device
        self.channels_last = channels_last
        self.cached: torch.Tensor | None = None
        n_bytes = len(data) * math.prod(data.sample_shape) * 4  # float32
        if device.type == "cuda" and n_bytes <= DEVICE_CACHE_LIMIT_BYTES:
            chunks = [
                data.batch(torch.arange(start, min(start + _CACHE_CHUNK, len(data)))).to(device)
                for start in range(0, len(data), _CACHE_CHUNK)
            ]
            self.cached = torch.cat(chunks)

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.device.type == "cuda":  # pinned, so the copy does not wait for queued kernels
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device)

    def __call__(self, indices: torch.Tensor) -> torch.Tensor:
        if self.cached is not None:
            batch = self.cached[self._to_device(indices)]
        else:
            batch = self._to_device(self.data.batch(indices))
        return _memory_format(batch) if self.channels_last else batch


class Trainer:
    """Trains ``job.generator`` against ``job.critic`` with WGAN-GP and Adam.

    :param job: from :func:`~crossmodal.build.build_job`.
    :param config: the resolved :class:`~crossmodal.config.TrainConfig`.
    :param run_dir: the run folder (``None``: write nothing, e.g. in tests of single steps).
    :param plugin_versions: plugin name -> version, recorded in ``config.json`` and checkpoints.
    :param is_main_process: only the main process writes files, evaluates and reports progress
        (default: rank 0 of the process group, or ``True`` when there is none).
    :param progress: called as ``progress(step, total, losses)`` every ``log_every`` updates.
    :param run_lock: the run folder's :class:`RunLock`, already taken (default: the main process
        takes one on ``run_dir``).
    :raises RecipeError: when ``batch_size`` is not a multiple of the number of processes.
    :raises RunInUseError: when another process trains in ``run_dir``.

    Attributes: ``step`` (generator updates done), ``critic_updates_done``, ``device``,
    ``world_size`` and ``rank`` (1 and 0 without a process group),
    ``last_losses`` (means over the last logging interval), ``last_metrics`` (last evaluation),
    ``warnings`` (lines for the user, e.g. plugin versions that changed since a checkpoint).
    """

    def __init__(
        self,
        job: Job,
        config: TrainConfig,
        run_dir: str | Path | None = None,
        *,
        plugin_versions: Mapping[str, str] | None = None,
        is_main_process: bool | None = None,
        progress: Progress | None = None,
        run_lock: RunLock | None = None,
    ) -> None:
        self.job = job
        self.config = config
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.plugin_versions = dict(plugin_versions or {})
        self.world_size, self.rank = distributed.world_size(), distributed.rank()
        self.is_main_process = distributed.is_main_process() if is_main_process is None else is_main_process
        self.progress = progress
        local_batch = _local_batch(config.batch_size, self.world_size)
        self._local = slice(self.rank * local_batch, (self.rank + 1) * local_batch)  # this rank's share
        self._stop_signal = 0  # the signal that asked to stop (0: none)
        self.device = distributed.device_for(config.device)
        self.generator = job.generator.to(self.device)
        self.critic = job.critic.to(self.device)
        if config.channels_last:
            for parameter in [*self.generator.parameters(), *self.critic.parameters()]:
                parameter.data = _memory_format(parameter.data)
        # Updates that need gradients averaged over the processes go through these wrappers (the
        # modules themselves when alone); generating without gradients, the gradient penalty,
        # evaluation and checkpoints use the plain modules, which share the wrappers' parameters.
        self._ddp_generator = distributed.wrap(self.generator, self.device)
        self._ddp_critic = distributed.wrap(self.critic, self.device)
        betas = (config.beta1, config.beta2)
        self.generator_optimizer = torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=betas)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.lr, betas=betas)
        # Batch indices come from a CPU generator (pairings are drawn on the CPU); noise and the
        # penalty's mixing weights from one on the device, so no host-to-device copy is needed.
        self.rng = torch.Generator().manual_seed(config.seed)
        self.device_rng = (
            self.rng if self.device.type == "cpu"
            else torch.Generator(device=self.device).manual_seed(config.seed)
        )
        self.conditions = _Batches(job.conditions, self.device, config.channels_last)
        self.targets = _Batches(job.targets, self.device, channels_last=False)  # samples keep their layout
        self.step = 0
        self.critic_updates_done = 0
        self.last_losses: dict[str, float] = {}
        self.last_metrics: dict[str, float] = {}
        self.warnings: list[str] = []
        self._critic_names = ["wasserstein", "gp", *(t.name for t in job.recipe.critic_losses), "total"]
        self._generator_names = ["adversarial", *(t.name for t in job.recipe.generator_losses), "total"]
        self.loss_names = [f"critic/{n}" for n in self._critic_names] + [
            f"generator/{n}" for n in self._generator_names
        ]
        self._pending: list[tuple[int, torch.Tensor]] = []  # (generator step, losses on the device)
        self._real_metrics: dict[str, float] | None = None
        self._tensorboard: Any = None
        self._last_checkpoint: Path | None = None
        # Fixed evaluation and sample pairs: their own RNG, so they never disturb training.
        fixed = torch.Generator().manual_seed(config.seed + 1)
        n_fixed = max(config.eval_samples, config.write_samples)
        self._fixed_conditions, self._fixed_targets = job.recipe.pairing(
            len(job.conditions), len(job.targets), n_fixed, fixed
        )
        self._fixed_noise = self.generator.sample_noise(n_fixed, generator=fixed)
        self._run_lock: RunLock | None = None
        if self._writes():
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._run_lock = run_lock if run_lock is not None else RunLock(self.run_dir)
        self._hold_run_lock()
        if self._writes():
            try:
                _remove_run_leftovers(self.run_dir)
                self.write_run_config()
            except BaseException:
                self._release_run_lock()
                raise

    # ---------------------------------------------------------------------------------------
    # Paths

    @property
    def checkpoint_dir(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "checkpoints"

    @property
    def metrics_path(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "metrics.csv"

    def _writes(self) -> bool:
        return self.run_dir is not None and self.is_main_process

    def _hold_run_lock(self) -> None:
        """Take the run folder's lock (main process); every process raises if it is taken."""
        refusal = None
        if self._run_lock is not None:
            try:
                self._run_lock.acquire()
            except (RunInUseError, OutputError) as err:
                refusal = err
        if self.world_size > 1:  # the other processes must not go on to train alone
            message = distributed.broadcast_object(None if refusal is None else (type(refusal).__name__, str(refusal)))
            if refusal is None and message is not None:
                refusal = (RunInUseError if message[0] == "RunInUseError" else OutputError)(message[1])
        if refusal is not None:
            raise refusal

    def _release_run_lock(self) -> None:
        if self._run_lock is not None:
            self._run_lock.release()

    # ---------------------------------------------------------------------------------------
    # One update each

    def _autocast(self):
        if not self.config.bf16:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def _draw(self, with_targets: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This process's share of a global batch: ``(conditions (b, *condition_shape), targets
        (b, *sample_shape) or None)`` with ``b = batch_size / world_size``."""
        condition_idx, target_idx = self.job.recipe.pairing(
            len(self.job.conditions), len(self.job.targets), self.config.batch_size, self.rng
        )
        condition_idx, target_idx = condition_idx[self._local], target_idx[self._local]
        return self.conditions(condition_idx), self.targets(target_idx) if with_targets else None

    def _noise(self) -> torch.Tensor:
        """This process's rows ``(b, noise_dim)`` of the global batch's noise (drawn whole on every rank)."""
        return self.generator.sample_noise(self.config.batch_size, self.device_rng, self.device)[self._local]

    def _penalty_rng(self) -> torch.Generator:
        """The generator from which :func:`gradient_penalty` draws this process's ``b`` mixing weights.

        Alone: ``device_rng``, as always. With N processes: a copy of the shared CPU ``rng``
        advanced past the lower ranks' ``b`` weights each, while ``rng`` itself skips the global
        batch's ``batch_size`` weights; so the processes' weights are consecutive slices of one
        draw (on a CPU run the very values one process would draw) and ``rng`` stays the same
        on every rank. (A CUDA generator draws in a different order per call size, hence the CPU.)
        """
        if self.world_size == 1:
            return self.device_rng
        local_batch = self._local.stop - self._local.start
        share = torch.Generator().set_state(self.rng.get_state())
        for _ in range(self.rank):
            torch.rand(local_batch, generator=share)
        torch.rand(self.config.batch_size, generator=self.rng)
        return share

    def _extra(self, terms: tuple[LossTerm, ...], context: Mapping[str, Any]) -> list[torch.Tensor]:
        return [term.weight * term.fn(context).float() for term in terms]

    def _critic_update(self) -> torch.Tensor:
        """One critic update; returns its losses as a device tensor in ``_critic_names`` order."""
        conditions, real = self._draw()
        noise = self._noise()
        with self._autocast():
            with torch.no_grad():
                fake = self.generator(conditions, noise)
            wasserstein = wasserstein_critic_loss(
                self._ddp_critic(conditions, real).float(), self._ddp_critic(conditions, fake).float()
            )
        # Through the plain critic: its double backward never enters the DDP wrapper, and the
        # parameters it reaches are the wrapper's, whose hooks average their summed gradient
        # (Wasserstein + penalty + extra terms) once in total.backward().
        penalty = gradient_penalty(
            self.critic, conditions, real, fake, self.config.gp_weight, generator=self._penalty_rng()
        )
        terms = [wasserstein, penalty]
        if self.job.recipe.critic_losses:
            context = {"conditions": conditions, "real": real, "fake": fake,
                       "generator": self.generator, "critic": self.critic}
            with self._autocast():
                terms += self._extra(self.job.recipe.critic_losses, context)
        total = torch.stack(terms).sum()
        self.critic_optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.critic_optimizer.step()
        self.critic_updates_done += 1
        return torch.stack([*terms, total]).detach()

    def _generator_update(self) -> torch.Tensor:
        """One generator update; returns its losses as a device tensor in ``_generator_names`` order."""
        extra_terms = self.job.recipe.generator_losses
        conditions, real = self._draw(with_targets=bool(extra_terms))
        noise = self._noise()
        self.critic.requires_grad_(False)  # the plain critic below: no critic gradients to average
        try:
            with self._autocast():
                fake = self._ddp_generator(conditions, noise)
                terms = [wasserstein_generator_loss(self.critic(conditions, fake).float())]
                if extra_terms:
                    context = {"conditions": conditions, "real": real, "fake": fake,
                               "generator": self.generator, "critic": self.critic}
                    terms += self._extra(extra_terms, context)
            total = torch.stack(terms).sum()
            self.generator_optimizer.zero_grad(set_to_none=True)
            total.backward()
            self.generator_optimizer.step()
        finally:
            self.critic.requires_grad_(True)
        return torch.stack([*terms, total]).detach()

    def _diverged(self, value: float) -> str | None:
        """Why ``value`` means the run diverged (``None``: it does not)."""
        if not math.isfinite(value):
            return f"became {value}"
        if abs(value) > self.config.divergence_bound:
            return f"reached {value:.4g}, beyond divergence_bound {self.config.divergence_bound:g}"
        return None

    def _named(self, names: list[str], values: torch.Tensor, what: str) -> dict[str, float]:
        floats = values.tolist()
        for name, value in zip(names, floats):
            why = self._diverged(value)
            if why is not None:
                raise TrainingDivergedError(
                    f"{what} loss {name!r} {why} at generator step {self.step}; {self._last_good()}"
                )
        return dict(zip(names, floats))

    def critic_step(self) -> dict[str, float]:
        """Run one critic update; returns ``wasserstein``, ``gp``, each extra term and ``total``.

        :raises TrainingDivergedError: when a loss is NaN, infinite or beyond ``divergence_bound``.
        """
        return self._named(self._critic_names, self._critic_update().cpu(), "critic")

    def generator_step(self) -> dict[str, float]:
        """Run one generator update (no critic updates); advances :attr:`step`.

        :returns: ``adversarial``, each extra term and ``total``.
        :raises TrainingDivergedError: when a loss is NaN, infinite or beyond ``divergence_bound``.
        """
        losses = self._named(self._generator_names, self._generator_update().cpu(), "generator")
        self.step += 1
        return losses

    # ---------------------------------------------------------------------------------------
    # The loop

    def _due(self, every: int, step: int, last: int) -> bool:
        return step == last or (every > 0 and step % every == 0)

    def train(self, steps: int | None = None) -> dict[str, float]:
        """Train until :attr:`step` reaches ``steps`` (default: ``config.steps``).

        Evaluates, writes samples and checkpoints at their intervals and at the last step. Holds
        the run folder's lock (taken again if it was let go) and, in the main thread, handles
        SIGINT and SIGTERM until it returns (see the module docstring).

        :returns: the last evaluation's metrics (empty when the recipe has no evaluators).
        :raises TrainingDivergedError: on a NaN/inf loss or one beyond ``divergence_bound`` (no
            checkpoint is written after it).
        :raises TrainingInterrupted: after SIGINT or SIGTERM, once a checkpoint is written.
        :raises RunInUseError: when another process took the run folder meanwhile.
        :raises OutputError: when a file cannot be written (e.g. a full disk).
        """
        config = self.config
        last = config.steps if steps is None else steps
        n_critic = len(self._critic_names)
        self._hold_run_lock()
        self._stop_signal = 0
        try:
            with self._stop_signals():
                while self.step < last:
                    updates = critic_updates_for(self.step, config)
                    critic_sum = torch.zeros(n_critic, device=self.device)
                    for _ in range(updates):
                        critic_sum += self._critic_update()
                    generator_losses = self._generator_update()
                    self._pending.append((self.step, torch.cat([critic_sum / updates, generator_losses])))
                    self.step += 1
                    step = self.step
                    evaluate = self._due(config.eval_every, step, last)
                    sample = self._due(config.sample_every, step, last)
                    checkpoint = self._due(config.checkpoint_every, step, last)
                    if evaluate or sample or checkpoint or step % config.log_every == 0:
                        self._flush(last)
                    if evaluate and self.is_main_process:
                        self.evaluate()
                    if sample:
                        self.write_samples()
                    if checkpoint:
                        self.save_checkpoint()
                    if step < last:
                        stop = self._stop_requested()
                        if stop:
                            written = self._last_checkpoint if checkpoint else None
                            if not checkpoint:
                                self.save_checkpoint()
                                written = self._last_checkpoint
                            raise TrainingInterrupted(stop, step, written, self.run_dir, self.world_size)
        finally:
            self._release_run_lock()
        return self.last_metrics

    @contextmanager
    def _stop_signals(self) -> Iterator[None]:
        """Handle SIGINT and SIGTERM by asking the loop to stop; restore the old handlers after.

        Only the main thread can install handlers (elsewhere nothing is installed), and a signal
        that was ignored (e.g. SIGINT of a background job) stays ignored.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous: dict[int, Any] = {}

        def ask_to_stop(signal_number: int, frame: Any) -> None:
            if self._stop_signal:  # a second signal: stop now, without a checkpoint
                for number, handler in previous.items():
                    signal.signal(number, handler)
                raise KeyboardInterrupt
            self._stop_signal = signal_number

        try:
            for number in (signal.SIGINT, signal.SIGTERM):
                old = signal.getsignal(number)
                if old == signal.SIG_IGN:
                    continue
                previous[number] = signal.SIG_DFL if old is None else old
                signal.signal(number, ask_to_stop)
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _stop_requested(self) -> int:
        """The signal that asked this run to stop (0: none), the same on every process: with
        several processes the flags are combined with one all-reduce (SIGINT wins)."""
        stop = self._stop_signal
        if self.world_size > 1:
            flags = torch.tensor([stop == signal.SIGINT, stop == signal.SIGTERM],
                                 dtype=torch.float32, device=self.device)
            asked_int, asked_term = distributed.all_reduce_mean(flags).tolist()
            stop = signal.SIGINT if asked_int > 0 else signal.SIGTERM if asked_term > 0 else 0
        return int(stop)

    def _last_good(self) -> str:
        """Names the newest checkpoint whose weights were checked finite (written or resumed from)."""
        if self._last_checkpoint is not None:
            return f"the last good checkpoint is {shown(self._last_checkpoint)}"
        return "no checkpoint had been written yet"

    def _flush(self, total: int) -> None:
        """Average pending losses over the processes, copy them to the host (one sync), check
        them, report progress. Every process calls it at the same steps."""
        if not self._pending:
            return
        steps = [step for step, _ in self._pending]
        values = torch.stack([losses for _, losses in self._pending])  # (n_steps, n_losses)
        values = distributed.all_reduce_mean(values).cpu()
        self._pending.clear()
        bad = ~torch.isfinite(values) | (values.abs() > self.config.divergence_bound)
        if bool(bad.any()):
            row, column = bad.nonzero()[0].tolist()
            raise TrainingDivergedError(
                f"loss {self.loss_names[column]!r} {self._diverged(values[row, column].item())} at generator "
                f"step {steps[row]} (counted from 0); training stopped, {self._last_good()}. Try a lower "
                "learning rate or check the extra loss terms."
            )
        self.last_losses = dict(zip(self.loss_names, values.mean(dim=0).tolist()))
        if self.progress is not None and self.is_main_process:
            self.progress(self.step, total, self.last_losses)
        if self._tensorboard is not None:
            for name, value in self.last_losses.items():
                self._tensorboard.add_scalar(f"loss/{name}", value, self.step)

    # ---------------------------------------------------------------------------------------
    # Generating with fixed inputs, evaluating, writing samples

    @torch.no_grad()
    def _generate_fixed(self, count: int) -> torch.Tensor:
        """Generate from the first ``count`` fixed (condition, noise) pairs; float32 on the CPU."""
        was_training = self.generator.training
        self.generator.eval()
        chunks = []
        try:
            for start in range(0, count, self.config.batch_size):
                stop = min(start + self.config.batch_size, count)
                conditions = self.conditions(self._fixed_conditions[start:stop])
                noise = self._fixed_noise[start:stop].to(self.device)
                with self._autocast():
                    chunks.append(self.generator(conditions, noise).float().cpu())
        finally:
            self.generator.train(was_training)
        return torch.cat(chunks)

    def _metric_values(self, samples: torch.Tensor) -> dict[str, float]:
        """Each evaluator's metrics: ``name/trackK`` for shape ``(n_tracks,)``, ``name`` for ``()``."""
        values: dict[str, float] = {}
        for evaluator_name, evaluator in self.job.evaluators.items():
            for name, value in evaluator(samples).items():
                value = torch.as_tensor(value).detach().double().cpu()
                if value.dim() == 0:
                    values[name] = value.item()
                elif value.dim() == 1:
                    values.update({f"{name}/track{k}": v for k, v in enumerate(value.tolist())})
                else:
                    raise ShapeError(
                        f"evaluator {evaluator_name!r}: metric {name!r} has shape {tuple(value.shape)}; "
                        "expected () or (n_tracks,)"
                    )
        return values

    def evaluate(self) -> dict[str, float]:
        """Run the recipe's evaluators on ``eval_samples`` generated and real samples.

        Appends a row (step, time, losses, metrics) to ``metrics.csv``, redraws the curves and
        logs to TensorBoard. The real samples' metrics are computed once and repeated per row.

        :returns: the generated samples' metrics (``name/trackK`` or ``name``).
        """
        metrics: dict[str, float] = {}
        if self.job.evaluators:
            count, batch = self.config.eval_samples, self.config.batch_size
            metrics = self._metric_values(self._generate_fixed(count))
            if self._real_metrics is None:
                real = torch.cat([
                    self.job.targets.batch(self._fixed_targets[start:min(start + batch, count)])
                    for start in range(0, count, batch)
                ])
                self._real_metrics = {f"real/{k}": v for k, v in self._metric_values(real).items()}
        self.last_metrics = metrics
        if self._writes():
            row = {"step": self.step, "wall_time": round(time.time(), 3), **self.last_losses,
                   **metrics, **(self._real_metrics or {})}
            self._append_metrics(row)
            curves = self.run_dir / "curves"
            try:
                plot_curves(self.metrics_path, curves)
            except OutputError:  # already names its file
                raise
            except OSError as err:
                raise _output_error(curves, err) from err
            if self._tensorboard is not None:
                for name, value in metrics.items():
                    self._tensorboard.add_scalar(f"metric/{name}", value, self.step)
        return metrics

    def _append_metrics(self, row: Mapping[str, float]) -> None:
        """Append ``row`` to ``metrics.csv`` (flushed and fsynced).

        :raises OutputError: when it cannot be read or written (e.g. a full disk), naming the file.
        """
        path = self.metrics_path
        try:
            header: list[str] | None = None
            if path.exists() and path.stat().st_size > 0:
                with open(path, newline="", encoding="utf-8") as handle:
                    header = next(csv.reader(handle), None)
            new_file = header is None
            if new_file:
                header = ["step", "wall_time", *self.loss_names, *row.keys()]
                header = list(dict.fromkeys(header))
            with open(path, "a", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=header, restval="", extrasaction="ignore")
                if new_file:
                    writer.writeheader()
                writer.writerow(row)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as err:
            raise _output_error(path, err) from err

    def forget_metrics_after(self, step: int) -> None:
        """Drop ``metrics.csv`` rows past ``step`` (evaluated after the checkpoint being resumed).

        :raises OutputError: when the file cannot be read or rewritten (naming it).
        """
        path = self.metrics_path
        if path is None or not path.exists():
            return
        try:
            with open(path, newline="", encoding="utf-8") as handle:
                rows = list(csv.reader(handle))
        except OSError as err:
            raise _output_error(path, err, "read") from err
        kept = rows[:1] + [row for row in rows[1:] if row and _step_of(row) <= step]
        if len(kept) == len(rows):
            return
        text = io.StringIO(newline="")
        csv.writer(text).writerows(kept)
        atomic_write_text(path, text.getvalue())

    def write_samples(self) -> list[Path]:
        """Write the fixed (condition, noise) pairs' samples to ``samples/step-XXXXXX/``."""
        count = self.config.write_samples
        if self.job.writer is None or count == 0 or not self._writes():
            return []
        samples = self._generate_fixed(count)
        folder = self.run_dir / "samples" / f"step-{self.step:06d}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise _output_error(folder, err) from err
        listing = self.run_dir / "samples" / "conditions.txt"
        if not listing.exists():
            sources = self.job.conditions.sources()
            lines = [f"sample {k}: {sources[int(i)]}" for k, i in enumerate(self._fixed_conditions[:count])]
            atomic_write_text(listing, "\n".join(lines) + "\n")
        try:
            return list(self.job.writer.write(samples, folder, "sample"))
        except OutputError:  # already names its file
            raise
        except OSError as err:  # a full disk while the plugin's writer wrote
            raise _output_error(folder, err) from err

    # ---------------------------------------------------------------------------------------
    # State

    def state_dict(self) -> dict[str, Any]:
        """Everything :meth:`load_state_dict` needs to continue exactly (tensors and plain values)."""
        return {
            "generator": self.generator.state_dict(),
            "critic": self.critic.state_dict(),
            "generator_optimizer": self.generator_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "generator_step": self.step,
            "critic_step": self.critic_updates_done,
            "config": json.dumps(self.config.to_dict()),
            "job": json.dumps(self.job.spec.to_dict()),
            "plugins": dict(self.plugin_versions),
            "crossmodal_version": _crossmodal_version(),
            "rng": {**capture_rng_state(self.rng), "trainer_device": self.device_rng.get_state()},
        }

    def load_state_dict(self, document: Mapping[str, Any]) -> None:
        """Restore networks, optimisers, counters and RNG states from a checkpoint's contents.

        :raises CheckpointError: when the saved networks do not match the built ones.
        """
        where = f"checkpoint {document.get('path', '')}".strip()
        try:
            self.generator.load_state_dict(document["generator"])
            self.critic.load_state_dict(document["critic"])
            self.generator_optimizer.load_state_dict(document["generator_optimizer"])
            self.critic_optimizer.load_state_dict(document["critic_optimizer"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise CheckpointError(
                f"{where} does not fit the networks built from its recipe (did a plugin change?): {err}"
            ) from err
        self.step = int(document["generator_step"])
        self.critic_updates_done = int(document["critic_step"])
        restore_rng_state(document["rng"], self.rng)
        if self.device_rng is not self.rng and "trainer_device" in document["rng"]:
            try:
                self.device_rng.set_state(document["rng"]["trainer_device"].cpu())
            except RuntimeError:  # written by another kind of device's generator (resumed elsewhere)
                self.device_rng.manual_seed(self.config.seed + self.step)
                self.warnings.append(
                    f"{where} was written on another kind of device; noise and penalty weights now "
                    f"come from a new stream on {self.device}, so the run does not repeat bit for bit"
                )
        bad = self._non_finite_weight()  # only a checkpoint with finite weights is ever called good
        if bad is not None:
            raise CheckpointError(f"{where}: {bad} holds NaN or inf; resume from an earlier checkpoint file")
        if document.get("path") is not None:
            self._last_checkpoint = Path(document["path"])

    def _non_finite_weight(self) -> str | None:
        """``"generator weight 'name'"`` of the first NaN/inf weight (``None``: all finite)."""
        for module_name, module in (("generator", self.generator), ("critic", self.critic)):
            named = list(module.named_parameters())
            finite = torch.stack([p.detach().isfinite().all() for _, p in named]).cpu()  # one sync
            if not bool(finite.all()):
                return f"{module_name} weight {named[int((~finite).nonzero()[0])][0]!r}"
        return None

    def _check_weights(self) -> None:
        """Raise :class:`TrainingDivergedError` if a weight is NaN/inf (a loss can be finite
        while the update it produced was not)."""
        bad = self._non_finite_weight()
        if bad is not None:
            raise TrainingDivergedError(
                f"{bad} holds NaN or inf after generator step {self.step}; training stopped, {self._last_good()}"
            )

    def save_checkpoint(self) -> Path | None:
        """Check pending losses and the weights, then write a checkpoint (main process only).

        In a distributed run every process calls it and waits until rank 0 has written the file.

        :returns: the path written (``None`` when this process writes no files).
        """
        self._flush(self.config.steps)
        self._check_weights()
        written = None
        if self._writes():
            written = save_checkpoint(self.state_dict(), self.checkpoint_dir, self.config.keep_checkpoints)
        distributed.barrier()
        if written is not None:
            self._last_checkpoint = written
        elif self.run_dir is not None:  # where rank 0 wrote it, for this process's messages
            self._last_checkpoint = self.checkpoint_dir / checkpoint_name(self.step)
        return written

    def write_run_config(self) -> Path:
        """Write ``config.json``: recipe, components, data, training options, plugins, device."""
        document = {
            "recipe": self.job.spec.recipe,
            "job": self.job.spec.to_dict(),
            "training": self.config.to_dict(),
            "plugins": self.plugin_versions,
            "crossmodal_version": _crossmodal_version(),
            "torch_version": torch.__version__,
            "device": str(self.device),
            "parameters": {"generator": count_parameters(self.generator), "critic": count_parameters(self.critic)},
            "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        return atomic_write_text(self.run_dir / "config.json", json.dumps(document, indent=2) + "\n")

    def open_tensorboard(self) -> bool:
        """Log to ``run/tensorboard`` when ``torch.utils.tensorboard`` imports; returns whether it does."""
        if not self._writes():
            return False
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return False
        self._tensorboard = SummaryWriter(str(self.run_dir / "tensorboard"))
        return True

    def close(self) -> None:
        """Close TensorBoard's writer and let the run folder's lock go."""
        self._release_run_lock()
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None


_LEGACY_TEMPORARY = ("config.json.tmp", "metrics.csv.tmp")  # earlier versions' temporary names, without a pid


def _remove_run_leftovers(run_dir: Path) -> None:
    """Delete what killed processes left half-written in a run folder (its lock is held)."""
    for folder in (run_dir, run_dir / "curves", run_dir / "samples"):
        remove_leftovers(folder)
    for name in _LEGACY_TEMPORARY:  # no pid in the name, but the lock says no one writes them now
        (run_dir / name).unlink(missing_ok=True)


def _output_error(path: Path, err: OSError, action: str = "written") -> OutputError:
    """``err`` as one :class:`OutputError` naming ``path``."""
    reason = err.strerror or str(err) or type(err).__name__
    return OutputError(f"{shown(path)}: could not be {action} ({reason})")


def _step_of(row: list[str]) -> float:
    try:
        return float(row[0])
    except ValueError:
        return math.inf  # a damaged row: dropped with those after the checkpoint


# -------------------------------------------------------------------------------------------
# Starting and resuming runs


def start_training(
    registry: Registry,
    recipe_name: str,
    *,
    condition_source: str | None = None,
    target_source: str | None = None,
    condition_options: Mapping[str, Any] | None = None,
    target_options: Mapping[str, Any] | None = None,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    plugin_versions: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    is_main_process: bool | None = None,
) -> Trainer:
    """Resolve the configuration, seed, build and check the job, create the run folder.

    Under ``torchrun`` this joins the process group (:func:`crossmodal.distributed.init`), checks
    that every process resolved the same options, and rank 0 creates the run folder and tells
    the others its name.

    :param recipe_name: a registered recipe; its ``training`` mapping sits between the defaults
        and ``config_file`` (a JSON or TOML file), and ``overrides`` (e.g. command-line options,
        ``None`` values ignored) win over both.
    :param condition_source, target_source: a source that names an existing file or folder is
        recorded as its absolute path, so the run resumes from any working directory.
    :param is_main_process: default: rank 0 (``True`` without a process group).
    :returns: a :class:`Trainer` ready for :meth:`Trainer.train`, holding the run folder's lock.
    """
    recipe = get_recipe(registry, recipe_name)
    if recipe.name != recipe_name:  # the registered name is what checkpoints must record
        recipe = dataclasses.replace(recipe, name=recipe_name)
    config = resolve_config(recipe.training, config_file, overrides, recipe_name=recipe_name)
    resolve_device(config.device)
    distributed.init(config.device)
    distributed.check_same(config.to_dict(), "training options")
    _local_batch(config.batch_size, distributed.world_size())  # before a run folder is made
    if is_main_process is None:
        is_main_process = distributed.is_main_process()
    seed_everything(config.seed)  # the same seed everywhere: identical networks and batch draws
    condition_source, target_source = _resolved_source(condition_source), _resolved_source(target_source)
    job = build_job(registry, recipe, condition_source, target_source, condition_options, target_options)
    run_dir = new_run_dir(config.out_dir, recipe_name) if is_main_process else None
    run_dir = distributed.broadcast_object(run_dir)
    trainer = Trainer(job, config, run_dir, plugin_versions=plugin_versions,
                      is_main_process=is_main_process, progress=progress)
    trainer.open_tensorboard()
    return trainer


def run_dir_of(checkpoint: Path) -> Path:
    """The run folder a checkpoint file belongs to."""
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent


def _check_same_job(
    spec: JobSpec,
    recipe_name: str | None,
    sources: Mapping[str, str | None],
    options: Mapping[str, Mapping[str, Any] | None],
) -> None:
    """Refuse a recipe, data source or dataset option given to a resume that differs from the run's.

    :raises RecipeError: naming what was given, what the run has, and why it may not change.
    """
    keep = "a resumed run keeps its recipe and data (recorded in its checkpoint); start a new run for others"
    if recipe_name is not None and recipe_name != spec.recipe:
        raise RecipeError(f"recipe {recipe_name!r} was given, but the run being resumed trains {spec.recipe!r}: {keep}")
    for role, given in sources.items():
        recorded = spec.sources.get(role)
        if given is not None and _resolved_source(given) != _resolved_source(recorded):
            has = "the plugin's embedded data" if recorded is None else repr(recorded)
            raise RecipeError(f"{role} source {given!r} was given, but the run reads {has}: {keep}")
    for role, given_options in options.items():
        recorded_options = (spec.components.get(role) or {}).get("options", {})
        for key, value in (given_options or {}).items():
            if key not in recorded_options or recorded_options[key] != value:
                has = f"{recorded_options[key]!r}" if key in recorded_options else "no such option recorded"
                raise RecipeError(f"{role} option {key}={value!r} was given, but the run has {has}: {keep}")


def resume_training(
    registry: Registry,
    checkpoint: str | Path,
    *,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    recipe_name: str | None = None,
    condition_source: str | None = None,
    target_source: str | None = None,
    condition_options: Mapping[str, Any] | None = None,
    target_options: Mapping[str, Any] | None = None,
    plugin_versions: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    is_main_process: bool | None = None,
) -> Trainer:
    """Rebuild a run from a checkpoint (a file, or a run folder's latest) to continue exactly.

    The job is rebuilt from the components, options and data sources recorded in the
    checkpoint, and the configuration is the recorded one with ``config_file`` and then
    ``overrides`` on top (e.g. a larger ``steps`` to train further); only the options in
    :data:`~crossmodal.config.RESUMABLE_OPTIONS` may change. The run continues in the
    checkpoint's run folder, once its lock is taken. Under ``torchrun`` every process loads the
    same checkpoint (rank 0's RNG states, which are every rank's: see the module docstring), so
    the processes continue exactly too.

    :param recipe_name, condition_source, target_source, condition_options, target_options:
        ``None`` (not given) or what the run already has; anything else is refused.
    :raises RecipeError: an option, the recipe or the data differ from the run's where they may not.
    :raises RunInUseError: another process is training this run.
    :raises CheckpointError: the checkpoint is unusable (or holds NaN/inf weights).
    """
    document = load_checkpoint(checkpoint)
    path = Path(document["path"])
    spec = JobSpec.from_dict(document["job"])
    _check_same_job(spec, recipe_name, {"conditions": condition_source, "targets": target_source},
                    {"conditions": condition_options, "targets": target_options})
    recipe = dataclasses.replace(get_recipe(registry, spec.recipe), name=spec.recipe)
    recorded = TrainConfig().merged(document["config"], f"checkpoint {path}")
    config = resume_config(recorded, config_file, overrides)
    distributed.init(config.device)
    distributed.check_same((str(path), config.to_dict()), "checkpoint and training options")
    if is_main_process is None:
        is_main_process = distributed.is_main_process()
    run_dir = run_dir_of(path)
    run_lock = RunLock(run_dir) if is_main_process else None
    if run_lock is not None:  # refuse before the (maybe slow) job is built; others learn it below
        try:
            run_lock.acquire()
        except (RunInUseError, OutputError):
            if distributed.world_size() == 1:
                raise
    try:
        job = build_job(registry, recipe, spec=spec)
        trainer = Trainer(job, config, run_dir, plugin_versions=plugin_versions,
                          is_main_process=is_main_process, progress=progress, run_lock=run_lock)
    except BaseException:
        if run_lock is not None:
            run_lock.release()
        raise
    try:
        trainer.load_state_dict(document)
        if is_main_process:
            trainer.forget_metrics_after(trainer.step)
        trainer.warnings.extend(plugin_version_changes(document["plugins"], trainer.plugin_versions))
        trainer.open_tensorboard()
    except BaseException:
        trainer.close()
        raise
    return trainer
