"""Pairings: which target each condition of a training batch is drawn with.

A pairing is a registered entry of kind ``pairing``: its factory, ``factory(data, **options)``,
is called once when the job is built with the job's
:class:`~crossmodal.data.training_data.TrainingData` (the two sample sets and, on demand, their
descriptor values over every item) and returns the function that draws every batch,
``pairing(n_conditions, n_targets, batch_size, rng) -> (condition_indices, target_indices)``
(:data:`~crossmodal.contract.recipe.Pairing`). A recipe names it like a network,
``pairing=ComponentSpec("descriptor-pairs", {"couplings": [...], "temperature": 0.5})``; the
default is ``ComponentSpec("random-pairs")``. The core registers two, in every registry
:func:`~crossmodal.contract.plugins.load_plugins` builds (plugin ``crossmodal``):

- ``random-pairs`` (:func:`random_pairing`): conditions and targets drawn independently, the
  Jukepix paper's;
- ``descriptor-pairs`` (:func:`descriptor_pairing`): unpaired data matched by descriptors.

Every batch, every evaluation's fixed pairs and the conditioning report's training pairs are
drawn by the function (:func:`prepare_pairing` makes it), which must draw from the ``rng`` it is
given and from nothing else: a CPU ``torch.Generator`` that checkpoints save, so a resumed run
draws the very batches it would have drawn.

What a job was paired with is recorded in its checkpoints by name and options
(:func:`pairing_record`); resuming rebuilds it from that record through the registry, whatever
the recipe says now (:func:`recorded_pairing`). Records written by crossmodal 0.2.0 name
``random_pairs`` and ``descriptor_pairs`` (:data:`OLD_NAMES`).

Deprecated since crossmodal 0.2.1, removed in 0.4: a recipe whose pairing is a function or a
:class:`DataAwarePairing` (:func:`recipe_pairing` warns), and :func:`descriptor_pairs`.

Importing this module imports no torch, so a recipe module that names a pairing loads cheaply.
"""

from __future__ import annotations

import json
import math
import warnings
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from crossmodal.contract.components import create_component
from crossmodal.errors import CrossmodalError, RecipeError
from crossmodal.contract.recipe import RANDOM_PAIRS, ComponentSpec, Pairing, random_pairs

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from crossmodal.contract.registry import Registry
    from crossmodal.data.training_data import TrainingData

__all__ = [
    "OLD_NAMES",
    "TABLE_LIMIT",
    "DataAwarePairing",
    "descriptor_pairing",
    "descriptor_pairs",
    "pairing_record",
    "prepare_pairing",
    "random_pairing",
    "rank_scores",
    "recipe_pairing",
    "recorded_pairing",
]

OLD_NAMES = {"random_pairs": "random-pairs", "descriptor_pairs": "descriptor-pairs"}
"""The pairing names checkpoints of crossmodal 0.2.0 record -> the registered names that rebuild them."""

_REMOVED_IN = "removed in crossmodal 0.4"


class DataAwarePairing:
    """A pairing that sees the training data once, when the job is built (crossmodal 0.2.0's form).

    Deprecated since crossmodal 0.2.1, removed in 0.4: register the body of :meth:`prepare` as a
    ``pairing``, ``register("pairing", "my-pairs", factory)`` with ``factory(data, **options)``
    returning the draw function, and name it ``pairing=ComponentSpec("my-pairs", {...})``.

    Subclass it and implement :meth:`prepare`; give it to a recipe as ``pairing=``. The core
    calls ``prepare(data)`` in :func:`~crossmodal.job.build.build_job` and draws every batch with
    the function it returns.
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
:func:`descriptor_pairing` keeps (128 MiB of float64); above it each batch computes the rows of
its conditions afresh: the same draws, more slowly."""


class _DescriptorDraw:
    """The function :func:`descriptor_pairing` returns.

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



def _couplings(couplings: Any, origin: str) -> list[list[Any]]:
    """``couplings`` as ``[condition descriptor, sample descriptor, sign]`` lists, a pair meaning
    sign ``+1``. :raises RecipeError: a malformed coupling, or none."""
    checked = []
    for coupling in couplings if isinstance(couplings, (tuple, list)) else [couplings]:
        parts = tuple(coupling) if isinstance(coupling, (tuple, list)) else ()
        if len(parts) == 2:
            parts = (*parts, 1)
        if (len(parts) != 3 or not all(isinstance(part, str) and part for part in parts[:2])
                or parts[2] not in (1, -1) or isinstance(parts[2], bool)):
            raise RecipeError(
                f"{origin}: coupling {coupling!r} is not (condition descriptor, sample descriptor, sign) with "
                "sign +1 or -1, e.g. ('lightness', 'level', +1)"
            )
        checked.append([parts[0], parts[1], int(parts[2])])
    if not checked:
        raise RecipeError(f"{origin} needs at least one (condition descriptor, sample descriptor, sign) coupling")
    return checked


def _temperature(temperature: Any, origin: str) -> float:
    """``temperature`` as a float ``>= 0`` (``inf`` and ``"inf"`` allowed). :raises RecipeError: otherwise."""
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        value = math.nan
    if not value >= 0:
        raise RecipeError(f"{origin}: temperature must be a number >= 0 (inf allowed), not {temperature!r}")
    return value


def random_pairing(data: TrainingData) -> Pairing:
    """Pair conditions and targets independently and uniformly: the function
    :func:`~crossmodal.contract.recipe.random_pairs` (unpaired data, the Jukepix paper's pairing)."""
    return random_pairs


def descriptor_pairing(data: TrainingData, couplings: Sequence[Sequence[Any]], temperature: float | str = 0.5) -> Pairing:
    """Pair unpaired data by descriptors: each condition is drawn with targets whose descriptors rank like its own.

    Every condition gets a score per coupling ``(condition descriptor, sample descriptor, sign)``:
    its condition descriptor's standardised rank among all conditions (:func:`rank_scores`);
    every target gets ``sign`` times its sample descriptor's standardised rank among all targets.
    The distance of a (condition, target) pair is the root mean square of their score
    differences over the couplings, in standard deviations of rank. For each drawn condition
    (uniformly), a target is drawn with probability proportional to
    ``exp(-distance / temperature)``:

    - ``temperature = inf``: every target equally likely, draw for draw the batches of
      ``random-pairs`` (the Jukepix paper);
    - ``temperature = 0``: only the nearest targets, equally likely (the brightest painting with
      the highest phrases for ``("brightness", "mean-pitch", +1)``);
    - in between: a target ``temperature`` rank-SDs further away is ``e`` times less likely.

    The descriptors are the recipe's ``condition_descriptor`` and ``sample_descriptor``; a recipe
    names it ``pairing=ComponentSpec("descriptor-pairs", {"couplings": [("brightness",
    "mean-pitch", +1)], "temperature": 0.5})``.

    :param couplings: ``(condition descriptor, sample descriptor, sign)`` triples, sign ``+1``
        (higher goes with higher) or ``-1``; a pair ``(condition, sample)`` means sign ``+1``.
    :param temperature: ``>= 0``, in standard deviations of rank; ``math.inf`` (or ``"inf"``,
        which JSON records) allowed.
    :raises RecipeError: a malformed coupling, a negative temperature, or a descriptor the
        recipe's descriptors do not describe.
    """
    import torch

    where = f"{data.origin}: descriptor-pairs"
    couplings, temperature = _couplings(couplings, where), _temperature(temperature, where)
    sides = []
    for position, values in ((0, data.condition_descriptors), (1, data.target_descriptors)):
        missing = sorted({coupling[position] for coupling in couplings} - set(values))
        if missing:
            field = ("condition_descriptor", "sample_descriptor")[position]
            raise RecipeError(
                f"{where} couples {', '.join(map(repr, missing))}, which the recipe's {field} does not describe; "
                f"it describes {', '.join(map(repr, values)) or 'nothing'}"
            )
        sides.append(values)
    conditions, targets = sides
    condition_scores = torch.stack([rank_scores(conditions[c]) for c, _, _ in couplings], dim=1)
    target_scores = torch.stack([sign * rank_scores(targets[s]) for _, s, sign in couplings], dim=1)
    return _DescriptorDraw(condition_scores, target_scores, temperature)


def descriptor_pairs(couplings: Sequence[Sequence[Any]], temperature: float = 0.5) -> ComponentSpec:
    """``ComponentSpec("descriptor-pairs", {"couplings": ..., "temperature": ...})``, the couplings checked now.

    Deprecated since crossmodal 0.2.1 (removed in 0.4): write the :class:`ComponentSpec` itself.

    :raises RecipeError: a malformed coupling or a negative temperature.
    """
    value = _temperature(temperature, "descriptor_pairs")
    return ComponentSpec("descriptor-pairs", {"couplings": _couplings(couplings, "descriptor_pairs"),
                                              "temperature": "inf" if math.isinf(value) else value})


# -------------------------------------------------------------------------------------------
# What the core does with a recipe's pairing
# -------------------------------------------------------------------------------------------


def _deprecated(note: str) -> None:
    warnings.warn(f"{note}; {_REMOVED_IN}", DeprecationWarning, stacklevel=3)


def recipe_pairing(pairing: Any, origin: str) -> Any:
    """A recipe's ``pairing`` as the core uses it: a :class:`ComponentSpec` as it is; the
    deprecated forms with a ``DeprecationWarning`` saying how to port them (``random_pairs``
    becomes :data:`~crossmodal.contract.recipe.RANDOM_PAIRS`; a function or a
    :class:`DataAwarePairing` is kept).

    :raises RecipeError: ``pairing`` is none of these.
    """
    if isinstance(pairing, ComponentSpec):
        return pairing
    if pairing is random_pairs:
        _deprecated("pairing=random_pairs is deprecated since crossmodal 0.2.1: it is the default; leave pairing out, "
                    "or name the registered pairing, pairing=ComponentSpec('random-pairs')")
        return RANDOM_PAIRS
    port = ("register it as a pairing, register('pairing', 'my-pairs', factory) where factory(data, **options) "
            "returns the draw function, and name it, pairing=ComponentSpec('my-pairs', {...})")
    if isinstance(pairing, DataAwarePairing):
        _deprecated(f"pairing={type(pairing).__name__}(...), a DataAwarePairing, is deprecated since crossmodal "
                    f"0.2.1: {port}")
        return pairing
    if callable(pairing):
        _deprecated(f"pairing={getattr(pairing, '__name__', type(pairing).__name__)}, a function, is deprecated since "
                    f"crossmodal 0.2.1: {port}")
        return pairing
    raise _not_a_pairing(pairing, origin)


def _not_a_pairing(pairing: Any, origin: str) -> RecipeError:
    return RecipeError(
        f"{origin}: pairing must be a ComponentSpec naming a registered pairing (crossmodal list-components --kind "
        f"pairing), not a {type(pairing).__name__}"
    )


def pairing_record(pairing: Any) -> dict[str, Any]:
    """What checkpoints record of ``pairing``: ``{"name": ..., "options": {...}}``.

    A :class:`ComponentSpec` its name and options; the deprecated forms: a
    :class:`DataAwarePairing` its :meth:`DataAwarePairing.record`, another function its import
    path (``"module:qualified.name"``).
    """
    if isinstance(pairing, ComponentSpec):
        return {"name": pairing.name, "options": dict(pairing.options)}
    if isinstance(pairing, DataAwarePairing):
        return pairing.record()
    if pairing is random_pairs:
        return pairing_record(RANDOM_PAIRS)
    module = getattr(pairing, "__module__", None) or type(pairing).__module__
    name = getattr(pairing, "__qualname__", None) or type(pairing).__qualname__
    return {"name": f"{module}:{name}", "options": {}}


def recorded_pairing(record: Mapping[str, Any], current: Any, origin: str,
                     error: type[CrossmodalError] = RecipeError, registry: Registry | None = None) -> Any:
    """The pairing a resumed job draws with: the recorded one, whatever the recipe's ``current``
    one is now; ``current`` when nothing was recorded (checkpoints written before pairings were
    recorded).

    A record naming a registered pairing (``registry``; default: the core's own,
    :func:`~crossmodal.contract.plugins.core_registry`), or one of :data:`OLD_NAMES`, becomes its
    :class:`ComponentSpec`; one of a deprecated form is ``current`` when that records the same.

    :raises error: the record is of a deprecated form and ``current`` records differently.
    """
    if not record:
        return current
    name = OLD_NAMES.get(record.get("name"), record.get("name"))
    if not isinstance(current, ComponentSpec) and _as_json(pairing_record(current)) == _as_json(dict(record)):
        return current
    if registry is None:
        from crossmodal.contract.plugins import core_registry

        registry = core_registry()
    if isinstance(name, str) and ":" not in name and (name in registry.names("pairing")
                                                     or isinstance(current, ComponentSpec)):
        return ComponentSpec(name, dict(record.get("options") or {}))
    raise error(
        f"{origin}: the run was trained with pairing {_shown_record(record)}, but the recipe now pairs with "
        f"{_shown_record(pairing_record(current))}; a resumed run keeps its pairing: restore it in the recipe, or "
        "start a new run"
    )


def _as_json(record: Any) -> Any:
    """``record`` as JSON would give it back (tuples as lists), to compare a record with a recorded one."""
    try:
        return json.loads(json.dumps(record))
    except (TypeError, ValueError):
        return record


def _shown_record(record: Mapping[str, Any]) -> str:
    options = record.get("options") or {}
    return repr(record.get("name")) + (f" with {dict(options)!r}" if options else "")


def prepare_pairing(pairing: Any, data: TrainingData, registry: Registry | None = None, origin: str = "",
                    error: type[CrossmodalError] = RecipeError) -> Pairing:
    """The function that draws ``(condition_indices, target_indices)`` for ``pairing`` on ``data``:
    a :class:`ComponentSpec` built by its registered factory, ``factory(data=data, **options)``
    (``registry``; default: the core's own, :func:`~crossmodal.contract.plugins.core_registry`);
    the deprecated forms: a plain function as it is, a :class:`DataAwarePairing` prepared on ``data``.

    :param origin: names the recipe or checkpoint in messages (default ``data.origin``).
    :raises error: the factory fails on its options or builds no function.
    :raises RecipeError: ``pairing`` is none of these, or the data does not suit it.
    :raises UnknownComponentError: no pairing is registered under the name.
    """
    origin = origin or data.origin
    if isinstance(pairing, ComponentSpec):

        if registry is None:
            from crossmodal.contract.plugins import core_registry

            registry = core_registry()
        prepared = create_component(registry, "pairing", pairing, origin, error=error, data=data)
        made_by = f"pairing {pairing.name!r} from {registry.get('pairing', pairing.name).provider}"
    elif isinstance(pairing, DataAwarePairing):
        prepared, made_by = pairing.prepare(data), f"{type(pairing).__name__}.prepare()"
    elif callable(pairing):
        return pairing
    else:
        raise _not_a_pairing(pairing, origin)
    if not callable(prepared):
        raise error(f"{origin}: {made_by} built a {type(prepared).__name__}, not a pairing function "
                    "(n_conditions, n_targets, batch_size, rng)")
    return prepared
