"""The one WGAN-GP trainer, for whatever components a recipe names: a loop plus callbacks.

Each generator update is preceded by :func:`~crossmodal.training.config.critic_updates_for` critic updates
(the maths: :mod:`crossmodal.training.updates`). Batches of (condition, target) index pairs come from
``recipe.pairing`` (:mod:`crossmodal.training.batches`). What a run does beside its updates is done by
callbacks (:mod:`crossmodal.callbacks.base` says when each hook is called): evaluations with
``metrics.csv``, curves and TensorBoard (:mod:`crossmodal.callbacks.metrics`), written samples
(:mod:`crossmodal.callbacks.fixed_samples`), checkpoints (:mod:`crossmodal.callbacks.checkpoints`),
``progress.csv`` and the timing (:mod:`crossmodal.callbacks.progress_log`), and, given by the
command line, its progress display (:mod:`crossmodal.cli.train`).

Losses stay on the device during training; every ``log_every`` generator updates (and before
every evaluation, sample or checkpoint) they are flushed: copied to the host once, checked for
NaN/inf and for an absolute value above ``divergence_bound`` (:mod:`crossmodal.callbacks.divergence`),
and handed to the callbacks. Such a loss raises :class:`~crossmodal.errors.TrainingDivergedError`
naming the step and the loss; no checkpoint is written after it, and only checkpoints whose
weights were checked finite (when written, or when loaded to resume) are ever called good.

SIGINT (Ctrl-C) and SIGTERM, while :meth:`Trainer.train` runs, ask the run to stop
(:mod:`crossmodal.training.stop_signals`): the main process says so on stderr at once, the current update
finishes, a checkpoint is written and :class:`TrainingInterrupted` is raised (a second signal
stops at once, without a checkpoint). One process stops between two critic updates too: its
checkpoint then holds the step's critic updates so far (counted in its ``critic_step``; the RNG
states are those after them) and is named after the last whole generator step, and resuming
runs only the step's remaining updates, so the run continues bit for bit as if never stopped.
Several processes stop at the next step boundary, where they agree (one all-reduce per step).

The run folder's files (:mod:`crossmodal.callbacks.run_folder`) are written by the main process only
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
from typing import Any, Callable, Iterable, Mapping, NoReturn

import torch

from crossmodal.callbacks.base import Callback, Progress, UpdateProgress, deprecated_functions
from crossmodal.callbacks.checkpoints import Checkpoints
from crossmodal.callbacks.divergence import LossLog
from crossmodal.callbacks.fixed_samples import FixedSamples, SampleWriting
from crossmodal.callbacks.metrics import MetricsLog
from crossmodal.callbacks.progress_log import ProgressLog
from crossmodal.errors import TrainingInterrupted
from crossmodal.job.build import Job
from crossmodal.callbacks.run_folder import RunFolder, open_run, run_config
from crossmodal.storage.runlock import RunLock
from crossmodal.training import distributed, updates
from crossmodal.training.config import TrainConfig
from crossmodal.training.state import TrainingState
from crossmodal.training.stop_signals import StopSignals

__all__ = ["Trainer"]


class Trainer:
    """Trains ``job.generator`` against ``job.critic`` with WGAN-GP and Adam; making one writes no file.

    :param job: from :func:`~crossmodal.job.build.build_job`; ``config``: its resolved :class:`TrainConfig`.
    :param run_dir: the run folder (``None``: write nothing, e.g. in tests of single steps).
    :param plugin_versions: plugin name -> version, recorded in ``config.json`` and checkpoints.
    :param is_main_process: only it writes files and evaluates (default: rank 0, or ``True`` alone).
    :param callbacks: :class:`~crossmodal.callbacks.base.Callback` s, called after the trainer's own.
    :param progress, on_update: deprecated (gone in 0.4): :class:`~crossmodal.callbacks.base.ProgressFunctions`.
    :param run_lock: the run folder's :class:`RunLock`, maybe taken already (default: a new one).
    :raises RecipeError: when ``batch_size`` is not a multiple of the number of processes.

    Attributes: ``state`` (:class:`TrainingState`), ``device``, ``world_size`` and ``rank`` (1 and 0
    alone), ``callbacks`` (its own first: ``metrics_log``, ``sample_writing``, ``checkpoints`` and
    ``progress_log``, which keep ``last_metrics``, ``last_checkpoint``, ``seconds_per_step``),
    ``last_losses`` (means over the last flush), ``step_seconds`` (seconds of the last step's
    updates alone, without a wait for the device), ``warnings`` (e.g. plugin versions changed).
    """

    def __init__(
        self, job: Job, config: TrainConfig, run_dir: str | Path | None = None, *,
        plugin_versions: Mapping[str, str] | None = None, is_main_process: bool | None = None,
        callbacks: Iterable[Callback] = (), progress: Progress | None = None,
        on_update: UpdateProgress | None = None, run_lock: RunLock | None = None,
    ) -> None:
        self.job, self.config, self.plugin_versions = job, config, dict(plugin_versions or {})
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.checkpoint_dir = None if self.run_dir is None else self.run_dir / "checkpoints"
        self.world_size, self.rank = distributed.world_size(), distributed.rank()
        self.is_main_process = distributed.is_main_process() if is_main_process is None else is_main_process
        self.device = distributed.device_for(config.device)
        self.state = state = TrainingState(job, config, self.device, self.world_size, self.rank, self.plugin_versions)
        self.generator, self.critic, self.loss_modules = state.generator, state.critic, state.loss_modules
        self.generator_optimizer, self.critic_optimizer, self.draws = (
            state.generator_optimizer, state.critic_optimizer, state.draws)
        self.fixed = FixedSamples(job, config, state.sampling_generator, self.draws.conditions, state.autocast)
        self._critic_names, self._generator_names = updates.loss_names(job.recipe)
        self._losses = LossLog(self._critic_names, self._generator_names, config.divergence_bound)
        self.loss_names = self._losses.names
        # one update each, its losses (len(_critic_names),) or (len(_generator_names),) on the device
        self._critic_update, self._generator_update = state.critic_update, state.generator_update
        self.last_losses: dict[str, float] = {}
        self.last_metrics: dict[str, float] = {}
        self.last_checkpoint: Path | None = None  # the newest whose weights were checked finite
        self.seconds_per_step: float | None = None
        self.step_seconds: float | None = None
        self.warnings: list[str] = []
        own = [MetricsLog(), SampleWriting(), Checkpoints(), ProgressLog()]  # the progress log times the rest: last
        self.metrics_log, self.sample_writing, self.checkpoints, self.progress_log = own
        deprecated = deprecated_functions("Trainer(progress=..., on_update=...)", progress, on_update)
        self.callbacks: list[Callback] = [*own, *callbacks, *deprecated]
        writes = self.run_dir is not None and self.is_main_process
        self.run_folder = RunFolder(self.run_dir, run_lock) if writes else None

    @property
    def step(self) -> int:
        """Generator updates done."""
        return self.state.step

    @property
    def critic_updates_done(self) -> int:
        return self.state.critic_updates_done

    @property
    def updates_done(self) -> int:
        """Critic and generator updates done (:func:`~crossmodal.training.config.updates_through`)."""
        return self.state.critic_updates_done + self.state.step

    @property
    def real_metrics(self) -> dict[str, float] | None:
        """The real samples' metrics (``real/...``), once evaluated."""
        return self.fixed.real_metrics

    def open(self) -> None:
        """Take the run folder's lock; the first time, also make the folder, remove killed processes'
        leftovers and write ``config.json`` (:func:`open_run`: every process calls it)."""
        open_run(self.run_folder, self.world_size, self.write_run_config)

    def write_run_config(self) -> Path:
        """Write ``config.json``: recipe, components, data, training options, plugins, device."""
        return self.run_folder.write_config(run_config(self.job, self.config, self.plugin_versions, self.device))

    def open_tensorboard(self) -> bool:
        """:meth:`open`, and log to ``tensorboard/`` when ``torch.utils.tensorboard`` imports (main process)."""
        self.open()
        return self.run_folder is not None and self.run_folder.open_tensorboard()

    def close(self) -> None:
        """Let the run folder's lock go and close TensorBoard's writer."""
        if self.run_folder is not None:
            self.run_folder.close()

    def _step(self, critic_updates: int, stop: Callable[[], int] = lambda: 0) -> tuple[list[torch.Tensor], Any]:
        """``critic_updates`` critic updates and a generator update, each told to the callbacks; advances
        :attr:`step` and times it (:attr:`step_seconds`). A non-zero ``stop()`` between two ends the step
        there. Returns each update's losses on the device (the generator's ``None`` when stopped)."""
        began, critic = time.perf_counter(), []
        for left in range(critic_updates - 1, -1, -1):
            critic.append(self._critic_update())
            self._tell("on_update")
            if left and stop():
                return critic, None
        generator = self._generator_update()
        self.state.average_generator()
        self.state.step += 1
        self.step_seconds = time.perf_counter() - began
        self._tell("on_update")
        return critic, generator

    def _tell(self, hook: str, *args: Any) -> None:
        """Call ``hook`` of every callback, in order."""
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)

    def critic_step(self) -> dict[str, float]:
        """Run one critic update; returns ``wasserstein``, ``gp``, each extra term and ``total``
        (:class:`TrainingDivergedError` when one is NaN, infinite or beyond ``divergence_bound``)."""
        return self._losses.checked(self._critic_names, self._critic_update(), "critic loss", self.step,
                                    self.last_checkpoint)

    def generator_step(self) -> dict[str, float]:
        """Run one generator update, advancing :attr:`step`; returns ``adversarial``, each extra
        term and ``total`` (checked as by :meth:`critic_step`)."""
        losses = self._step(critic_updates=0)[1]
        return self._losses.checked(self._generator_names, losses, "generator loss", self.step - 1,
                                    self.last_checkpoint)

    def train(self, steps: int | None = None) -> dict[str, float]:
        """Train until :attr:`step` reaches ``steps`` (default: ``config.steps``), calling the
        callbacks (evaluations, samples and checkpoints at their intervals and at the last step).
        Holds the run folder's lock (:meth:`open`) and, in the main thread, handles SIGINT and
        SIGTERM (see the module docstring). A run resumed mid-step first finishes that step.

        :returns: the last evaluation's metrics (empty when the recipe has no evaluators).
        :raises TrainingDivergedError: on a diverged loss or weight (no checkpoint is written after it).
        :raises TrainingInterrupted: after SIGINT or SIGTERM, once a checkpoint is written.
        :raises RunInUseError, OutputError: another process took the run folder; a file cannot be written.
        """
        last = self.config.steps if steps is None else steps
        self.open()
        try:
            self._tell("on_train_start", last)
            stops_after = "update" if self.world_size == 1 else "generator step"
            with StopSignals(stops_after, announce=self.is_main_process) as stop_signals:
                between_updates = partial(stop_signals.between_updates, self.world_size)
                while self.step < last:
                    critic, generator = self._step(self.state.critic_updates_left(), between_updates)
                    if generator is None:  # stopped between two critic updates: the checkpoint holds them
                        self._losses.checked(self._critic_names, torch.stack(critic).mean(dim=0), "critic loss",
                                             self.step, self.last_checkpoint)
                        self._interrupted(stop_signals.received)
                    self._losses.add(self.step - 1, torch.cat([torch.stack(critic).mean(dim=0), generator]))
                    if self.step % self.config.log_every == 0:
                        self.flush()
                    self._tell("on_step_end", last)
                    stop = stop_signals.agreed(self.world_size, self.device) if self.step < last else 0
                    if stop:
                        self._interrupted(stop, saved=self.checkpoints.saved_step == self.step)
        finally:
            if self.run_folder is not None:
                self.run_folder.lock.release()
        return self.last_metrics

    def _interrupted(self, signal_number: int, saved: bool = False) -> NoReturn:
        """Write a checkpoint (unless ``saved``: this step's is written) and raise :class:`TrainingInterrupted`."""
        if not saved:
            self.save_checkpoint()
        raise TrainingInterrupted(signal_number, self.step, self.last_checkpoint, self.run_dir, self.world_size)

    def flush(self) -> None:
        """Check the losses logged since the last flush (:class:`LossLog`: averaged over the processes,
        so all flush at the same steps), keep their means as :attr:`last_losses`, tell the callbacks."""
        losses = self._losses.flush(self.last_checkpoint)  # waits for the device
        if losses is not None:
            self.last_losses = losses
            self._tell("on_flush", losses)

    def evaluate(self) -> dict[str, float]:
        """Evaluate now, into ``metrics.csv`` and the curves (:meth:`MetricsLog.evaluate`)."""
        return self.metrics_log.evaluate(self)

    def write_samples(self) -> list[Path]:
        """Write the fixed (condition, noise) pairs' samples to ``samples/step-XXXXXX/`` (main process)."""
        return [] if self.run_folder is None else self.fixed.write(self.run_folder, self.step)

    def save_checkpoint(self) -> Path | None:
        """Check losses and weights, write a checkpoint (:meth:`Checkpoints.save`: all processes call it)."""
        return self.checkpoints.save(self)

    def state_dict(self) -> dict[str, Any]:
        """Everything :meth:`load_state_dict` needs to continue exactly (tensors and plain values)."""
        return self.state.state_dict()

    def load_state_dict(self, document: Mapping[str, Any]) -> None:
        """Restore networks, optimisers, counters and RNG states from a checkpoint's contents
        (:class:`CheckpointError` when the saved networks do not fit the built ones or hold NaN/inf)."""
        where = f"checkpoint {document.get('path', '')}".strip()
        self.warnings.extend(filter(None, [self.state.load_state_dict(document, where, self.config.seed)]))
        if document.get("path") is not None:
            self.last_checkpoint = Path(document["path"])
