"""Metrics on light patterns, each a ratio of two totals (see :class:`crossmodal.Evaluator`).

=========  ======================================================  ============
name       value                                                   shape
=========  ======================================================  ============
level      mean brightness: sum of values / number of values      per lamp
flicker    mean change between consecutive steps: sum |x[t+1] -   per lamp
           x[t]| over the 16 steps of a pattern / number of pairs
together   steps where both lamps are on / steps where any is on   one value
=========  ======================================================  ============

A lamp is on at brightness >= :data:`~crossmodal_palette.constants.ON_LEVEL`. Samples are
float ``(B, 2, 8, 2)`` (segments, steps, lamps) in [0, 1].
"""

from __future__ import annotations

import torch

from crossmodal import Evaluator, check_shape

from .constants import N_LAMPS, ON_LEVEL, PATTERN_SHAPE, SAMPLE_KIND

__all__ = ["EVALUATORS", "FlickerEvaluator", "LevelEvaluator", "TogetherEvaluator"]


def _steps(evaluator: Evaluator, samples: torch.Tensor) -> torch.Tensor:
    """Check ``samples`` and join the segments: ``(B, 2, 8, 2)`` -> ``(B, 16, lamps)``."""
    check_shape(evaluator, "samples", samples, (None, *PATTERN_SHAPE))
    return samples.flatten(1, 2).double()


class LevelEvaluator(Evaluator):
    """Mean brightness per lamp (0-1)."""

    name = "level"
    sample_kind = SAMPLE_KIND
    description = "Mean brightness per lamp: sum of values / values (0-1)."

    def totals(self, samples: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        steps = _steps(self, samples)  # (B, 16, lamps)
        count = torch.full((N_LAMPS,), float(steps.shape[0] * steps.shape[1]), dtype=torch.float64)
        return {self.name: (steps.sum(dim=(0, 1)), count)}


class FlickerEvaluator(Evaluator):
    """Mean absolute change of brightness between consecutive steps, per lamp (0-1)."""

    name = "flicker"
    sample_kind = SAMPLE_KIND
    description = "Mean |change| of brightness between consecutive steps, per lamp (0-1)."

    def totals(self, samples: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        steps = _steps(self, samples)  # (B, 16, lamps)
        changes = (steps[:, 1:] - steps[:, :-1]).abs()  # (B, 15, lamps)
        count = torch.full((N_LAMPS,), float(changes.shape[0] * changes.shape[1]), dtype=torch.float64)
        return {self.name: (changes.sum(dim=(0, 1)), count)}


class TogetherEvaluator(Evaluator):
    """Steps where both lamps are on / steps where at least one is on (one value; NaN if all dark)."""

    name = "together"
    sample_kind = SAMPLE_KIND
    description = "Steps with both lamps on / steps with any lamp on (0-1; nan when always dark)."

    def totals(self, samples: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        on = _steps(self, samples) >= ON_LEVEL  # (B, 16, lamps), bool
        both = on.all(dim=-1).sum().double()  # ()
        any_on = on.any(dim=-1).sum().double()  # ()
        return {self.name: (both, any_on)}


EVALUATORS = (LevelEvaluator, FlickerEvaluator, TogetherEvaluator)
"""Every evaluator class; the plugin registers each under its ``name``."""
