"""Extra loss terms: registered by name, as a recipe names them, and as the trainer runs them.

A loss term is a registered entry of kind ``loss-term``: ``factory(data, **options)`` returns a
``torch.nn.Module`` whose ``forward(context)`` returns a scalar tensor (the context is
:class:`~crossmodal.contract.recipe.LossTerm`'s). A recipe names it like a network,
``generator_losses=(ComponentSpec("information", {"weight": 5.0}),)``. When the job is built
(:func:`build_terms`) the core takes the ``weight`` option (default 1) out of the options, calls
the factory once with the job's :class:`~crossmodal.data.training_data.TrainingData` and the
other options, and hands the trainer one :class:`~crossmodal.contract.recipe.LossTerm` record per
term: the term is logged as ``generator/<name>`` (or ``critic/<name>``) under its registered
name, so a name appears once in a recipe; the module's parameters are trained with the optimiser
of its side and, with its buffers, saved in checkpoints under that name (a module that holds
neither is not).

Checkpoints record the terms by name and options (:func:`terms_record`); resuming rebuilds them
from that record (:func:`recorded_terms`). Checkpoints of crossmodal 0.2.0 record none, and
neither does a recipe holding a deprecated :class:`~crossmodal.contract.recipe.LossTerm` object
(the 0.2.0 form, which warns: :func:`recipe_terms`): those take the recipe's terms.

Importing this module imports no torch.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, Mapping

from crossmodal.contract.components import check_options, create_component
from crossmodal.errors import CrossmodalError, RecipeError
from crossmodal.contract.recipe import ComponentSpec, LossTerm, Recipe

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from crossmodal.contract.registry import Registry
    from crossmodal.data.training_data import TrainingData

__all__ = ["SIDES", "build_terms", "check_terms", "recipe_terms", "recorded_terms", "terms_record"]

SIDES = ("generator_losses", "critic_losses")
"""The recipe fields that hold extra loss terms, and the keys of their record."""

Terms = Mapping[str, tuple[Any, ...]]
"""Side (:data:`SIDES`) -> its terms: each a :class:`ComponentSpec`, or a deprecated :class:`LossTerm`."""


def recipe_terms(recipe: Recipe, origin: str) -> dict[str, tuple[Any, ...]]:
    """The recipe's loss terms by side; a :class:`LossTerm` object (deprecated) warns with its porting note.

    :raises RecipeError: a side is not a tuple of :class:`ComponentSpec` (or :class:`LossTerm`) objects.
    """
    sides = {}
    for side in SIDES:
        terms = getattr(recipe, side)
        if not isinstance(terms, (tuple, list)) or not all(isinstance(t, (ComponentSpec, LossTerm)) for t in terms):
            raise RecipeError(f"{origin}: {side} must be a tuple of ComponentSpecs naming registered loss terms "
                              f"(crossmodal list-components --kind loss-term), not {terms!r}")
        for term in terms:
            if isinstance(term, LossTerm):
                warnings.warn(
                    f"{side}=(LossTerm({term.name!r}, ...),) is deprecated since crossmodal 0.2.1: register the term, "
                    f"register('loss-term', {term.name!r}, factory) where factory(data, **options) returns a "
                    f"torch.nn.Module whose forward(context) returns the loss, and name it, "
                    f"{side}=(ComponentSpec({term.name!r}, {{'weight': {term.weight!r}}}),); removed in crossmodal 0.4",
                    DeprecationWarning, stacklevel=3)
        sides[side] = tuple(terms)
    return sides


def terms_record(sides: Terms) -> dict[str, Any]:
    """What checkpoints record of the terms: ``{side: [{"name": ..., "options": {...}}, ...]}``
    (the options with the ``weight``); ``{}`` when a deprecated :class:`LossTerm` is among them."""
    if any(isinstance(term, LossTerm) for terms in sides.values() for term in terms):
        return {}
    return {side: [{"name": term.name, "options": dict(term.options)} for term in sides[side]] for side in SIDES}


def recorded_terms(record: Mapping[str, Any], current: Terms, origin: str,
                   error: type[CrossmodalError] = RecipeError) -> dict[str, tuple[Any, ...]]:
    """The terms a rebuilt job trains: the recorded ones, whatever the recipe names now;
    ``current`` when nothing was recorded.

    :raises error: the record cannot be read.
    """
    if not record:
        return dict(current)
    try:
        return {side: tuple(ComponentSpec(str(entry["name"]), dict(entry.get("options") or {}))
                            for entry in record.get(side, ())) for side in SIDES}
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise error(f"{origin}: the recorded loss terms {dict(record)!r} cannot be read ({err})") from err


def _weighed(term: ComponentSpec, origin: str, error: type[CrossmodalError]) -> tuple[float, ComponentSpec]:
    """``(weight, the spec without it)``. :raises error: a weight that is not a finite number."""
    options = dict(term.options)
    weight = options.pop("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
        raise error(f"{origin}: loss-term {term.name!r} has weight {weight!r}; a weight is a finite number")
    return float(weight), ComponentSpec(term.name, options)


def check_terms(registry: Registry, sides: Terms, origin: str, error: type[CrossmodalError] = RecipeError) -> None:
    """Before anything is built: every named term is registered, takes its options (``weight``
    aside) and appears once in the recipe; deprecated terms that own a module have distinct names.

    :raises error: an option the factory does not take, or a bad weight.
    :raises RecipeError: a name twice.
    :raises UnknownComponentError: a name nothing is registered under.
    """

    named: list[str] = []
    for side in SIDES:
        for term in sides[side]:
            if isinstance(term, LossTerm):
                if term.module is not None and term.name in named:
                    raise RecipeError(f"{origin}: two extra loss terms named {term.name!r} own a module; "
                                      "name them apart")
                named += [term.name] if term.module is not None else []
                continue
            if term.name in named:
                raise RecipeError(f"{origin}: two extra loss terms are named {term.name!r}; a term is logged and saved "
                                  "under its registered name, so a recipe names it once")
            named.append(term.name)
            check_options(registry, "loss-term", _weighed(term, origin, error)[1], origin, extra=("data",), error=error)


def _module_loss(context: Mapping[str, Any]) -> torch.Tensor:
    """The ``fn`` of a registered term: its module (``context["module"]``) called with the context."""
    return context["module"]({key: value for key, value in context.items() if key != "module"})


def build_terms(registry: Registry, sides: Terms, data: TrainingData, origin: str,
                error: type[CrossmodalError] = RecipeError) -> tuple[dict[str, tuple[LossTerm, ...]], dict[str, nn.Module]]:
    """Build every term (:func:`check_terms` first): ``({side: LossTerm records}, {name: module})``,
    the modules of the terms that hold parameters or buffers (the others are called from ``fn``).

    A deprecated :class:`LossTerm` stays as it is, its module (if it owns one) built by ``module(data)``.

    :raises RecipeError: a factory built no ``torch.nn.Module``.
    """
    from torch import nn


    check_terms(registry, sides, origin, error)
    resolved: dict[str, tuple[LossTerm, ...]] = {}
    modules: dict[str, nn.Module] = {}
    for side in SIDES:
        records = []
        for term in sides[side]:
            if isinstance(term, LossTerm):
                module = None if term.module is None else term.module(data)
                made_by = f"the module factory of {side} term {term.name!r}"
            else:
                weight, options = _weighed(term, origin, error)
                module = create_component(registry, "loss-term", options, origin, error=error, data=data)
                made_by = f"loss-term {term.name!r} from {registry.get('loss-term', term.name).provider}"
            if module is not None and not isinstance(module, nn.Module):
                raise RecipeError(f"{origin}: {made_by} built a {type(module).__name__}, not a torch.nn.Module")
            if isinstance(term, ComponentSpec):
                stateful = any(True for _ in module.parameters()) or any(True for _ in module.buffers())
                fn = _module_loss if stateful else (lambda context, module=module: module(context))
                term = LossTerm(term.name, fn, weight, None if not stateful else (lambda data, module=module: module))
            if term.module is not None:
                modules[term.name] = module
            records.append(term)
        resolved[side] = tuple(records)
    return resolved, modules
