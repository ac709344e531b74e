"""The information term (InfoGAN-style): the condition must be readable from the sample.

The core keeps the generic part: :func:`information_module` standardises the recipe's condition
descriptor over every condition and builds an
:class:`~crossmodal.losses.wasserstein.InformationLoss` around a head that predicts those values
from a sample. A plugin registers its own ``loss-term`` whose factory calls it with the plugin's
head, e.g. Jukepix's ``information``::

    def phrase_information(data, descriptors=None, hidden=64):
        return information_module(data, PhraseInformationHead, descriptors, {"hidden": hidden})

    register("loss-term", "information", "jukepix.information:phrase_information", "...")

and a recipe names it, ``generator_losses=(ComponentSpec("information", {"weight": 5.0}),)``.
Each generator update adds ``weight x`` the mean squared error of the head's prediction on the
generated samples; the generator's optimiser trains the head and the generator on it together.

The core knows no modality here either: the targets are whatever the condition descriptor
describes, and the head is given the sample shape. Importing this module imports no torch.

Deprecated since crossmodal 0.2.1, removed in 0.4: :func:`information_term`, a
:class:`~crossmodal.contract.recipe.LossTerm` with a head given as a callable or an import path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from crossmodal.data.training_data import standardize
from crossmodal.errors import RecipeError
from crossmodal.contract.recipe import LossTerm
from crossmodal.contract.registry import import_object, is_import_path

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from crossmodal.data.training_data import TrainingData
    from crossmodal.losses.wasserstein import InformationLoss

__all__ = [
    "InformationFactory",
    "information_loss",
    "information_module",
    "information_term",
]

Head = Callable[..., "nn.Module"]
"""``head(sample_shape=(...), n_outputs=D, **head_options)`` -> a module mapping samples
``(B, *sample_shape)`` in [0, 1] to predictions ``(B, D)``."""

RETIRED_HEAD = ("the default head, flat_information_head, was retired in crossmodal 0.2.1: no shipped recipe used it; "
                "its code is at commit dc006b2 (docs/benchmarks.md, Retired levers); pass your own head")
"""Why :func:`information_term` without a head fails."""


def information_module(data: TrainingData, head: Head, descriptors: Sequence[str] | None = None,
                       head_options: Mapping[str, Any] | None = None) -> InformationLoss:
    """The information term's module for a job: ``head(sample_shape=..., n_outputs=D,
    **head_options)`` reading back the D standardised values of the recipe's condition descriptor.

    :param data: the job's data; its ``condition_descriptors`` are computed here (once per job).
    :param descriptors: which of the condition descriptor's values to predict (``None``: all).
    :raises RecipeError: the recipe names no condition descriptor, or it describes none of
        ``descriptors``.
    """
    import torch

    from crossmodal.losses.wasserstein import InformationLoss

    values = data.condition_descriptors
    names = list(descriptors) if descriptors is not None else list(values)
    missing = [name for name in names if name not in values]
    if missing or not names:
        raise RecipeError(
            f"{data.origin}: the information term predicts {', '.join(map(repr, missing)) or 'no value'}, but the "
            f"recipe's condition_descriptor describes {', '.join(map(repr, values)) or 'nothing'}"
        )
    targets = standardize(torch.stack([values[name] for name in names], dim=1))  # (N_conditions, D)
    module = head(sample_shape=tuple(data.targets.sample_shape), n_outputs=len(names), **dict(head_options or {}))
    return InformationLoss(module, targets, names)


# -------------------------------------------------------------------------------------------
# Deprecated: the term as a LossTerm, its head by import path (crossmodal 0.2.0)
# -------------------------------------------------------------------------------------------


def information_loss(context: Mapping[str, Any]) -> torch.Tensor:
    """The deprecated term's ``fn``: its module's loss on the generated samples and their conditions."""
    return context["module"](context)


@dataclass(frozen=True)
class InformationFactory:
    """The deprecated term's ``module`` factory: builds the
    :class:`~crossmodal.losses.wasserstein.InformationLoss` for a job (:func:`information_module`).

    :param head: a :data:`Head`, or its import path (``"package.module:Attribute"``, imported when
        the job is built).
    :param descriptors: which of the condition descriptor's values to predict (``None``: all).
    :param head_options: more keyword arguments for ``head``.
    """

    head: Head | str
    descriptors: tuple[str, ...] | None = None
    head_options: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, data: TrainingData) -> nn.Module:
        head = self.head
        if isinstance(head, str):
            try:
                head = import_object(head)
            except (ImportError, AttributeError) as err:
                raise RecipeError(f"information term: head {head!r} cannot be imported ({type(err).__name__}: "
                                  f"{err})") from err
        return information_module(data, head, self.descriptors, self.head_options)


def information_term(
    head: Head | str | None = None,
    *,
    descriptors: Sequence[str] | None = None,
    weight: float = 1.0,
    name: str = "information",
    head_options: Mapping[str, Any] | None = None,
) -> LossTerm:
    """A generator loss term rewarding samples from which the condition's descriptors can be read.

    Deprecated since crossmodal 0.2.1, removed in 0.4: register a ``loss-term`` whose factory
    returns :func:`information_module` with your head, and name it in the recipe,
    ``generator_losses=(ComponentSpec("my-information", {"weight": 1.0}),)``.

    :param head: builds the head, called as ``head(sample_shape=..., n_outputs=D, **head_options)``:
        a callable, or its import path (``"package.module:Attribute"``).
    :param descriptors: the condition descriptor's values to predict (default: all of them).
    :param weight: the term's weight in the generator's loss.
    :param head_options: more keyword arguments for ``head``.
    :raises RecipeError: no ``head`` (the default head was retired), or a string that is not an
        import path.
    """
    if head is None:
        raise RecipeError(f"information_term: {RETIRED_HEAD}")
    if isinstance(head, str) and not is_import_path(head):
        raise RecipeError(f"information_term: head {head!r} is not an import path such as 'package.module:Head'")
    factory = InformationFactory(head, None if descriptors is None else tuple(descriptors), dict(head_options or {}))
    return LossTerm(name, information_loss, weight, module=factory)
