"""The record of each logging interval: seconds per generator step, a ``progress.csv`` row and
the losses in TensorBoard."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Mapping

from crossmodal.callbacks.base import Callback
from crossmodal.training.config import updates_through

if TYPE_CHECKING:  # pragma: no cover
    from crossmodal.training.trainer import Trainer

__all__ = ["ProgressLog"]


class ProgressLog(Callback):
    """Times the training between two flushes and writes a ``progress.csv`` row (``step``,
    ``wall_time``, ``seconds_per_step``, ``updates``, the losses) and TensorBoard's ``loss/...``
    scalars at each.

    Keeps ``trainer.seconds_per_step``: wall-clock seconds per generator update over the last
    interval, training only: the work of the callbacks' ``on_step_end`` (evaluations, samples,
    checkpoints) is left out, so this callback comes after those in ``trainer.callbacks``. It is
    measured after the flush waited for the device, so on a GPU it is honest too.
    """

    def __init__(self) -> None:
        self._interval = (time.perf_counter(), 0)  # (when, generator step) the timed interval began
        self._flushed = False  # during the current step

    def on_train_start(self, trainer: Trainer, last: int) -> None:
        self._interval, self._flushed = (time.perf_counter(), trainer.step), False

    def on_flush(self, trainer: Trainer, losses: Mapping[str, float]) -> None:
        began, first = self._interval
        if trainer.step > first:
            trainer.seconds_per_step = (time.perf_counter() - began) / (trainer.step - first)
        self._flushed = True
        folder = trainer.run_folder
        if folder is not None:
            folder.log_scalars("loss", losses, trainer.step)
            per_step = trainer.seconds_per_step
            row = {"step": trainer.step, "wall_time": round(time.time(), 3),
                   "seconds_per_step": "" if per_step is None else round(per_step, 6),
                   "updates": updates_through(trainer.step, trainer.config), **losses}
            folder.append_progress(row, trainer.loss_names)

    def on_step_end(self, trainer: Trainer, last: int) -> None:
        if self._flushed:  # the next interval leaves out this step's evaluation, samples and checkpoint
            self._interval = (time.perf_counter(), trainer.step)
            self._flushed = False
