"""Running evaluators over a whole :class:`SampleSet`, exactly, in batches; and the sample sets
that compare a checkpoint's generator with its training data (:func:`checkpoint_sets`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch

from crossmodal.job.build import JobSpec

from crossmodal.contract.components import create_component
from crossmodal.errors import RecipeError
from crossmodal.job.generator import ConditionalGenerator
from crossmodal.job.restore import restore
from crossmodal.contract.interfaces import Evaluator, SampleSet, add_totals, ratios
from crossmodal.contract.recipe import ComponentSpec
from crossmodal.contract.registry import Registry

__all__ = [
    "CheckpointSets",
    "GeneratedSet",
    "checkpoint_sets",
    "evaluate_set",
    "flatten",
    "format_value",
    "matching_evaluators",
    "set_features",
]


def matching_evaluators(registry: Registry, sample_kind: str, names: Sequence[str] = ()) -> list[Evaluator]:
    """Build the named evaluators (all registered ones when ``names`` is empty) for ``sample_kind``.

    A named evaluator of another sample kind is an error; unnamed ones of another kind are left out.
    So are evaluators that need the samples' conditions (``needs_conditions``), which a sample set
    does not have; naming one is an error. So are set-comparing evaluators (``compares_sets``),
    which need a reference set (:func:`set_features`). An evaluator whose factory fails is one
    :class:`RecipeError` line naming it.
    """
    chosen = list(names) or registry.names("evaluator")
    evaluators = []
    for name in chosen:
        evaluator = create_component(registry, "evaluator", ComponentSpec(name), "evaluate")
        if getattr(evaluator, "needs_conditions", False):
            if names:
                raise RecipeError(
                    f"evaluator {name!r} compares samples with their conditions (needs_conditions); "
                    "a sample set has none, so it runs during training only"
                )
            continue
        if getattr(evaluator, "compares_sets", False):
            if names:
                raise RecipeError(
                    f"evaluator {name!r} compares a set with a reference set (compares_sets); it runs "
                    "against a recipe's validation set or crossmodal evaluate --reference"
                )
            continue
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

    Set-comparing evaluators (``compares_sets``) are skipped here: see :func:`set_features`.

    :returns: metric name -> float64 tensor ``(n_tracks,)`` or ``()``; NaN where undefined.
    """
    evaluators = [e for e in evaluators if not getattr(e, "compares_sets", False)]
    sums: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for start in range(0, len(sample_set), batch_size):
        indices = torch.arange(start, min(start + batch_size, len(sample_set)))
        batch = sample_set.batch(indices).to(device)
        for evaluator in evaluators:
            add_totals(sums, evaluator.totals(batch))
        if progress is not None:
            progress(len(indices))
    return ratios(sums)


def set_features(
    sample_set: SampleSet, evaluator: Evaluator, batch_size: int = 256, device: torch.device | str = "cpu"
) -> dict[str, torch.Tensor]:
    """A set-comparing evaluator's per-sample :meth:`~crossmodal.Evaluator.features` over every item
    of ``sample_set``, gathered in batches of ``batch_size``: ``{name: (len(sample_set), ...)}`` on the CPU."""
    parts: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(sample_set), batch_size):
        indices = torch.arange(start, min(start + batch_size, len(sample_set)))
        for name, values in evaluator.features(sample_set.batch(indices).to(device)).items():
            parts.setdefault(name, []).append(values.detach().cpu())
    return {name: torch.cat(values) for name, values in parts.items()}


def format_value(value: float) -> str:
    """A metric value for a table: 4 significant digits, ``nan`` for undefined."""
    return "nan" if value != value else f"{value:.4g}"


def flatten(values: Mapping[str, torch.Tensor]) -> dict[str, float | list[float]]:
    """Tensors to plain floats (per-track lists) for JSON."""
    return {name: value.tolist() for name, value in values.items()}


class GeneratedSet:
    """``count`` samples of a generator, as a :class:`SampleSet` made one batch at a time.

    The conditions are drawn from ``conditions`` in random order, each used once before any is
    used again, and the noise is drawn up front, both from ``seed``: the same seed gives the
    same samples, whatever the batch size or device. Only the batch being evaluated is held in
    memory.

    :param generator: the generator (evaluation mode is set for each batch).
    :param conditions: the sample set its conditions are taken from.
    :param count: how many samples the set holds.
    :param sample_kind: the kind of the samples (that of the data it is compared with).
    :param device: where the generator runs; batches come back on the CPU as float32.
    """

    def __init__(
        self,
        generator: ConditionalGenerator,
        conditions: SampleSet,
        count: int,
        seed: int,
        sample_kind: str,
        device: torch.device | str = "cpu",
    ) -> None:
        if len(conditions) == 0:
            raise ValueError("GeneratedSet: the conditions sample set is empty")
        rng = torch.Generator().manual_seed(seed)
        rounds = math.ceil(count / len(conditions))
        self.condition_index = torch.cat([torch.randperm(len(conditions), generator=rng) for _ in range(rounds)])[:count]
        self.noise = generator.sample_noise(count, rng)  # (count, noise_dim), CPU
        self.generator = generator
        self.conditions = conditions
        self.sample_kind = sample_kind
        self.sample_shape = tuple(generator.sample_shape)
        self.device = torch.device(device)

    def __len__(self) -> int:
        return len(self.condition_index)

    @torch.no_grad()
    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        """Float32 ``(n, *sample_shape)`` samples for a 1-D LongTensor of ``n`` indices."""
        indices = torch.as_tensor(indices).long().reshape(-1)
        condition = self.conditions.batch(self.condition_index[indices]).to(self.device)
        self.generator.eval()
        return self.generator(condition, self.noise[indices].to(self.device)).float().cpu()

    def sources(self) -> list[str]:
        """Per sample: the condition it was generated from."""
        names = list(self.conditions.sources())
        return [f"generated from {names[i]}" for i in self.condition_index.tolist()]


@dataclass
class CheckpointSets:
    """What :func:`checkpoint_sets` builds.

    :ivar generated: samples of the checkpoint's generator (a :class:`GeneratedSet`).
    :ivar real: the recorded training targets.
    :ivar conditions: the recorded training conditions the samples are generated from.
    :ivar spec: the checkpoint's job record.
    :ivar path: the checkpoint file read.
    :ivar validation: the recorded held-out samples (``None`` when the job held none out).
    """

    generated: GeneratedSet
    real: SampleSet
    conditions: SampleSet
    spec: JobSpec
    path: Path
    validation: SampleSet | None = None


def checkpoint_sets(
    registry: Registry,
    document: Mapping[str, Any],
    count: int | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> CheckpointSets:
    """The generated and the real samples that compare a checkpoint with its training data.

    Restores the generator, the conditions and targets datasets recorded in the checkpoint's job
    (with their recorded options and sources) and its validation dataset when it recorded one
    (:func:`crossmodal.job.restore.restore`).

    :param document: from :func:`crossmodal.storage.checkpoint.load_checkpoint`.
    :param count: samples to generate; ``None``: as many as the targets hold.
    :param seed: seed of the condition order and the noise.
    :raises CheckpointError: the job names no conditions or targets dataset, or they do not fit
        the generator.
    :raises RecipeError, DataError: a recorded component is not registered, or the recorded data
        cannot be read (the message names it).
    """
    restored = restore(registry, document, parts=("generator", "data", "validation"), device=device)
    conditions, real = restored.data.conditions, restored.data.targets
    generated = GeneratedSet(restored.generator, conditions, len(real) if count is None else count, seed,
                             real.sample_kind, device)
    return CheckpointSets(generated, real, conditions, restored.spec, restored.path, restored.validation)
