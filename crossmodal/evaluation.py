"""Running evaluators over a whole :class:`SampleSet`, exactly, in batches."""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch

from .build import create_component
from .errors import RecipeError
from .interfaces import Evaluator, SampleSet, ratios
from .recipe import ComponentSpec
from .registry import Registry

__all__ = ["evaluate_set", "flatten", "format_value", "matching_evaluators"]


def matching_evaluators(registry: Registry, sample_kind: str, names: Sequence[str] = ()) -> list[Evaluator]:
    """Build the named evaluators (all registered ones when ``names`` is empty) for ``sample_kind``.

    A named evaluator of another sample kind is an error; unnamed ones of another kind are left out.
    An evaluator whose factory fails is one :class:`RecipeError` line naming it.
    """
    chosen = list(names) or registry.names("evaluator")
    evaluators = []
    for name in chosen:
        evaluator = create_component(registry, "evaluator", ComponentSpec(name), "evaluate")
        if evaluator.sample_kind == sample_kind:
            evaluators.append(evaluator)
        elif names:
            raise RecipeError(
                f"evaluator {name!r} reads {evaluator.sample_kind!r} samples, but the data is {sample_kind!r}"
            )
    return evaluators


def evaluate_set(
    sample_set: SampleSet,
    evaluators: Sequence[Evaluator],
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> dict[str, torch.Tensor]:
    """Exact metric values over every item of ``sample_set``.

    Sums each evaluator's totals over batches of ``batch_size`` items and divides once, so the
    result equals evaluating the whole set as one batch. ``progress(n)`` is called after each
    batch with the number of items done in it.

    :returns: metric name -> float64 tensor ``(n_tracks,)`` or ``()``; NaN where undefined.
    """
    sums: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for start in range(0, len(sample_set), batch_size):
        indices = torch.arange(start, min(start + batch_size, len(sample_set)))
        batch = sample_set.batch(indices).to(device)
        for evaluator in evaluators:
            for name, (numerator, denominator) in evaluator.totals(batch).items():
                numerator, denominator = numerator.double().cpu(), denominator.double().cpu()
                if name in sums:
                    numerator = numerator + sums[name][0]
                    denominator = denominator + sums[name][1]
                sums[name] = (numerator, denominator)
        if progress is not None:
            progress(len(indices))
    return ratios(sums)


def format_value(value: float) -> str:
    """A metric value for a table: 4 significant digits, ``nan`` for undefined."""
    return "nan" if value != value else f"{value:.4g}"


def flatten(values: Mapping[str, torch.Tensor]) -> dict[str, float | list[float]]:
    """Tensors to plain floats (per-track lists) for JSON."""
    return {name: value.tolist() for name, value in values.items()}
