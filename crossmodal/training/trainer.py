"""The one WGAN-GP trainer, for whatever components a recipe names.

Each generator update is preceded by :func:`~crossmodal.training.config.critic_updates_for` critic updates
(the maths: :mod:`crossmodal.training.updates`). Batches of (condition, target) index pairs come from
``recipe.pairing`` (:mod:`crossmodal.data.batches`).

Losses stay on the device during training; every ``log_every`` generator updates (and before
every evaluation, sample or checkpoint) they are copied to the host once, checked for NaN/inf
and for an absolute value above ``divergence_bound`` (:mod:`crossmodal.callbacks.divergence`), and
reported. Such a loss raises :class:`~crossmodal.errors.TrainingDivergedError` naming the step
and the loss; no checkpoint is written after it, and only checkpoints whose weights were checked
finite (when written, or when loaded to resume) are ever called good.

SIGINT (Ctrl-C) and SIGTERM, while :meth:`Trainer.train` runs, ask the run to stop
(:mod:`crossmodal.training.stop_signals`): the main process says so on stderr at once, the current update
finishes, a checkpoint is written and :class:`TrainingInterrupted` is raised (a second signal
stops at once, without a checkpoint). One process stops between two critic updates too: its
checkpoint then holds the step's critic updates so far (counted in its ``critic_step``; the RNG
states are those after them) and is named after the last whole generator step, and resuming
runs only the step's remaining updates, so the run continues bit for bit as if never stopped.
Several processes stop at the next step boundary, where they agree (one all-reduce per step).

The run folder's files (:mod:`crossmodal.storage.run_folder`) are written by the main process only
(``is_main_process``). Making a :class:`Trainer` writes nothing; :meth:`Trainer.open` (which
:meth:`Trainer.train` calls) creates the folder, takes an exclusive lock on ``run.lock``
(:class:`RunLock`) until :meth:`Trainer.train` returns or :meth:`Trainer.close`, so a second
process cannot train the same run at once, removes the leftovers of killed processes and writes
``config.json``.

Data parallelism (see :mod:`crossmodal.training.distributed`): under ``torchrun`` each of the N processes
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

import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping, NoReturn

import torch

from crossmodal.training import distributed, updates
from crossmodal.data.batches import BatchDraws
from crossmodal.job.build import Job
from crossmodal.storage.checkpoint import checkpoint_name, save_checkpoint
from crossmodal.training.config import TrainConfig, critic_updates_for, updates_through
from crossmodal.callbacks.divergence import LossLog, check_losses, check_weights
from crossmodal.errors import TrainingInterrupted
from crossmodal.storage.files import shown
from crossmodal.callbacks.fixed_samples import FixedSamples
from crossmodal.contract.recipe import LossTerm
from crossmodal.storage.run_folder import RunFolder, hold_lock, run_config
from crossmodal.storage.runlock import RunLock
from crossmodal.training.stop_signals import StopSignals
from crossmodal.training.state import TrainingState

__all__ = ["Progress", "Trainer", "UpdateProgress"]

Progress = Callable[[int, int, Mapping[str, float]], None]
"""``progress(generator_step, total_steps, losses)``, called every ``log_every`` updates."""

UpdateProgress = Callable[[int, int], None]
"""``on_update(updates_done, updates_total)``, called after every critic and generator update;
both count critic and generator updates together from generator step 0
(:func:`~crossmodal.training.config.updates_through`)."""


def _due(every: int, step: int, last: int) -> bool:
    return step == last or (every > 0 and step % every == 0)


class Trainer:
    """Trains ``job.generator`` against ``job.critic`` with WGAN-GP and Adam.

    :param job: from :func:`~crossmodal.job.build.build_job`.
    :param config: the resolved :class:`~crossmodal.training.config.TrainConfig`.
    :param run_dir: the run folder (``None``: write nothing, e.g. in tests of single steps).
    :param plugin_versions: plugin name -> version, recorded in ``config.json`` and checkpoints.
    :param is_main_process: only the main process writes files, evaluates and reports progress
        (default: rank 0 of the process group, or ``True`` when there is none).
    :param progress: called as ``progress(step, total, losses)`` every ``log_every`` updates.
    :param on_update: called as ``on_update(updates_done, updates_total)`` after every critic and
        generator update (:data:`UpdateProgress`), on the main process: a progress bar that moves
        during the warm-up's long runs of critic updates.
    :param run_lock: the run folder's :class:`RunLock`, maybe already taken (default: the main
        process makes one on ``run_dir``; :meth:`open` takes it).
    :raises RecipeError: when ``batch_size`` is not a multiple of the number of processes.

    Making a trainer writes no file; :meth:`open` (called by :meth:`train`) prepares the run folder.

    Attributes: ``step`` (generator updates done), ``critic_updates_done``, ``device``,
    ``world_size`` and ``rank`` (1 and 0 without a process group),
    ``last_losses`` (means over the last logging interval), ``last_metrics`` (last evaluation),
    ``seconds_per_step`` (wall-clock seconds per generator update over the last logging interval,
    training only: evaluations, samples and checkpoints left out; ``None`` before the first),
    ``step_seconds`` (wall-clock seconds of the last training step's updates alone, without a
    wait for the device, so on a GPU the time to queue them once its queue is full; ``None``
    before the first), ``updates_done`` (critic and generator updates done),
    ``real_metrics`` (the real samples' ``real/...`` metrics, once evaluated),
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
        on_update: UpdateProgress | None = None,
        run_lock: RunLock | None = None,
    ) -> None:
        self.job, self.config = job, config
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.plugin_versions = dict(plugin_versions or {})
        self.world_size, self.rank = distributed.world_size(), distributed.rank()
        self.is_main_process = distributed.is_main_process() if is_main_process is None else is_main_process
        self.progress = progress
        self.on_update = on_update
        self.seconds_per_step: float | None = None
        self.step_seconds: float | None = None
        self._interval = (time.perf_counter(), 0)  # (when, generator step) the timed interval began
        self._updates_total = 0  # of the running train() call, for on_update
        self.device = distributed.device_for(config.device)
        self.generator = job.generator.to(self.device)
        self.critic = job.critic.to(self.device)
        self.loss_modules = {name: module.to(self.device) for name, module in job.loss_modules.items()}
        self.draws = BatchDraws(job, config, self.device, self.generator.sample_noise, self.world_size, self.rank)
        self.state = TrainingState(
            self.generator, self.critic, config, self.draws, job.spec, self.plugin_versions,
            self._terms_of(job.recipe.generator_losses), self._terms_of(job.recipe.critic_losses),
        )
        self.generator_optimizer, self.critic_optimizer = self.state.generator_optimizer, self.state.critic_optimizer
        # Updates that need gradients averaged over the processes go through DDP wrappers (the
        # modules themselves when alone); the rest use the plain modules, which share their parameters.
        self._generator_player = updates.Player(
            self.generator, distributed.wrap(self.generator, self.device), self.generator_optimizer)
        self._critic_player = updates.Player(
            self.critic, distributed.wrap(self.critic, self.device), self.critic_optimizer)
        self._term_modules = {  # DDP refuses a module with nothing to train
            name: distributed.wrap(module, self.device) if any(p.requires_grad for p in module.parameters()) else module
            for name, module in self.loss_modules.items()
        }
        self._autocast = updates.autocast_for(self.device, config.bf16)
        self.fixed = FixedSamples(job, config, self.state.sampling_generator, self.draws.conditions, self._autocast)
        self.last_losses: dict[str, float] = {}
        self.last_metrics: dict[str, float] = {}
        self.warnings: list[str] = []
        self._critic_names, self._generator_names = updates.loss_names(job.recipe)
        self.loss_names = [
            *(f"critic/{name}" for name in self._critic_names), *(f"generator/{name}" for name in self._generator_names)
        ]
        self._losses = LossLog(self.loss_names, config.divergence_bound)
        self._last_checkpoint: Path | None = None
        writes = self.run_dir is not None and self.is_main_process
        self.run_folder = RunFolder(self.run_dir, run_lock) if writes else None

    def _terms_of(self, terms: tuple[LossTerm, ...]) -> dict[str, torch.nn.Module]:
        """The modules of ``terms`` that own one, by name."""
        return {term.name: self.loss_modules[term.name] for term in terms if term.name in self.loss_modules}

    @property
    def step(self) -> int:
        """Generator updates done."""
        return self.state.step

    @property
    def critic_updates_done(self) -> int:
        """Critic updates done."""
        return self.state.critic_updates_done

    @property
    def updates_done(self) -> int:
        """Critic and generator updates done, as progress counts them (:data:`UpdateProgress`)."""
        return self.state.critic_updates_done + self.state.step

    @property
    def last_checkpoint(self) -> Path | None:
        """The newest checkpoint whose weights were checked finite (written or resumed from)."""
        return self._last_checkpoint

    @property
    def real_metrics(self) -> dict[str, float] | None:
        """The real samples' metrics (``real/...``), once evaluated."""
        return self.fixed.real_metrics

    @property
    def device_rng(self) -> torch.Generator:
        """The generator of noise and penalty weights (:class:`~crossmodal.data.batches.BatchDraws`)."""
        return self.draws.device_rng

    @device_rng.setter
    def device_rng(self, generator: torch.Generator) -> None:
        self.draws.device_rng = generator

    @property
    def checkpoint_dir(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "checkpoints"

    # ---------------------------------------------------------------------------------------
    # The run folder

    def open(self) -> None:
        """Take the run folder's lock; the first time, also create the folder, remove the
        leftovers of killed processes and write ``config.json``. Every process calls it.

        :raises RunInUseError: when another process trains in ``run_dir``.
        :raises OutputError: when the folder, its lock or ``config.json`` cannot be written.
        """
        if self.run_folder is None:
            hold_lock(None, self.world_size)  # learn the main process's refusal, if any
        else:
            self.run_folder.open(self.world_size, self.write_run_config)

    def write_run_config(self) -> Path:
        """Write ``config.json``: recipe, components, data, training options, plugins, device."""
        return self.run_folder.write_config(run_config(self.job, self.config, self.plugin_versions, self.device))

    def open_tensorboard(self) -> bool:
        """Open the run (:meth:`open`) and log to ``run/tensorboard`` when ``torch.utils.tensorboard``
        imports; returns whether it does (never off the main process)."""
        self.open()
        return self.run_folder is not None and self.run_folder.open_tensorboard()

    def close(self) -> None:
        """Let the run folder's lock go and close TensorBoard's writer."""
        if self.run_folder is not None:
            self.run_folder.close()

    # ---------------------------------------------------------------------------------------
    # Updates and steps

    def _critic_update(self) -> torch.Tensor:
        """One critic update; its losses ``(len(_critic_names),)`` on the device."""
        batch = self.draws.batch()
        losses = updates.critic_update(
            self._generator_player, self._critic_player, batch, gp_weight=self.config.gp_weight,
            penalty_rng=self.draws.penalty_rng(), extra_terms=self.job.recipe.critic_losses,
            term_modules=self._term_modules, autocast=self._autocast,
        )
        self.state.critic_updates_done += 1
        return torch.stack(list(losses.values()))

    def _generator_update(self) -> torch.Tensor:
        """One generator update; its losses ``(len(_generator_names),)`` on the device."""
        extra_terms = self.job.recipe.generator_losses
        batch = self.draws.batch(with_targets=bool(extra_terms))
        losses = updates.generator_update(
            self._generator_player, self._critic_player, batch, extra_terms=extra_terms,
            term_modules=self._term_modules, autocast=self._autocast,
        )
        return torch.stack(list(losses.values()))

    def _step(
        self, critic_updates: int, stop: Callable[[], int] = lambda: 0
    ) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """One training step: ``critic_updates`` critic updates, one generator update; advances
        :attr:`step` and times it (:attr:`step_seconds`).

        :param stop: asked between two critic updates; when it answers non-zero the step ends
            there, without its generator update.
        :returns: on the device, each critic update's losses ``(len(_critic_names),)`` and the
            generator update's ``(len(_generator_names),)`` (``None`` when ``stop`` ended the step).
        """
        began = time.perf_counter()
        critic = []
        for left in range(critic_updates - 1, -1, -1):
            critic.append(self._critic_update())
            self._updated()
            if left and stop():
                return critic, None
        generator = self._generator_update()
        self.state.average_generator()
        self.state.step += 1
        self.step_seconds = time.perf_counter() - began
        self._updated()
        return critic, generator

    def _critic_updates_left(self) -> int:
        """Critic updates that generator update :attr:`step` still needs: :func:`critic_updates_for`
        less those a checkpoint written during the step holds (:attr:`critic_updates_done` counts
        them). A count that fits no stopped step (updates run by hand with :meth:`critic_step`
        or :meth:`generator_step`) leaves the step whole."""
        planned = critic_updates_for(self.step, self.config)
        done = self.updates_done - updates_through(self.step, self.config)
        return planned - done if 0 <= done < planned else planned

    def _updated(self) -> None:
        """Tell :attr:`on_update` (main process) how many updates are done."""
        if self.on_update is not None and self.is_main_process:
            self.on_update(self.updates_done, self._updates_total)

    def _checked(self, names: list[str], losses: torch.Tensor, what: str, step: int) -> dict[str, float]:
        """``losses`` of one update by name, once :func:`check_losses` passed them."""
        values = losses.tolist()  # one copy to the host
        check_losses([values], names, [step], self.config.divergence_bound, what, self._last_good())
        return dict(zip(names, values))

    def critic_step(self) -> dict[str, float]:
        """Run one critic update; returns ``wasserstein``, ``gp``, each extra term and ``total``.

        :raises TrainingDivergedError: when a loss is NaN, infinite or beyond ``divergence_bound``.
        """
        return self._checked(self._critic_names, self._critic_update(), "critic loss", self.step)

    def generator_step(self) -> dict[str, float]:
        """Run one generator update (no critic updates); advances :attr:`step`.

        :returns: ``adversarial``, each extra term and ``total``.
        :raises TrainingDivergedError: when a loss is NaN, infinite or beyond ``divergence_bound``.
        """
        _, losses = self._step(critic_updates=0)
        return self._checked(self._generator_names, losses, "generator loss", self.step - 1)

    # ---------------------------------------------------------------------------------------
    # The loop

    def train(self, steps: int | None = None) -> dict[str, float]:
        """Train until :attr:`step` reaches ``steps`` (default: ``config.steps``).

        Evaluates, writes samples and checkpoints at their intervals and at the last step. Holds
        the run folder's lock (:meth:`open`: taken again if it was let go) and, in the main
        thread, handles SIGINT and SIGTERM until it returns (see the module docstring). A run
        resumed from a checkpoint written during a step first finishes that step.

        :returns: the last evaluation's metrics (empty when the recipe has no evaluators).
        :raises TrainingDivergedError: on a NaN/inf loss or one beyond ``divergence_bound`` (no
            checkpoint is written after it).
        :raises TrainingInterrupted: after SIGINT or SIGTERM, once a checkpoint is written.
        :raises RunInUseError: when another process took the run folder meanwhile.
        :raises OutputError: when a file cannot be written (e.g. a full disk).
        """
        config = self.config
        last = config.steps if steps is None else steps
        self._updates_total = updates_through(last, config)
        self.open()
        self._interval = (time.perf_counter(), self.step)
        try:
            stops_after = "update" if self.world_size == 1 else "generator step"
            with StopSignals(stops_after, announce=self.is_main_process) as stop_signals:
                between_updates = partial(stop_signals.between_updates, self.world_size)
                while self.step < last:
                    critic, generator = self._step(self._critic_updates_left(), between_updates)
                    if generator is None:
                        self._stop_within_step(critic, stop_signals.received)
                    self._losses.add(self.step - 1, torch.cat([torch.stack(critic).mean(dim=0), generator]))
                    step = self.step
                    evaluate = _due(config.eval_every, step, last)
                    sample = _due(config.sample_every, step, last)
                    checkpoint = _due(config.checkpoint_every, step, last)
                    flush = evaluate or sample or checkpoint or step % config.log_every == 0
                    if flush:
                        self._flush(last)
                    if evaluate and self.is_main_process:
                        self.evaluate()
                    if sample:
                        self.write_samples()
                    if checkpoint:
                        self.save_checkpoint()
                    if flush:  # the next interval's time leaves out this evaluation, samples and checkpoint
                        self._interval = (time.perf_counter(), step)
                    stop = stop_signals.agreed(self.world_size, self.device) if step < last else 0
                    if stop:
                        if not checkpoint:
                            self.save_checkpoint()
                        raise TrainingInterrupted(stop, step, self._last_checkpoint, self.run_dir, self.world_size)
        finally:
            if self.run_folder is not None:
                self.run_folder.lock.release()
        return self.last_metrics

    def _stop_within_step(self, critic: list[torch.Tensor], signal_number: int) -> NoReturn:
        """After a signal between two critic updates: check their losses, write a checkpoint that
        holds them (resuming runs the rest of the step) and raise :class:`TrainingInterrupted`."""
        self._checked(self._critic_names, torch.stack(critic).mean(dim=0), "critic loss", self.step)
        self.save_checkpoint()
        raise TrainingInterrupted(signal_number, self.step, self._last_checkpoint, self.run_dir, self.world_size)

    def _last_good(self) -> str:
        """Names the newest checkpoint whose weights were checked finite (written or resumed from)."""
        if self._last_checkpoint is not None:
            return f"the last good checkpoint is {shown(self._last_checkpoint)}"
        return "no checkpoint had been written yet"

    def _flush(self, total: int) -> None:
        """Check and report the losses logged since the last flush (every process, same steps),
        time the interval (:attr:`seconds_per_step`) and append its row to ``progress.csv``."""
        losses = self._losses.flush(self._last_good())  # waits for the device: the time below is honest
        if losses is None:
            return
        began, first = self._interval
        if self.step > first:
            self.seconds_per_step = (time.perf_counter() - began) / (self.step - first)
        self.last_losses = losses
        if self.progress is not None and self.is_main_process:
            self.progress(self.step, total, losses)
        if self.run_folder is not None:
            self.run_folder.log_scalars("loss", losses, self.step)
            row = {"step": self.step, "wall_time": round(time.time(), 3),
                   "seconds_per_step": "" if self.seconds_per_step is None else round(self.seconds_per_step, 6),
                   "updates": updates_through(self.step, self.config), **losses}
            self.run_folder.append_progress(row, self.loss_names)

    # ---------------------------------------------------------------------------------------
    # Evaluating and writing samples (the fixed pairs of :attr:`fixed`)

    def evaluate(self) -> dict[str, float]:
        """Run the recipe's evaluators on ``eval_samples`` generated and real samples.

        Appends a row (step, time, losses, metrics) to ``metrics.csv``, redraws the curves and
        logs to TensorBoard. The real samples' metrics are computed once and repeated per row.

        :returns: the generated samples' metrics (``name/trackK`` or ``name``).
        """
        self.last_metrics = metrics = self.fixed.metrics()
        if self.run_folder is not None:
            row = {"step": self.step, "wall_time": round(time.time(), 3), **self.last_losses,
                   **metrics, **(self.real_metrics or {})}
            self.run_folder.append_metrics(row, self.loss_names)
            self.run_folder.draw_curves()
            self.run_folder.log_scalars("metric", metrics, self.step)
        return metrics

    def write_samples(self) -> list[Path]:
        """Write the fixed (condition, noise) pairs' samples to ``samples/step-XXXXXX/`` (main process)."""
        return [] if self.run_folder is None else self.fixed.write(self.run_folder, self.step)

    # ---------------------------------------------------------------------------------------
    # State

    def state_dict(self) -> dict[str, Any]:
        """Everything :meth:`load_state_dict` needs to continue exactly (tensors and plain values)."""
        return self.state.state_dict()

    def load_state_dict(self, document: Mapping[str, Any]) -> None:
        """Restore networks, optimisers, counters and RNG states from a checkpoint's contents.

        :raises CheckpointError: when the saved networks do not match the built ones, or hold NaN/inf.
        """
        where = f"checkpoint {document.get('path', '')}".strip()
        warning = self.state.load_state_dict(document, where, self.config.seed)
        if warning is not None:
            self.warnings.append(warning)
        if document.get("path") is not None:
            self._last_checkpoint = Path(document["path"])

    def save_checkpoint(self) -> Path | None:
        """Check pending losses and the weights, then write a checkpoint (main process only).

        In a distributed run every process calls it and waits until rank 0 has written the file.

        :returns: the path written (``None`` when this process writes no files).
        :raises TrainingDivergedError: when a pending loss diverged or a weight is NaN/inf (a
            loss can be finite while the update it produced was not).
        """
        self._flush(self.config.steps)
        check_weights({"generator": self.generator, "critic": self.critic,
                       **{f"loss term {name!r}": module for name, module in self.loss_modules.items()}},
                      self.step, self._last_good())
        written = None
        if self.run_folder is not None:
            written = save_checkpoint(self.state_dict(), self.run_folder.checkpoints, self.config.keep_checkpoints)
        distributed.barrier()
        if written is not None:
            self._last_checkpoint = written
        elif self.run_dir is not None:  # where rank 0 wrote it, for this process's messages
            self._last_checkpoint = self.run_dir / "checkpoints" / checkpoint_name(self.step)
        return written
