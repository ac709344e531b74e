"""Evaluation during training: the recipe's evaluators on the fixed pairs, every ``eval_every``
generator steps and at the last, as ``metrics.csv`` rows, curves and TensorBoard scalars."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from crossmodal.callbacks.base import Callback, due

if TYPE_CHECKING:  # pragma: no cover
    from crossmodal.training.trainer import Trainer

__all__ = ["MetricsLog"]


class MetricsLog(Callback):
    """Evaluates every ``eval_every`` generator steps and at the last (the main process; every
    process flushes the losses first, so the row holds the interval's checked losses). Keeps
    ``trainer.last_metrics``, the last evaluation's metrics."""

    def on_step_end(self, trainer: Trainer, last: int) -> None:
        if due(trainer.config.eval_every, trainer.step, last):
            trainer.flush()
            if trainer.is_main_process:
                self.evaluate(trainer)

    def evaluate(self, trainer: Trainer) -> dict[str, float]:
        """Run the recipe's evaluators on ``eval_samples`` generated and real samples of
        ``trainer.fixed``; append a row (step, Unix time, last losses, metrics, real metrics) to
        ``metrics.csv``, redraw the curves and log ``metric/...`` to TensorBoard. The real samples'
        metrics are computed once and repeated per row.

        :returns: the generated samples' metrics (``name/trackK`` or ``name``).
        """
        trainer.last_metrics = metrics = trainer.fixed.metrics()
        folder = trainer.run_folder
        if folder is not None:
            row = {"step": trainer.step, "wall_time": round(time.time(), 3), **trainer.last_losses,
                   **metrics, **(trainer.real_metrics or {})}
            folder.append_metrics(row, trainer.loss_names)
            folder.draw_curves()
            folder.log_scalars("metric", metrics, trainer.step)
        return metrics
