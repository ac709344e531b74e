"""Pairings: which target each condition of a training batch is drawn with.

A recipe's :attr:`~crossmodal.contract.recipe.Recipe.pairing` is one of two things:

- a **function** ``pairing(n_conditions, n_targets, batch_size, rng)`` returning
  ``(condition_indices, target_indices)``, two int64 tensors ``(batch_size,)``
  (:data:`~crossmodal.contract.recipe.Pairing`). It sees only the two sizes. :func:`random_pairs`, the
  default (the Jukepix paper's), is one;
- a :class:`DataAwarePairing`: an object whose :meth:`~DataAwarePairing.prepare` is called once,
  when the job is built, with the job's :class:`~crossmodal.data.training_data.TrainingData` (the two
  sample sets and, on demand, their descriptor values over every item), and returns such a
  function. :func:`descriptor_pairs` is one.

Every batch, every evaluation's fixed pairs and the conditioning report's training pairs are
drawn by the function (:func:`prepare_pairing` makes it), which must draw from the ``rng`` it is
given and from nothing else: a CPU ``torch.Generator`` that checkpoints save, so a resumed run
draws the very batches it would have drawn.

What a job was paired with is recorded in its checkpoints (:func:`pairing_record`); resuming
rebuilds the shipped pairings from that record, whatever the recipe says now
(:func:`recorded_pairing`).

Importing this module imports no torch, so a recipe module that names a pairing loads cheaply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Sequence

from crossmodal.errors import CrossmodalError, RecipeError
from crossmodal.contract.recipe import Pairing, random_pairs

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from crossmodal.data.training_data import TrainingData

__all__ = [
    "TABLE_LIMIT",
    "DataAwarePairing",
    "DescriptorPairs",
    "descriptor_pairs",
    "pairing_record",
    "prepare_pairing",
    "rank_scores",
    "recorded_pairing",
]


class DataAwarePairing:
    """A pairing that sees the training data once, when the job is built.

    Subclass it and implement :meth:`prepare`; give it to a recipe as ``pairing=``. The core
    calls ``prepare(data)`` in :func:`~crossmodal.job.build.build_job` and draws every batch with the
    function it returns. Read what you need from ``data`` there (its descriptor values, computed
    once and shared with the loss terms; the sample sets' sizes, or labels a sample set of yours
    exposes) and keep it in the function, so that a draw costs a few tensor operations.
    """

    def prepare(self, data: TrainingData) -> Pairing:
        """The function ``pairing(n_conditions, n_targets, batch_size, rng) -> (condition_indices,
        target_indices)`` for this data: two int64 tensors ``(batch_size,)``, drawn from ``rng``
        (a CPU ``torch.Generator``) and nothing else.

        :raises RecipeError: the data does not suit this pairing (the message names the recipe
            through ``data.origin``).
        """
        raise NotImplementedError

    def record(self) -> dict[str, Any]:
        """What checkpoints record of this pairing, as JSON types: ``{"name": ..., "options": {...}}``.

        By default the class's import path and no options; a resumed run refuses a recipe whose
        pairing records differently. Override it when the object has options.
        """
        return {"name": f"{type(self).__module__}:{type(self).__qualname__}", "options": {}}


# -------------------------------------------------------------------------------------------
# Unpaired data matched by descriptors
# -------------------------------------------------------------------------------------------


def rank_scores(values: torch.Tensor) -> torch.Tensor:
    """Standardised ranks of ``values`` ``(N,)``: float64 ``(N,)``, mean 0 and standard deviation 1
    over the finite values, which are ranked 1..n with ties sharing their mean rank; NaN (an
    item the descriptor does not define) scores 0, the middle; all values equal score 0."""
    import torch

    values = torch.as_tensor(values).double().reshape(-1)
    scores = torch.zeros_like(values)
    finite = torch.isfinite(values)
    if not bool(finite.any()):
        return scores
    _, inverse, counts = torch.unique(values[finite], return_inverse=True, return_counts=True)
    last = counts.cumsum(0).double()  # rank of the last item of each distinct value
    ranks = (last - (counts.double() - 1) / 2)[inverse]  # ties share their mean rank
    centred = ranks - ranks.mean()
    spread = centred.pow(2).mean().sqrt()
    scores[finite] = centred / spread if spread > 0 else centred * 0
    return scores


TABLE_LIMIT = 2**24
"""Most (condition, target) entries of the table of cumulative probabilities that
:func:`descriptor_pairs` keeps (128 MiB of float64); above it each batch computes the rows of
its conditions afresh: the same draws, more slowly."""


class _DescriptorDraw:
    """The function :meth:`DescriptorPairs.prepare` returns.

    Holds the rank scores of every condition ``(N_c, K)`` and target ``(N_t, K)`` along the K
    couplings (target scores times the sign) and, when it fits in :data:`TABLE_LIMIT`, the
    table of every condition's row (:meth:`rows`), flattened: rows increase from one condition
    to the next, so a draw is one binary search of ``c + u`` (``u ~ U[0, 1)``) in the table.
    """

    def __init__(self, condition_scores: torch.Tensor, target_scores: torch.Tensor, temperature: float) -> None:
        import torch

        self.condition_scores, self.target_scores = condition_scores, target_scores
        self.temperature = temperature
        n_conditions, n_targets = condition_scores.shape[0], target_scores.shape[0]
        self.table = None
        if not math.isinf(temperature) and n_conditions * n_targets <= TABLE_LIMIT:
            self.table = self.rows(torch.arange(n_conditions)).reshape(-1)  # (N_c * N_t,)

    def rows(self, conditions: torch.Tensor) -> torch.Tensor:
        """``c + P(target <= j | c)`` for conditions ``c`` int64 ``(n,)``: float64 ``(n, N_t)``, in
        ``(c, c + 1]``, non-decreasing along each row. ``P`` comes from the weights
        ``exp(-(distance - nearest) / temperature)``, or, at temperature 0, 1 for the nearest
        targets only."""
        import torch

        couplings = self.condition_scores.shape[1]
        distance = torch.cdist(self.condition_scores[conditions], self.target_scores,
                               compute_mode="donot_use_mm_for_euclid_dist") / math.sqrt(couplings)  # (n, N_t)
        nearest = distance.min(dim=1, keepdim=True).values  # (n, 1)
        if self.temperature == 0:
            weights = (distance <= nearest).double()  # the nearest targets, equally likely
        else:
            weights = torch.exp(-(distance - nearest) / self.temperature)  # largest 1
        cumulative = weights.cumsum(dim=1)
        return conditions.double()[:, None] + cumulative / cumulative[:, -1:]

    def __call__(self, n_conditions: int, n_targets: int, batch_size: int,
                 rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        expected = (self.condition_scores.shape[0], self.target_scores.shape[0])
        if (n_conditions, n_targets) != expected:
            raise ValueError(f"descriptor pairs were prepared for {expected[0]} conditions and {expected[1]} "
                             f"targets, not {n_conditions} and {n_targets}")
        conditions = torch.randint(n_conditions, (batch_size,), generator=rng)
        if math.isinf(self.temperature):  # the paper's pairing, draw for draw
            return conditions, torch.randint(n_targets, (batch_size,), generator=rng)
        draw = conditions.double() + torch.rand(batch_size, generator=rng, dtype=torch.float64)  # c + u
        if self.table is not None:
            found = torch.searchsorted(self.table, draw, right=True) - conditions * n_targets
        else:
            found = torch.searchsorted(self.rows(conditions), draw[:, None], right=True).squeeze(1)
        return conditions, found.clamp(0, n_targets - 1)


@dataclass(frozen=True)
class DescriptorPairs(DataAwarePairing):
    """Unpaired data, paired by descriptors: each condition is drawn with targets whose descriptors
    rank like its own.

    Every condition gets a score per coupling ``(condition descriptor, sample descriptor, sign)``:
    its condition descriptor's standardised rank among all conditions (:func:`rank_scores`);
    every target gets ``sign`` times its sample descriptor's standardised rank among all targets.
    The distance of a (condition, target) pair is the root mean square of their score
    differences over the couplings, in standard deviations of rank. For each drawn condition
    (uniformly), a target is drawn with probability proportional to
    ``exp(-distance / temperature)``:

    - ``temperature = inf``: every target equally likely, draw for draw the batches of
      :func:`~crossmodal.contract.recipe.random_pairs` (the Jukepix paper);
    - ``temperature = 0``: only the nearest targets, equally likely (the brightest painting with
      the highest phrases for ``("brightness", "mean-pitch", +1)``);
    - in between: a target ``temperature`` rank-SDs further away is ``e`` times less likely.

    The descriptors are the recipe's ``condition_descriptor`` and ``sample_descriptor``.

    :param couplings: ``(condition descriptor, sample descriptor, sign)`` triples, sign ``+1``
        (higher goes with higher) or ``-1``; a pair ``(condition, sample)`` means sign ``+1``.
    :param temperature: ``>= 0``, in standard deviations of rank; ``math.inf`` allowed.
    """

    couplings: tuple[tuple[str, str, int], ...]
    temperature: float = 0.5

    name: ClassVar[str] = "descriptor_pairs"

    def __post_init__(self) -> None:
        couplings = []
        for coupling in self.couplings:
            parts = tuple(coupling) if isinstance(coupling, (tuple, list)) else ()
            if len(parts) == 2:
                parts = (*parts, 1)
            if (len(parts) != 3 or not all(isinstance(part, str) and part for part in parts[:2])
                    or parts[2] not in (1, -1) or isinstance(parts[2], bool)):
                raise RecipeError(
                    f"descriptor_pairs: coupling {coupling!r} is not (condition descriptor, sample descriptor, "
                    "sign) with sign +1 or -1, e.g. ('lightness', 'level', +1)"
                )
            couplings.append((parts[0], parts[1], int(parts[2])))
        if not couplings:
            raise RecipeError(
                "descriptor_pairs needs at least one (condition descriptor, sample descriptor, sign) coupling")
        try:
            temperature = float(self.temperature)
        except (TypeError, ValueError):
            temperature = math.nan
        if not temperature >= 0:
            raise RecipeError(
                f"descriptor_pairs: temperature must be a number >= 0 (inf allowed), not {self.temperature!r}")
        object.__setattr__(self, "couplings", tuple(couplings))
        object.__setattr__(self, "temperature", temperature)

    def prepare(self, data: TrainingData) -> Pairing:
        import torch

        sides = []
        for position, values in ((0, data.condition_descriptors), (1, data.target_descriptors)):
            missing = sorted({coupling[position] for coupling in self.couplings} - set(values))
            if missing:
                field = ("condition_descriptor", "sample_descriptor")[position]
                raise RecipeError(
                    f"{data.origin}: descriptor_pairs couples {', '.join(map(repr, missing))}, which the recipe's "
                    f"{field} does not describe; it describes {', '.join(map(repr, values)) or 'nothing'}"
                )
            sides.append(values)
        conditions, targets = sides
        condition_scores = torch.stack([rank_scores(conditions[c]) for c, _, _ in self.couplings], dim=1)
        target_scores = torch.stack([sign * rank_scores(targets[s]) for _, s, sign in self.couplings], dim=1)
        return _DescriptorDraw(condition_scores, target_scores, self.temperature)

    def record(self) -> dict[str, Any]:
        temperature = "inf" if math.isinf(self.temperature) else self.temperature  # JSON has no infinity
        return {"name": self.name, "options": {"couplings": [list(c) for c in self.couplings],
                                               "temperature": temperature}}


def descriptor_pairs(couplings: Sequence[Sequence[Any]], temperature: float = 0.5) -> DescriptorPairs:
    """Pair unpaired data by descriptors (:class:`DescriptorPairs`); for a recipe, e.g.
    ``pairing=descriptor_pairs([("brightness", "mean-pitch", +1)], temperature=0.5)``.

    :param couplings: ``(condition descriptor, sample descriptor, sign)`` triples.
    :param temperature: ``0`` (nearest ranks only) to ``math.inf`` (random pairs).
    :raises RecipeError: a malformed coupling or a negative temperature.
    """
    return DescriptorPairs(tuple(tuple(c) for c in couplings), temperature)


# -------------------------------------------------------------------------------------------
# What the core does with a recipe's pairing
# -------------------------------------------------------------------------------------------

_SHIPPED: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "random_pairs": lambda options: random_pairs,
    "descriptor_pairs": lambda options: DescriptorPairs(
        tuple(tuple(c) for c in options["couplings"]), float(options["temperature"])),
}
"""Recorded name -> rebuilds the shipped pairing from its recorded options."""


def pairing_record(pairing: Any) -> dict[str, Any]:
    """What checkpoints record of ``pairing``: ``{"name": ..., "options": {...}}`` (JSON types).

    A :class:`DataAwarePairing` records itself (:meth:`DataAwarePairing.record`);
    :func:`random_pairs` is ``random_pairs``; another function its import path
    (``"module:qualified.name"``).
    """
    if isinstance(pairing, DataAwarePairing):
        return pairing.record()
    if pairing is random_pairs:
        return {"name": "random_pairs", "options": {}}
    module = getattr(pairing, "__module__", None) or type(pairing).__module__
    name = getattr(pairing, "__qualname__", None) or type(pairing).__qualname__
    return {"name": f"{module}:{name}", "options": {}}


def recorded_pairing(record: Mapping[str, Any], current: Any, origin: str,
                     error: type[CrossmodalError] = RecipeError) -> Any:
    """The pairing a resumed job draws with: a shipped pairing rebuilt from ``record``; else the
    recipe's ``current`` one, which must record the same; ``current`` when nothing was recorded
    (checkpoints written before pairings were recorded).

    :raises error: the record cannot be rebuilt, or ``current`` records differently.
    """
    if not record:
        return current
    name = record.get("name")
    if name in _SHIPPED:
        try:
            return _SHIPPED[name](record.get("options", {}))
        except (KeyError, TypeError, ValueError, RecipeError) as err:
            raise error(f"{origin}: the recorded pairing {dict(record)!r} cannot be rebuilt ({err})") from err
    now = pairing_record(current)
    if now != dict(record):
        raise error(
            f"{origin}: the run was trained with pairing {_shown_record(record)}, but the recipe now pairs with "
            f"{_shown_record(now)}; a resumed run keeps its pairing: restore it in the recipe, or start a new run"
        )
    return current


def _shown_record(record: Mapping[str, Any]) -> str:
    options = record.get("options") or {}
    return repr(record.get("name")) + (f" with {dict(options)!r}" if options else "")


def prepare_pairing(pairing: Any, data: TrainingData) -> Pairing:
    """The function that draws ``(condition_indices, target_indices)`` for ``pairing`` on ``data``:
    a plain function as it is, a :class:`DataAwarePairing` prepared on ``data``.

    :raises RecipeError: ``pairing`` is neither, or its ``prepare`` returned no function.
    """
    if isinstance(pairing, DataAwarePairing):
        prepared = pairing.prepare(data)
        if not callable(prepared):
            raise RecipeError(f"{data.origin}: {type(pairing).__name__}.prepare() returned a "
                              f"{type(prepared).__name__}, not a pairing function")
        return prepared
    if callable(pairing):
        return pairing
    raise RecipeError(
        f"{data.origin}: pairing must be a function (n_conditions, n_targets, batch_size, rng) or a "
        f"crossmodal.DataAwarePairing, not a {type(pairing).__name__}"
    )
