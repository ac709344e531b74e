"""Checkpoints during training: every ``checkpoint_every`` generator steps and at the last, only
ever of checked weights, the newest ``keep_checkpoints`` kept; and which one is the last good."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crossmodal.callbacks.base import Callback, due
from crossmodal.callbacks.divergence import check_weights
from crossmodal.storage.checkpoint import checkpoint_name, save_checkpoint
from crossmodal.training import distributed

if TYPE_CHECKING:  # pragma: no cover
    from crossmodal.training.trainer import Trainer

__all__ = ["Checkpoints"]


class Checkpoints(Callback):
    """Saves a checkpoint every ``checkpoint_every`` generator steps and at the last (every
    process calls :meth:`save`; the main one writes).

    Keeps ``trainer.last_checkpoint``: the newest checkpoint whose weights were checked finite,
    written here or resumed from (set by the trainer's ``load_state_dict``), which a run that
    diverges names. :attr:`saved_step` is the generator step of the last :meth:`save`.
    """

    def __init__(self) -> None:
        self.saved_step: int | None = None

    def on_step_end(self, trainer: Trainer, last: int) -> None:
        if due(trainer.config.checkpoint_every, trainer.step, last):
            self.save(trainer)

    def save(self, trainer: Trainer) -> Path | None:
        """Flush the pending losses, check the weights, then write ``checkpoint-<step>.pt`` in the
        run folder's ``checkpoints/`` (the main process; the others wait until it is written) and
        delete all but the newest ``keep_checkpoints``.

        :returns: the path written (``None`` when this process writes no files).
        :raises TrainingDivergedError: when a pending loss diverged or a weight is NaN/inf (a
            loss can be finite while the update it produced was not).
        :raises OutputError: when the file cannot be written (the previous ones are kept).
        """
        trainer.flush()
        check_weights({"generator": trainer.generator, "critic": trainer.critic,
                       **{f"loss term {name!r}": module for name, module in trainer.loss_modules.items()}},
                      trainer.step, trainer.last_checkpoint)
        folder, written = trainer.run_folder, None
        if folder is not None:
            written = save_checkpoint(trainer.state_dict(), folder.checkpoints, trainer.config.keep_checkpoints)
        distributed.barrier()
        self.saved_step = trainer.step
        if written is not None:
            trainer.last_checkpoint = written
        elif trainer.run_dir is not None:  # where the main process wrote it, for this process's messages
            trainer.last_checkpoint = trainer.run_dir / "checkpoints" / checkpoint_name(trainer.step)
        return written
