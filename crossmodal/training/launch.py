"""Starting a training run, or resuming one from a checkpoint: the job built and checked, the
configuration resolved, the process group joined, the run folder made or taken."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterable, Mapping

from crossmodal.training.batches import local_batch
from crossmodal.errors import OutputError, RunInUseError
from crossmodal.job.build import Job, build_job, get_recipe
from crossmodal.job.restore import recorded_spec, restore
from crossmodal.contract.registry import Registry
from crossmodal.storage.checkpoint import load_checkpoint, plugin_version_changes
from crossmodal.storage.runlock import RunLock
from crossmodal.storage.runs import check_same_job, new_run_dir, resolved_source, run_dir_of, seed_everything
from crossmodal.training import distributed
from crossmodal.training.config import TrainConfig, resolve_config, resolve_device, resume_config
from crossmodal.callbacks.base import Callback, Progress, deprecated_functions
from crossmodal.training.trainer import Trainer

__all__ = ["resume_training", "start_training"]


def _joined(config: TrainConfig, same: Any, what: str, is_main_process: bool | None) -> bool:
    """Join the process group (under ``torchrun``), check every process has the same ``same``;
    returns whether this is the main process (default: rank 0)."""
    distributed.init(config.device)
    distributed.check_same(same, what)
    return distributed.is_main_process() if is_main_process is None else is_main_process


def _opened_trainer(
    job: Job, config: TrainConfig, run_dir: Path | None, checkpoint: Mapping[str, Any] | None, **options: Any
) -> Trainer:
    """A :class:`Trainer` with its run opened (and TensorBoard), resumed from ``checkpoint``'s
    contents when given; on failure its lock is let go.

    :param options: :class:`Trainer`'s keyword arguments.
    """
    trainer = Trainer(job, config, run_dir, **options)
    try:
        trainer.open()
        if checkpoint is not None:
            trainer.load_state_dict(checkpoint)
            if trainer.run_folder is not None:  # drop the metrics evaluated after the checkpoint
                trainer.run_folder.forget_metrics_after(trainer.step)
            trainer.warnings.extend(plugin_version_changes(checkpoint["plugins"], trainer.plugin_versions))
        trainer.open_tensorboard()
    except BaseException:
        trainer.close()
        raise
    return trainer


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
    callbacks: Iterable[Callback] = (),
    progress: Progress | None = None,
    is_main_process: bool | None = None,
) -> Trainer:
    """Resolve the configuration, seed, build and check the job, create the run folder.

    Under ``torchrun`` this joins the process group (:func:`crossmodal.training.distributed.init`), checks
    that every process resolved the same options, and rank 0 creates the run folder and tells
    the others its name.

    :param recipe_name: a registered recipe; its ``training`` mapping sits between the defaults
        and ``config_file`` (a JSON or TOML file), and ``overrides`` (e.g. command-line options,
        ``None`` values ignored) win over both.
    :param condition_source, target_source: a source that names an existing file or folder is
        recorded as its absolute path, so the run resumes from any working directory.
    :param callbacks: the trainer's (:mod:`crossmodal.callbacks.base`); ``progress``, deprecated
        (gone in 0.4), is :class:`~crossmodal.callbacks.base.ProgressFunctions`'s.
    :param is_main_process: default: rank 0 (``True`` without a process group).
    :returns: a :class:`Trainer` ready for :meth:`Trainer.train`, holding the run folder's lock.
    """
    recipe = get_recipe(registry, recipe_name)
    if recipe.name != recipe_name:  # the registered name is what checkpoints must record
        recipe = dataclasses.replace(recipe, name=recipe_name)
    config = resolve_config(recipe.training, config_file, overrides, recipe_name=recipe_name)
    resolve_device(config.device)
    is_main_process = _joined(config, config.to_dict(), "training options", is_main_process)
    local_batch(config.batch_size, distributed.world_size())  # before a run folder is made
    seed_everything(config.seed)  # the same seed everywhere: identical networks and batch draws
    condition_source, target_source = resolved_source(condition_source), resolved_source(target_source)
    job = build_job(registry, recipe, condition_source, target_source, condition_options, target_options)
    run_dir = distributed.broadcast_object(new_run_dir(config.out_dir, recipe_name) if is_main_process else None)
    return _opened_trainer(job, config, run_dir, None, plugin_versions=plugin_versions, is_main_process=is_main_process,
                           callbacks=[*callbacks, *deprecated_functions("start_training(progress=...)", progress)])


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
    callbacks: Iterable[Callback] = (),
    progress: Progress | None = None,
    is_main_process: bool | None = None,
) -> Trainer:
    """Rebuild a run from a checkpoint (a file, or a run folder's latest) to continue exactly.

    The job is rebuilt from the components, options and data sources recorded in the
    checkpoint, and the configuration is the recorded one with ``config_file`` and then
    ``overrides`` on top (e.g. a larger ``steps`` to train further); only the options in
    :data:`~crossmodal.training.config.RESUMABLE_OPTIONS` may change. The run continues in the
    checkpoint's run folder, once its lock is taken. Under ``torchrun`` every process loads the
    same checkpoint (rank 0's RNG states, which are every rank's: see the module docstring), so
    the processes continue exactly too.

    :param recipe_name, condition_source, target_source, condition_options, target_options:
        ``None`` (not given) or what the run already has; anything else is refused.
    :param callbacks, progress: as for :func:`start_training`.
    :raises RecipeError: an option, the recipe or the data differ from the run's where they may not.
    :raises RunInUseError: another process is training this run.
    :raises CheckpointError: the checkpoint is unusable (or holds NaN/inf weights).
    """
    callbacks = [*callbacks, *deprecated_functions("resume_training(progress=...)", progress)]
    document = load_checkpoint(checkpoint)
    path = Path(document["path"])
    check_same_job(recorded_spec(document), recipe_name, {"conditions": condition_source, "targets": target_source},
                   {"conditions": condition_options, "targets": target_options})
    recorded = TrainConfig().merged(document["config"], f"checkpoint {path}")
    config = resume_config(recorded, config_file, overrides)
    is_main_process = _joined(config, (str(path), config.to_dict()), "checkpoint and training options",
                              is_main_process)
    run_dir = run_dir_of(path)
    run_lock = RunLock(run_dir) if is_main_process else None
    if run_lock is not None:  # refuse before the (maybe slow) job is built; others learn it in open()
        try:
            run_lock.acquire()
        except (RunInUseError, OutputError):
            if distributed.world_size() == 1:
                raise
    try:
        job = restore(registry, document, parts=("job",)).job
        return _opened_trainer(job, config, run_dir, document, plugin_versions=plugin_versions,
                               is_main_process=is_main_process, run_lock=run_lock, callbacks=callbacks)
    except BaseException:
        if run_lock is not None:
            run_lock.release()
        raise
