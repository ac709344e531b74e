"""How much the condition matters: the conditioning report of ``crossmodal evaluate --conditioning``.

A generator trained on randomly paired data can reach its optimum while ignoring the condition.
This module measures whether it does, without knowing the modality: it generates ``P`` held-out
conditions x ``S`` noise seeds (seed ``s`` is the same noise vector for every condition, so
samples differ along a row only because of the condition) and computes

- **identifiability** (:func:`identifiability`): how often a leave-one-seed-out nearest-centroid
  classifier on per-sample feature vectors names the right condition, against chance ``1 / P``,
  with a permutation p-value;
- the **intra/inter distance ratio** (:func:`distance_ratio`): mean distance between samples of
  the same condition over mean distance between samples of different conditions, both over
  pairs of different seeds (1 when the condition does not matter, towards 0 when it decides
  the sample);
- **descriptor agreement** (:func:`descriptor_agreement`): Spearman's rho (:func:`spearman`)
  between each condition descriptor and each sample descriptor, across the ``P`` conditions, the
  sample descriptor averaged over the seeds.

The feature vectors and descriptors come from the plugins: a recipe names a
:class:`~crossmodal.contract.interfaces.Descriptor` for its conditions and one for its samples
(:attr:`~crossmodal.contract.recipe.Recipe.condition_descriptor`,
:attr:`~crossmodal.contract.recipe.Recipe.sample_descriptor`). :func:`conditioning_report` computes the
figures for a checkpoint's generator, for an untrained generator of the same recipe, and (the
agreement only) for the training pairs, which is what the run's pairing teaches.

Public: :func:`standardize`, :func:`identifiability`, :class:`Identifiability`,
:func:`distance_ratio`, :func:`spearman`, :func:`descriptor_agreement`, :func:`critical_rho`,
:class:`ConditioningFigures`, :class:`ConditioningReport`, :func:`conditioning_report`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch

from crossmodal.job.build import create_descriptor, get_recipe
from crossmodal.job.restore import UNTRAINED_SEED, recorded_spec, restore
from crossmodal.errors import CheckpointError
from crossmodal.storage.files import shown
from crossmodal.contract.interfaces import Descriptor, SampleSet
from crossmodal.contract.recipe import Pairing
from crossmodal.contract.registry import Registry
from crossmodal.data.pairing import rank_scores
from crossmodal.data.training_data import standardize

__all__ = [
    "DEFAULT_PERMUTATIONS",
    "DEFAULT_SEEDS",
    "UNTRAINED_SEED",
    "ConditioningFigures",
    "ConditioningReport",
    "Identifiability",
    "conditioning_report",
    "critical_rho",
    "descriptor_agreement",
    "distance_ratio",
    "identifiability",
    "spearman",
    "standardize",
]

DEFAULT_SEEDS = 16
"""Noise vectors per condition (``S``)."""

DEFAULT_PERMUTATIONS = 200
"""Label shufflings for the identifiability p-value (its smallest possible value is 1 / 201)."""

_RHO_PERMUTATIONS = 10000
"""Shufflings of ``P`` ranks from which :func:`critical_rho` takes its quantile."""


# -------------------------------------------------------------------------------------------
# Statistics: plain tensors in, numbers out
# -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identifiability:
    """What :func:`identifiability` found.

    :ivar accuracy: share of samples whose condition the classifier named (0-1).
    :ivar chance: the accuracy of guessing, ``1 / n_conditions``.
    :ivar p_value: ``(1 + shuffles scoring >= accuracy) / (1 + permutations)``.
    :ivar permutations: how many label shufflings were scored.
    """

    accuracy: float
    chance: float
    p_value: float
    permutations: int


def _nearest_centroid_accuracy(features: np.ndarray, labels: np.ndarray, groups: np.ndarray,
                               n_labels: int, n_groups: int) -> float:
    """Leave-one-group-out nearest-centroid accuracy (see :func:`identifiability`).

    numpy, not torch: the arrays are tiny and the call is repeated for every permutation, where
    torch's intra-op threads cost more than the arithmetic.
    """
    cell = labels * n_groups + groups  # (N,): one (label, group) cell per sample
    sums = np.zeros((n_labels * n_groups, features.shape[1]))
    np.add.at(sums, cell, features)
    sums = sums.reshape(n_labels, n_groups, -1)  # (labels, groups, D)
    counts = np.bincount(cell, minlength=n_labels * n_groups).reshape(n_labels, n_groups).astype(float)
    # Centroids of each label without group g: (groups, labels, D); a label absent elsewhere has none.
    rest_sums = sums.sum(axis=1, keepdims=True) - sums
    rest_counts = counts.sum(axis=1, keepdims=True) - counts  # (labels, groups)
    centroids = (rest_sums / np.maximum(rest_counts, 1)[..., None]).transpose(1, 0, 2)
    distances = ((centroids[groups] - features[:, None, :]) ** 2).sum(axis=-1)  # (N, labels)
    distances = np.where(rest_counts.T[groups] > 0, distances, np.inf)
    return float((distances.argmin(axis=1) == labels).mean())


def identifiability(
    features: torch.Tensor,
    labels: torch.Tensor,
    groups: torch.Tensor,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
) -> Identifiability:
    """Can a sample's condition be told from the sample? Leave-one-group-out nearest centroid.

    For each group ``g`` (a noise seed), the centroid of each label (condition) is the mean
    feature vector of its samples in the other groups; each sample of ``g`` is assigned the label
    of the nearest centroid (Euclidean; ties go to the lowest label, so samples that do not depend
    on the condition at all score exactly chance in a balanced design). The accuracy is the share
    of samples assigned their own label.

    The p-value comes from shuffling the labels among the samples of each group (which keeps the
    design: every group still holds the same labels) ``permutations`` times, with numpy's
    generator seeded ``seed``, and scoring each shuffle the same way:
    ``p = (1 + #{shuffled accuracy >= accuracy}) / (1 + permutations)``.

    :param features: float ``(N, D)``, already standardised (:func:`standardize`).
    :param labels: int ``(N,)``, the condition of each sample, ``0 .. P - 1``.
    :param groups: int ``(N,)``, the noise seed of each sample, ``0 .. S - 1``.
    :raises ValueError: fewer than 2 labels or groups, or mismatched lengths.
    """
    features = np.asarray(torch.as_tensor(features).double().reshape(len(features), -1))
    labels = np.asarray(torch.as_tensor(labels).long())
    groups = np.asarray(torch.as_tensor(groups).long())
    if not features.shape[0] == labels.shape[0] == groups.shape[0]:
        raise ValueError(
            f"identifiability: {features.shape[0]} feature rows, {labels.shape[0]} labels and "
            f"{groups.shape[0]} groups; one each per sample"
        )
    n_labels, n_groups = int(labels.max()) + 1, int(groups.max()) + 1
    if n_labels < 2 or n_groups < 2:
        raise ValueError(f"identifiability needs >= 2 conditions and >= 2 seeds, got {n_labels} and {n_groups}")
    accuracy = _nearest_centroid_accuracy(features, labels, groups, n_labels, n_groups)
    rng = np.random.default_rng(seed)
    by_group = np.argsort(groups, kind="stable")  # the samples, group after group
    at_least = 0
    for _ in range(permutations):
        mixed = np.argsort(groups + rng.random(len(groups)))  # group after group, random order inside
        shuffled = np.empty_like(labels)
        shuffled[by_group] = labels[mixed]
        score = _nearest_centroid_accuracy(features, shuffled, groups, n_labels, n_groups)
        at_least += score >= accuracy - 1e-12
    return Identifiability(accuracy, 1.0 / n_labels, (1 + at_least) / (1 + permutations), permutations)


def distance_ratio(features: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor | None = None) -> float:
    """Mean Euclidean distance between two samples of the same condition / between two samples
    of different conditions (every unordered pair of distinct samples once).

    With ``groups`` (the noise seed of each sample), only pairs of *different* seeds count on
    both sides: in the report's design a same-seed pair always has different conditions, and
    counting it would pull the denominator down (to 0 distance when the condition is ignored).
    Then a generator that ignores the condition scores exactly 1; samples of one condition lying
    closer together score below 1. NaN when either kind of pair is missing or every distance
    between conditions is 0.

    :param features: float ``(N, D)``, standardised.
    :param labels: int ``(N,)``.
    :param groups: int ``(N,)`` or ``None`` (every pair counts).
    """
    features = features.double().reshape(features.shape[0], -1)
    labels = torch.as_tensor(labels).long()
    distances = torch.cdist(features, features)  # (N, N)
    pairs = torch.triu(torch.ones_like(distances, dtype=torch.bool), diagonal=1)
    if groups is not None:
        groups = torch.as_tensor(groups).long()
        pairs &= groups[:, None] != groups[None, :]
    same = (labels[:, None] == labels[None, :]) & pairs
    different = (labels[:, None] != labels[None, :]) & pairs
    if not same.any() or not different.any():
        return math.nan
    inter = distances[different].mean().item()
    return distances[same].mean().item() / inter if inter > 0 else math.nan


def spearman(x: Any, y: Any) -> float:
    """Spearman's rank correlation of two equally long 1-D arrays: Pearson's r of their ranks
    (average ranks for ties), the mean product of their standardised ranks
    (:func:`~crossmodal.data.pairing.rank_scores`). Pairs where either value is NaN are left out;
    NaN when fewer than 3 pairs remain or either side is constant."""
    x, y = torch.as_tensor(x).double().reshape(-1), torch.as_tensor(y).double().reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"spearman: {x.shape[0]} values against {y.shape[0]}")
    keep = torch.isfinite(x) & torch.isfinite(y)
    if int(keep.sum()) < 3:
        return math.nan
    rx, ry = rank_scores(x[keep]), rank_scores(y[keep])
    return float((rx * ry).mean()) if bool(rx.any()) and bool(ry.any()) else math.nan


def descriptor_agreement(
    conditions: Mapping[str, torch.Tensor], samples: Mapping[str, torch.Tensor]
) -> dict[str, dict[str, float]]:
    """Spearman's rho of every (condition descriptor, sample descriptor) pair.

    :param conditions: descriptor -> ``(P,)`` values, one per condition (or per training pair).
    :param samples: descriptor -> ``(P,)`` values in the same order (per-condition means, or the
        paired targets' values).
    :returns: condition descriptor -> sample descriptor -> rho.
    """
    return {c: {s: spearman(cv, sv) for s, sv in samples.items()} for c, cv in conditions.items()}


def critical_rho(n: int, level: float = 0.05, seed: int = 0) -> float:
    """The |rho| that independent rankings of ``n`` items exceed with probability ``level`` (two
    sided), from :data:`_RHO_PERMUTATIONS` seeded shufflings; NaN for ``n < 3``."""
    if n < 3:
        return math.nan
    rng = np.random.default_rng(seed)
    ranks = np.arange(n, dtype=float) - (n - 1) / 2
    shuffled = np.argsort(rng.random((_RHO_PERMUTATIONS, n)), axis=1) - (n - 1) / 2
    rho = shuffled @ ranks / (ranks @ ranks)
    return float(np.quantile(np.abs(rho), 1 - level))


# -------------------------------------------------------------------------------------------
# The report on a checkpoint
# -------------------------------------------------------------------------------------------


@dataclass
class ConditioningFigures:
    """One column of the report; ``None`` where the figure does not apply.

    :ivar identifiability: see :func:`identifiability`.
    :ivar distance_ratio: see :func:`distance_ratio`.
    :ivar agreement: condition descriptor -> sample descriptor -> Spearman's rho (empty without
        descriptors).
    :ivar same_features: every sample has the same feature vector (say, every phrase is silent
        once binarised): identifiability is chance by construction, the ratio and rho undefined.
    """

    identifiability: Identifiability | None = None
    distance_ratio: float | None = None
    agreement: dict[str, dict[str, float]] = field(default_factory=dict)
    same_features: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; NaN becomes ``None``."""
        ident = self.identifiability
        return {
            "identifiability": None if ident is None else {
                "accuracy": ident.accuracy, "chance": ident.chance, "p_value": ident.p_value,
                "permutations": ident.permutations,
            },
            "distance_ratio": _plain(self.distance_ratio),
            "descriptor_agreement": {c: {s: _plain(r) for s, r in row.items()} for c, row in self.agreement.items()},
            "same_features": self.same_features,
        }


def _plain(value: float | None) -> float | None:
    return None if value is None or value != value else value


COLUMNS = ("checkpoint", "untrained", "training pairs")
"""The report's columns, in order."""


@dataclass
class ConditioningReport:
    """What :func:`conditioning_report` measured, and on what.

    :ivar columns: ``"checkpoint"``, ``"untrained"`` and ``"training pairs"`` (the last only with
        both descriptors) -> their :class:`ConditioningFigures`.
    :ivar features: what the feature vectors are, for the reader.
    :ivar training_pairs: (condition, target) pairs drawn for the training-pairs column (0: none).
    :ivar critical_rho: the |rho| that ``n_conditions`` conditions exceed by chance with
        probability 0.05 (:func:`critical_rho`).
    """

    checkpoint: Path
    source: str
    conditions_dataset: str
    n_conditions: int
    seeds: int
    seed: int
    condition_descriptor: str | None
    sample_descriptor: str | None
    features: str
    columns: dict[str, ConditioningFigures]
    training_pairs: int
    critical_rho: float

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON types (``crossmodal evaluate --conditioning --json``)."""
        return {
            "checkpoint": str(self.checkpoint),
            "conditioning": {"source": self.source, "dataset": self.conditions_dataset,
                             "conditions": self.n_conditions},
            "seeds": self.seeds,
            "seed": self.seed,
            "chance": 1.0 / self.n_conditions,
            "descriptors": {"conditions": self.condition_descriptor, "samples": self.sample_descriptor},
            "features": self.features,
            "untrained_seed": UNTRAINED_SEED,
            "training_pairs": self.training_pairs,
            "critical_rho": _plain(self.critical_rho),
            "columns": {name: figures.to_dict() for name, figures in self.columns.items()},
        }

    def rows(self) -> list[list[str]]:
        """The table: a header, then one row per figure, one cell per column of :data:`COLUMNS`."""

        def cell(value: float | None) -> str:
            return "-" if value is None else "nan" if value != value else f"{value:.3g}"

        def row(label: str, pick: Callable[[ConditioningFigures], float | None]) -> list[str]:
            return [label, *(cell(pick(self.columns[c])) if c in self.columns else "-" for c in COLUMNS)]

        def ident(figures: ConditioningFigures, what: str) -> float | None:
            return None if figures.identifiability is None else getattr(figures.identifiability, what)

        permutations = self.columns["checkpoint"].identifiability
        table = [
            ["FIGURE", *(c.upper() for c in COLUMNS)],
            row(f"identifiability (chance {1 / self.n_conditions:.3g})", lambda f: ident(f, "accuracy")),
            row(f"  p-value ({permutations.permutations if permutations else 0} permutations)",
                lambda f: ident(f, "p_value")),
            row("intra/inter distance ratio", lambda f: f.distance_ratio),
        ]
        for condition, by_sample in self.columns["checkpoint"].agreement.items():
            for sample in by_sample:
                table.append(row(f"rho {condition} ~ {sample}",
                                 lambda f, c=condition, s=sample: f.agreement.get(c, {}).get(s)))
        return table

    def notes(self) -> list[str]:
        """What each column is, and how to read the figures, one line each."""
        notes = [
            f"conditions: {self.n_conditions} items of {self.conditions_dataset} read from {shown(self.source)}, "
            f"x {self.seeds} noise seeds (seed {self.seed}; seed s is the same noise for every condition)",
            f"checkpoint: {shown(self.checkpoint)}",
            f"untrained: the same recipe's generator with fresh weights (torch seed {UNTRAINED_SEED}: the "
            "weights a run seeded 0 starts from)",
            f"features: {self.features}, standardised",
        ]
        for name, figures in self.columns.items():
            if figures.same_features:
                notes.append(f"{name}: every sample has the same features (every one empty, "
                             "say), so identifiability is chance by construction and the ratio and rho are nan")
        if self.condition_descriptor is None or self.sample_descriptor is None:
            notes.append("descriptors: no descriptors (the recipe names no condition_descriptor and "
                         "sample_descriptor), so no descriptor agreement and no training-pairs column")
        else:
            notes.append(
                f"descriptors: {self.condition_descriptor!r} for the conditions, {self.sample_descriptor!r} for the "
                f"samples; rho across the {self.n_conditions} conditions (sample descriptors averaged over seeds)"
            )
            notes.append(
                f"training pairs: rho across {self.training_pairs} (condition, target) pairs drawn from the "
                "training data with the run's pairing (recorded in the checkpoint)"
            )
            notes.append(
                f"|rho| above {self.critical_rho:.2f} happens by chance with p = 0.05 for "
                f"{self.n_conditions} conditions"
            )
        return notes


@dataclass
class _Described:
    """Per-sample features ``(N, D)`` and sample descriptors ``name -> (N,)`` of one generator."""

    features: list[torch.Tensor] = field(default_factory=list)
    values: dict[str, list[torch.Tensor]] = field(default_factory=dict)

    def add(self, samples: torch.Tensor, descriptor: Descriptor | None) -> None:
        if descriptor is None:
            self.features.append(samples.reshape(samples.shape[0], -1).float())
            return
        self.features.append(descriptor.features(samples).double())
        for name, value in descriptor.described(samples).items():
            self.values.setdefault(name, []).append(value)

    def figures(self, labels: torch.Tensor, groups: torch.Tensor, n_conditions: int, seeds: int,
                permutations: int, seed: int, condition_values: Mapping[str, torch.Tensor]) -> ConditioningFigures:
        features = standardize(torch.cat(self.features))
        means = {name: torch.cat(parts).reshape(n_conditions, seeds).nanmean(dim=1)
                 for name, parts in self.values.items()}
        return ConditioningFigures(
            identifiability(features, labels, groups, permutations, seed),
            distance_ratio(features, labels, groups),
            descriptor_agreement(condition_values, means) if condition_values and means else {},
            same_features=not bool(features.any()),  # standardised: all 0 when every row is the same
        )


def _training_pairs(pairing: Pairing, conditions: SampleSet, targets: SampleSet, count: int, seed: int,
                    condition_descriptor: Descriptor, sample_descriptor: Descriptor,
                    batch_size: int) -> dict[str, dict[str, float]]:
    """Descriptor agreement across ``count`` training pairs drawn with the run's ``pairing``."""
    condition_index, target_index = pairing(len(conditions), len(targets), count, torch.Generator().manual_seed(seed))
    sides: list[dict[str, list[torch.Tensor]]] = [{}, {}]
    for start in range(0, count, batch_size):
        stop = min(start + batch_size, count)
        for values, data, index, descriptor in ((sides[0], conditions, condition_index, condition_descriptor),
                                                (sides[1], targets, target_index, sample_descriptor)):
            for name, value in descriptor.described(data.batch(index[start:stop])).items():
                values.setdefault(name, []).append(value)
    joined = [{name: torch.cat(parts) for name, parts in side.items()} for side in sides]
    return descriptor_agreement(joined[0], joined[1])


def conditioning_report(
    registry: Registry,
    document: Mapping[str, Any],
    source: str | Path,
    *,
    seeds: int = DEFAULT_SEEDS,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
    device: torch.device | str = "cpu",
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> ConditioningReport:
    """Measure how much a checkpoint's samples depend on their condition (see the module docstring).

    Every item of ``source`` (read with the checkpoint's recorded conditions sample set and its
    options) is one condition; each is generated with the same ``seeds`` noise vectors, drawn
    from a generator seeded ``seed``, by the checkpoint's generator and by an untrained one. The
    figures of both, and the descriptor agreement of ``P x S`` training pairs, make the report.

    :param document: from :func:`crossmodal.storage.checkpoint.load_checkpoint`.
    :param source: held-out conditions: whatever the conditions sample set reads (a folder of
        raw files, a prepared set...).
    :param batch_size: samples generated per forward pass.
    :param progress: ``progress(done, total)`` after each batch: conditions done in it, and in all.
    :raises CheckpointError: fewer than 2 conditions or 2 seeds, conditions of another shape, or
        a checkpoint that cannot be rebuilt.
    :raises RecipeError: a descriptor that is not registered or describes another sample kind.
    """
    path = Path(document["path"])
    origin = f"checkpoint {shown(path)}"
    if seeds < 2:
        raise CheckpointError(f"{origin}: the conditioning report needs at least 2 seeds, got {seeds}")
    spec = recorded_spec(document)
    recipe = get_recipe(registry, spec.recipe)
    wanted = ["generator", "untrained", "read_conditions"]
    if recipe.sample_descriptor is not None:  # the training targets tell which kind the samples are
        wanted += ["data", "pairing"] if recipe.condition_descriptor is not None else ["data"]
    restored = restore(registry, document, parts=wanted, device=device)
    generator, untrained, training = restored.generator, restored.untrained, restored.data
    dataset = spec.component("conditions")
    held_out = restored.read_conditions(source)
    if tuple(held_out.sample_shape) != tuple(generator.condition_shape):
        raise CheckpointError(
            f"{origin}: {shown(str(source))} holds items of shape {tuple(held_out.sample_shape)}, but the "
            f"generator's conditions are {tuple(generator.condition_shape)}"
        )
    n_conditions = len(held_out)
    if n_conditions < 2:
        raise CheckpointError(
            f"{origin}: {shown(str(source))} holds {n_conditions} usable condition(s); the report needs at least 2"
        )
    where = f"{origin} (recipe {spec.recipe!r})"
    condition_descriptor = sample_descriptor = None
    if training is not None:
        sample_descriptor = create_descriptor(registry, recipe.sample_descriptor, training.targets.sample_kind, where,
                                              "sample_descriptor")
        if recipe.condition_descriptor is not None:
            condition_descriptor = create_descriptor(registry, recipe.condition_descriptor, held_out.sample_kind,
                                                     where, "condition_descriptor")
    noise = generator.sample_noise(seeds, torch.Generator().manual_seed(seed))  # (S, noise_dim), CPU
    results = {"checkpoint": _Described(), "untrained": _Described()}
    condition_values: dict[str, list[torch.Tensor]] = {}
    per_batch = max(1, batch_size // seeds)  # conditions per forward pass
    with torch.no_grad():
        for start in range(0, n_conditions, per_batch):
            index = torch.arange(start, min(start + per_batch, n_conditions))
            items = held_out.batch(index)  # (k, *condition_shape)
            if condition_descriptor is not None:
                for name, value in condition_descriptor.described(items).items():
                    condition_values.setdefault(name, []).append(value)
            repeated = items.repeat_interleave(seeds, dim=0).to(device)  # (k * S, *condition_shape)
            codes = noise.repeat(len(index), 1).to(device)  # (k * S, noise_dim): seed s for every condition
            for name, model in (("checkpoint", generator), ("untrained", untrained)):
                results[name].add(model(repeated, codes).float().cpu(), sample_descriptor)
            if progress is not None:
                progress(len(index), n_conditions)
    labels = torch.arange(n_conditions).repeat_interleave(seeds)  # (P * S,): condition of each sample
    groups = torch.arange(seeds).repeat(n_conditions)  # (P * S,): its noise seed
    values = {name: torch.cat(parts) for name, parts in condition_values.items()}
    columns = {name: result.figures(labels, groups, n_conditions, seeds, permutations, seed, values)
               for name, result in results.items()}
    pairs = 0
    if restored.pairing is not None:  # both descriptors named
        pairs = n_conditions * seeds
        columns["training pairs"] = ConditioningFigures(agreement=_training_pairs(
            restored.pairing, training.conditions, training.targets, pairs, seed, condition_descriptor,
            sample_descriptor, batch_size
        ))
    width = results["checkpoint"].features[0].shape[1]
    features = (f"{width} values from descriptor {recipe.sample_descriptor!r}" if sample_descriptor is not None
                else f"the raw samples ({width} values each; the recipe names no sample_descriptor)")
    return ConditioningReport(
        checkpoint=path, source=str(source), conditions_dataset=dataset.name, n_conditions=n_conditions,
        seeds=seeds, seed=seed,
        condition_descriptor=None if condition_descriptor is None else recipe.condition_descriptor,
        sample_descriptor=None if sample_descriptor is None else recipe.sample_descriptor, features=features, columns=columns, training_pairs=pairs,
        critical_rho=critical_rho(n_conditions, seed=seed),
    )
