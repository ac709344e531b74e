"""Whether a run diverged: a loss that is NaN, infinite or beyond ``divergence_bound``, or a NaN/inf weight.

During training the losses stay on the device in a :class:`LossLog` and are checked when it is
flushed (every ``log_every`` steps); single updates are checked at once (:meth:`LossLog.checked`).
Both use :func:`check_losses`. A message names the newest checkpoint whose weights were checked
finite, the last good one (see :mod:`crossmodal.callbacks.checkpoints`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from crossmodal.training import distributed
from crossmodal.errors import TrainingDivergedError, shown


def _why(value: float, bound: float) -> str | None:
    """Why ``value`` means the run diverged (``None``: it does not)."""
    if not math.isfinite(value):
        return f"became {value}"
    if abs(value) > bound:
        return f"reached {value:.4g}, beyond divergence_bound {bound:g}"
    return None


def last_good(checkpoint: Path | None) -> str:
    """Names the last good checkpoint (``None``: none yet) in a message."""
    if checkpoint is not None:
        return f"the last good checkpoint is {shown(checkpoint)}"
    return "no checkpoint had been written yet"


def check_losses(
    rows: Sequence[Sequence[float]], names: Sequence[str], steps: Sequence[int], bound: float, what: str,
    good: Path | None,
) -> None:
    """Raise on the first diverged loss of ``rows`` (one row of ``len(names)`` values per step).

    :param steps: the generator step of each row (counted from 0).
    :param what: the words before a loss's name, e.g. ``"loss"`` or ``"critic loss"``.
    :param good: the last good checkpoint, for the message.
    :raises TrainingDivergedError: naming the loss, its value and its step.
    """
    for step, row in zip(steps, rows):
        for name, value in zip(names, row):
            why = _why(value, bound)
            if why is not None:
                raise TrainingDivergedError(
                    f"{what} {name!r} {why} at generator step {step} (counted from 0); training stopped, "
                    f"{last_good(good)}. Try a lower learning rate or check the extra loss terms."
                )


def check_weights(modules: dict[str, nn.Module], step: int, good: Path | None) -> None:
    """Raise if a weight of ``modules`` (by role) is NaN/inf: a loss can be finite while the
    update it produced was not. ``good``: the last good checkpoint, for the message.

    :raises TrainingDivergedError: naming the weight and the generator step.
    """
    bad = non_finite_weight(modules)
    if bad is not None:
        raise TrainingDivergedError(
            f"{bad} holds NaN or inf after generator step {step}; training stopped, {last_good(good)}"
        )


def non_finite_weight(modules: dict[str, nn.Module]) -> str | None:
    """``"generator weight 'name'"`` of the first NaN/inf weight of ``modules`` by role (``None``: all finite)."""
    for role, module in modules.items():
        named = list(module.named_parameters())
        if not named:
            continue
        finite = torch.stack([p.detach().isfinite().all() for _, p in named]).cpu()  # one sync
        if not bool(finite.all()):
            return f"{role} weight {named[int((~finite).nonzero()[0])][0]!r}"
    return None


class LossLog:
    """The losses of the generator steps since the last :meth:`flush`, kept on the device until then.

    :param critic_names, generator_names: the names of a critic update's and a generator update's
        losses (:func:`~crossmodal.training.updates.loss_names`); a step's row, and :attr:`names`,
        are ``critic/<name>`` (means over the step's critic updates), then ``generator/<name>``.
    :param bound: ``divergence_bound``.
    """

    def __init__(self, critic_names: list[str], generator_names: list[str], bound: float) -> None:
        self.names = [*(f"critic/{name}" for name in critic_names), *(f"generator/{name}" for name in generator_names)]
        self.bound = bound
        self._pending: list[tuple[int, torch.Tensor]] = []  # (generator step, losses (len(names),))

    def add(self, step: int, losses: torch.Tensor) -> None:
        """Keep generator step ``step``'s losses ``(len(names),)`` (on the device: no sync)."""
        self._pending.append((step, losses))

    def checked(self, names: list[str], losses: torch.Tensor, what: str, step: int, good: Path | None
                ) -> dict[str, float]:
        """One update's ``losses`` ``(len(names),)`` by name, copied to the host at once and
        checked (:func:`check_losses`; ``what`` e.g. ``"critic loss"``, ``step`` counted from 0)."""
        values = losses.tolist()
        check_losses([values], names, [step], self.bound, what, good)
        return dict(zip(names, values))

    def flush(self, good: Path | None) -> dict[str, float] | None:
        """Average the kept losses over the processes, copy them to the host (one sync) and check
        them (:func:`check_losses`; ``good``: the last good checkpoint); every process calls it at
        the same steps.

        :returns: each loss's mean over the kept steps (``None``: none kept).
        :raises TrainingDivergedError: naming the first diverged loss and its step.
        """
        if not self._pending:
            return None
        steps = [step for step, _ in self._pending]
        values = torch.stack([losses for _, losses in self._pending])  # (n_steps, n_losses)
        values = distributed.all_reduce_mean(values).cpu()
        self._pending.clear()
        check_losses(values.tolist(), self.names, steps, self.bound, "loss", good)
        return dict(zip(self.names, values.mean(dim=0).tolist()))
