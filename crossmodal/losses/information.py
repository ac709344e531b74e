"""The information term (InfoGAN-style) as a recipe loss term: the condition must be readable
from the sample.

:func:`information_term` returns a :class:`~crossmodal.contract.recipe.LossTerm` for a recipe's
``generator_losses``. When the job is built, its module factory (:class:`InformationFactory`)
standardises the recipe's condition descriptor over every condition and builds an
:class:`~crossmodal.losses.wasserstein.InformationLoss`: a head (yours, or
:func:`~crossmodal.losses.wasserstein.flat_information_head`) that predicts those values from a sample. Each
generator update adds ``weight x`` the mean squared error of the head's prediction on the
generated samples; the generator's optimiser trains the head and the generator on it together.

The core knows no modality here either: the targets are whatever the condition descriptor
describes, and the head is given the sample shape. Importing this module imports no torch, so a
recipe module that names the term loads cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from crossmodal.errors import RecipeError
from crossmodal.contract.recipe import LossTerm
from crossmodal.contract.registry import import_object, is_import_path

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from crossmodal.data.training_data import TrainingData

__all__ = [
    "InformationFactory",
    "information_loss",
    "information_term",
]

Head = Callable[..., "nn.Module"]
"""``head(sample_shape=(...), n_outputs=D, **head_options)`` -> a module mapping samples
``(B, *sample_shape)`` in [0, 1] to predictions ``(B, D)``."""


def information_loss(context: Mapping[str, Any]) -> torch.Tensor:
    """The term's ``fn``: its module's loss on the generated samples and their conditions."""
    return context["module"](context["fake"], context["condition_indices"])


@dataclass(frozen=True)
class InformationFactory:
    """The term's ``module`` factory: builds the :class:`~crossmodal.losses.wasserstein.InformationLoss` for a job.

    :param head: a :data:`Head`, its import path (``"package.module:Attribute"``, imported when
        the job is built), or ``None`` for :func:`~crossmodal.losses.wasserstein.flat_information_head`.
    :param descriptors: which of the condition descriptor's values to predict (``None``: all).
    :param head_options: more keyword arguments for ``head``.
    """

    head: Head | str | None = None
    descriptors: tuple[str, ...] | None = None
    head_options: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, data: TrainingData) -> nn.Module:
        import torch

        from crossmodal.evaluation.conditioning import standardize
        from crossmodal.losses.wasserstein import InformationLoss

        values = data.condition_descriptors
        names = list(self.descriptors) if self.descriptors is not None else list(values)
        missing = [name for name in names if name not in values]
        if missing or not names:
            raise RecipeError(
                f"{data.origin}: the information term predicts {', '.join(map(repr, missing)) or 'no value'}, but the "
                f"recipe's condition_descriptor describes {', '.join(map(repr, values)) or 'nothing'}"
            )
        targets = standardize(torch.stack([values[name] for name in names], dim=1))  # (N_conditions, D)
        module = _build_head(self.head, data, len(names), self.head_options)
        return InformationLoss(module, targets, names)


def _check_head(head: Head | str | None) -> None:
    """Refuse a string ``head`` that is not an import path."""
    if isinstance(head, str) and not is_import_path(head):
        raise RecipeError(f"information_term: head {head!r} is not an import path such as 'package.module:Head'")


def _build_head(head: Head | str | None, data: TrainingData, n_outputs: int, options: Mapping[str, Any]) -> nn.Module:
    """``head(sample_shape=..., n_outputs=n_outputs, **options)``, importing ``head`` when it is a
    path; :func:`~crossmodal.losses.wasserstein.flat_information_head` when it is ``None``."""
    from crossmodal.losses.wasserstein import flat_information_head

    if head is None:
        head = flat_information_head
    elif isinstance(head, str):
        try:
            head = import_object(head)
        except (ImportError, AttributeError) as err:
            raise RecipeError(f"information term: head {head!r} cannot be imported ({type(err).__name__}: "
                              f"{err})") from err
    return head(sample_shape=tuple(data.targets.sample_shape), n_outputs=n_outputs, **dict(options))


def information_term(
    head: Head | str | None = None,
    *,
    descriptors: Sequence[str] | None = None,
    weight: float = 1.0,
    name: str = "information",
    head_options: Mapping[str, Any] | None = None,
) -> LossTerm:
    """A generator loss term rewarding samples from which the condition's descriptors can be read.

    For a recipe: ``generator_losses=(information_term("my_plugin.heads:PatternHead", weight=1.0),)``,
    with a ``condition_descriptor``. The loss, logged as ``generator/<name>``, is the mean squared
    error, in standard deviations, between the head's predictions from generated samples and the
    conditions' standardised descriptor values: about 1 when the head reads nothing, towards 0
    when it reads the condition back.

    :param head: builds the head, called as ``head(sample_shape=..., n_outputs=D, **head_options)``:
        a callable, its import path (``"package.module:Attribute"``, so the recipe module need not
        import torch), or ``None`` for :func:`~crossmodal.losses.wasserstein.flat_information_head`.
    :param descriptors: the condition descriptor's values to predict (default: all of them).
    :param weight: the term's weight in the generator's loss.
    :param head_options: more keyword arguments for ``head``.
    :raises RecipeError: ``head`` is a string that is not an import path.
    """
    _check_head(head)
    factory = InformationFactory(head, None if descriptors is None else tuple(descriptors), dict(head_options or {}))
    return LossTerm(name, information_loss, weight, module=factory)

