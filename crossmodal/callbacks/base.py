"""The callback protocol: what a run does beside its updates, at fixed points of the trainer's loop.

A :class:`Callback` overrides any of its hooks; each is a no-op here. The
:class:`~crossmodal.training.trainer.Trainer` calls them on every process, in the order of
``trainer.callbacks``: its own (:class:`~crossmodal.callbacks.metrics.MetricsLog`,
:class:`~crossmodal.callbacks.fixed_samples.SampleWriting`,
:class:`~crossmodal.callbacks.checkpoints.Checkpoints`,
:class:`~crossmodal.callbacks.progress_log.ProgressLog`), then those passed as ``callbacks=[...]``
or appended to the list. One :meth:`~crossmodal.training.trainer.Trainer.train` call runs::

    on_train_start(trainer, last)
    for each generator step:
        on_update(trainer)            after each critic update and after the generator update
        on_flush(trainer, losses)     every log_every steps, and before an evaluation, samples or a checkpoint
        on_step_end(trainer, last)

A callback may read the trainer (its counters, ``config``, ``run_folder``, ``last_losses``...), and
call its :meth:`~crossmodal.training.trainer.Trainer.flush`, ``evaluate``, ``write_samples`` and
``save_checkpoint``; it leaves the networks, optimisers and RNGs alone, so a run with or without it
trains bit for bit alike. Work done in ``on_step_end`` (or ``on_flush``) is left out of the
trainer's ``seconds_per_step``. A callback that prints checks ``trainer.is_main_process``. The
trainer's own callbacks keep three of its attributes: ``last_metrics``, ``last_checkpoint`` and
``seconds_per_step``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping
from warnings import warn

from crossmodal.training.config import updates_through

if TYPE_CHECKING:  # pragma: no cover
    from crossmodal.training.trainer import Trainer

__all__ = ["Callback", "Progress", "ProgressFunctions", "UpdateProgress", "deprecated_functions", "due"]


class Callback:
    """What a run does beside its updates; override the hooks it needs (see the module docstring)."""

    def on_train_start(self, trainer: Trainer, last: int) -> None:
        """:meth:`~crossmodal.training.trainer.Trainer.train` begins, to generator step ``last``:
        the run folder is open and held, no update of this call has run yet."""

    def on_update(self, trainer: Trainer) -> None:
        """After every critic and generator update (``trainer.updates_done`` counts it), also those of
        ``generator_step``. Called thousands of times a minute: keep it cheap."""

    def on_flush(self, trainer: Trainer, losses: Mapping[str, float]) -> None:
        """The losses logged since the last flush were averaged over the processes and checked:
        ``losses`` (also ``trainer.last_losses``) are their means by name (``critic/gp``...), at
        ``trainer.step``. Every process flushes at the same steps."""

    def on_step_end(self, trainer: Trainer, last: int) -> None:
        """After generator step ``trainer.step`` (counted from 1) of a ``train()`` call to ``last``:
        its losses are logged and, when ``log_every`` divides the step, flushed. Work that needs them
        checked first calls ``trainer.flush()`` (which does nothing when none are pending)."""


def due(every: int, step: int, last: int) -> bool:
    """Whether work done every ``every`` generator steps (0: only at the last) is due after ``step``."""
    return step == last or (every > 0 and step % every == 0)


Progress = Callable[[int, int, Mapping[str, float]], None]
"""``progress(generator_step, last_step, losses)``, called at every flush."""

UpdateProgress = Callable[[int, int], None]
"""``on_update(updates_done, updates_total)``, called after every critic and generator update;
both count critic and generator updates together from generator step 0
(:func:`~crossmodal.training.config.updates_through`)."""


class ProgressFunctions(Callback):
    """Plain functions as a callback, on the main process only: ``progress`` (:data:`Progress`) at
    every flush and ``on_update`` (:data:`UpdateProgress`) after every update: what the deprecated
    ``Trainer(progress=..., on_update=...)`` of crossmodal 0.2.1 does."""

    def __init__(self, progress: Progress | None = None, on_update: UpdateProgress | None = None) -> None:
        self.progress, self.update = progress, on_update
        self.last: int | None = None  # the step the running train() trains to
        self.total = 0  # its updates, critic and generator

    def on_train_start(self, trainer: Trainer, last: int) -> None:
        self.last, self.total = last, updates_through(last, trainer.config)

    def on_update(self, trainer: Trainer) -> None:
        if self.update is not None and trainer.is_main_process:
            self.update(trainer.updates_done, self.total)

    def on_flush(self, trainer: Trainer, losses: Mapping[str, float]) -> None:
        if self.progress is not None and trainer.is_main_process:
            self.progress(trainer.step, trainer.config.steps if self.last is None else self.last, losses)


def deprecated_functions(caller: str, progress: Progress | None, on_update: UpdateProgress | None = None
                         ) -> list[Callback]:
    """``[ProgressFunctions(progress, on_update)]``, with a DeprecationWarning that ``caller``
    (e.g. ``"Trainer(progress=..., on_update=...)"``) goes in crossmodal 0.4 (``[]`` when both are ``None``)."""
    if progress is None and on_update is None:
        return []
    warn(f"{caller} is deprecated and removed in crossmodal 0.4: pass "
         "callbacks=[ProgressFunctions(progress=..., on_update=...)] (crossmodal.callbacks.base) instead, "
         "or a Callback of your own", DeprecationWarning, stacklevel=3)
    return [ProgressFunctions(progress, on_update)]
