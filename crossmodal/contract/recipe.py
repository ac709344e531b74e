"""Recipes: which components, which data and which defaults make one training job.

A plugin registers a recipe factory as ``register("recipe", name, factory)`` in
:func:`crossmodal.contract.hookspecs.crossmodal_register_components`; ``crossmodal train --plugin NAME``
builds the recipe called ``NAME``. A recipe and its :class:`ComponentSpec` are all a plugin author
writes to describe a job; what was built from them is recorded in checkpoints by the core.
Importing this module imports no torch (:func:`random_pairs` does, when called), so a plugin's
recipe module loads cheaply for ``crossmodal train --help``.

A recipe names its pairing and its extra loss terms like its networks, by registered name
(kinds ``pairing`` and ``loss-term``); the function and :class:`LossTerm` forms of crossmodal
0.2.0 still work until 0.4, with a ``DeprecationWarning`` when the job is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from crossmodal.data.pairing import DataAwarePairing
    from crossmodal.data.training_data import TrainingData

__all__ = ["RANDOM_PAIRS", "ComponentSpec", "LossTerm", "Pairing", "Recipe", "random_pairs"]


@dataclass(frozen=True)
class ComponentSpec:
    """A registered entry's name and the keyword options passed to its factory.

    The kind is implied by the :class:`Recipe` field holding the spec (``temporal`` names a
    ``temporal-source``, ``conditions`` and ``targets`` a ``sample-set``, ``writer`` a
    ``sample-writer``, ``renderer`` a ``sample-renderer``, ``pairing`` a ``pairing``,
    ``generator_losses`` and ``critic_losses`` ``loss-term`` entries).
    """

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


Pairing = Callable[[int, int, int, "torch.Generator"], "tuple[torch.Tensor, torch.Tensor]"]
"""``pairing(n_conditions, n_targets, batch_size, rng) -> (condition_indices, target_indices)``,
two int64 tensors of shape ``(batch_size,)``, drawn from ``rng`` (a CPU ``torch.Generator``) and
nothing else: what the factory of a registered ``pairing`` returns, ``factory(data, **options)``,
having read what it needs from ``data`` (:mod:`crossmodal.data.pairing`)."""

RANDOM_PAIRS = ComponentSpec("random-pairs")
"""A recipe's default pairing: the core's ``random-pairs`` (:func:`random_pairs`, the Jukepix paper's)."""


def random_pairs(
    n_conditions: int, n_targets: int, batch_size: int, rng: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw conditions and targets independently and uniformly (unpaired data: no target belongs to a particular condition).

    The draw of the registered ``random-pairs``. As ``crossmodal.random_pairs`` (a recipe's
    ``pairing=random_pairs``), deprecated since 0.2.1: leave ``pairing`` out, or name
    :data:`RANDOM_PAIRS`.

    :returns: ``(condition_indices, target_indices)``, int64 tensors of shape ``(batch_size,)``.
    """
    import torch

    conditions = torch.randint(n_conditions, (batch_size,), generator=rng)
    targets = torch.randint(n_targets, (batch_size,), generator=rng)
    return conditions, targets


@dataclass(frozen=True)
class LossTerm:
    """An extra loss added to the generator's or the critic's objective, as the trainer runs it.

    The core makes one per registered ``loss-term`` a recipe names (:func:`~crossmodal.job.build.build_job`):
    ``fn`` calls the module the term's factory built, ``module`` hands that module over. Written
    in a recipe, the crossmodal 0.2.0 form, it is deprecated since 0.2.1 (removed in 0.4):
    register the term as a ``loss-term`` and name it with a :class:`ComponentSpec`.

    ``fn(context)`` returns a scalar tensor; ``context`` is a mapping holding at least
    ``conditions`` ``(B, *condition_shape)``, ``real`` and ``fake`` samples
    ``(B, *sample_shape)``, the ``noise`` ``(B, noise_dim)`` that made ``fake``, the
    ``generator`` and ``critic`` modules, and
    ``condition_indices`` and ``target_indices``, int64 ``(B,)`` on the CPU: where each pair's
    condition and target sit in their sample sets. The trainer adds ``weight * fn(context)`` and
    logs it under ``name``.

    A term may own a network that learns (InfoGAN's head, say): ``module`` is then a factory
    ``module(data) -> torch.nn.Module``, called once when the job is built with its
    :class:`~crossmodal.data.training_data.TrainingData`. The trainer moves the module to the device,
    trains its parameters with the optimiser of the side the term is on (a generator term: the
    generator's Adam, on the generator's total loss), saves it in checkpoints and hands it to
    ``fn`` as ``context["module"]``; under ``torchrun`` that is its data-parallel wrapper, so
    call it rather than reading its attributes. Terms that own a module need distinct names.
    """

    name: str
    fn: Callable[[Mapping[str, Any]], torch.Tensor]
    weight: float = 1.0
    module: Callable[[TrainingData], nn.Module] | None = None


@dataclass(frozen=True)
class Recipe:
    """Everything the trainer needs to know about a job, by registered name.

    Each field is a role; the kind of entry it names is in brackets.

    :param encoder, temporal, decoder, critic: registered networks (``encoder``,
        ``temporal-source``, ``decoder``, ``critic``); ``decoder`` is built ``n_tracks`` times, one
        per track.
    :param conditions, targets: registered sample sets (``sample-set``); their ``options`` are
        passed to the factory together with the source path given on the command line (``None`` =
        the plugin's embedded default).
    :param evaluators: names of registered evaluators (``evaluator``) run during training.
    :param validation: options that, applied over the targets' options (the command line's
        included), make the targets sample set give held-out samples of the same data from the
        same source, e.g. ``{"split": "validation"}`` where the targets say ``{"split": "train"}``.
        Set-comparing evaluators (``compares_sets``) among ``evaluators`` compare the generated
        samples with them at each evaluation; ``None``: no held-out set, and those do not run.
    :param writer: a registered ``sample-writer`` for samples during training and ``generate``.
    :param renderer: a registered ``sample-renderer`` that renders the writer's files into
        something a person can take in, for ``crossmodal generate --render``; ``None``:
        ``--render`` is refused with one line.
    :param training: overrides of :class:`crossmodal.TrainConfig` defaults.
    :param pairing: how conditions and targets are paired in a batch: a registered ``pairing``
        (default :data:`RANDOM_PAIRS`; the core's ``descriptor-pairs`` pairs by descriptors, see
        :mod:`crossmodal.data.pairing`), built once on the job's data. Checkpoints record its name
        and options; resuming keeps them. (A :data:`Pairing` function or a
        ``crossmodal.DataAwarePairing``: deprecated since 0.2.1.)
    :param generator_losses, critic_losses: extra loss terms, each a registered ``loss-term``,
        e.g. ``(ComponentSpec("information", {"weight": 5.0}),)``: the option ``weight`` (default
        1) scales the term, the others go to its factory; logged as ``generator/<name>`` and
        ``critic/<name>``, so a name appears once. Checkpoints record them. (:class:`LossTerm`
        objects: deprecated since 0.2.1.)
    :param condition_descriptor, sample_descriptor: registered descriptors (``descriptor``) of
        the conditions and of the samples, for ``crossmodal evaluate --conditioning`` (see
        :mod:`crossmodal.evaluation.conditioning`), and for a pairing or loss term that reads descriptors
        (:class:`~crossmodal.data.training_data.TrainingData`); ``None``: none to compare or read.
    :param needs: names (entry-point names) of other plugins whose entries the recipe names, e.g.
        ``("jukepix",)`` for a recipe that trains Jukepix's networks. A recipe may name any
        plugin's registered entries; when one of these plugins is not loaded, building the recipe
        fails with one line naming it, before anything is built. The recipe's own plugin need
        not be listed.
    """

    name: str
    encoder: ComponentSpec
    temporal: ComponentSpec
    decoder: ComponentSpec
    critic: ComponentSpec
    conditions: ComponentSpec
    targets: ComponentSpec
    n_tracks: int = 1
    evaluators: tuple[str, ...] = ()
    writer: ComponentSpec | None = None
    training: Mapping[str, Any] = field(default_factory=dict)
    pairing: ComponentSpec | Pairing | DataAwarePairing = RANDOM_PAIRS
    generator_losses: tuple[ComponentSpec | LossTerm, ...] = ()
    critic_losses: tuple[ComponentSpec | LossTerm, ...] = ()
    description: str = ""
    needs: tuple[str, ...] = ()
    condition_descriptor: str | None = None
    sample_descriptor: str | None = None
    renderer: ComponentSpec | None = None
    validation: Mapping[str, Any] | None = None
