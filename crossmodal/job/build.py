"""Turning a recipe into live objects, with every shape checked before training starts.

:func:`build_job` creates the generator, the critic, both datasets, the evaluators and the writer
named by a :class:`~crossmodal.contract.recipe.Recipe` and checks that they fit together.
:class:`JobSpec` is the core's internal, JSON-serialisable record of what was built (written to
``config.json`` and into checkpoints), from which :func:`crossmodal.job.restore.restore` rebuilds
a job's parts; plugin authors never handle it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import torch
from torch import nn

from crossmodal.errors import CrossmodalError, RecipeError
from crossmodal.job.generator import ConditionalGenerator
from crossmodal.contract.interfaces import Critic, Decoder, Descriptor, Encoder, Evaluator, SampleSet, SampleWriter, TemporalSource
from crossmodal.data.pairing import pairing_record, prepare_pairing, recipe_pairing, recorded_pairing
from crossmodal.contract.recipe import ComponentSpec, Pairing, Recipe
from crossmodal.contract.components import first_line, lookup, check_options, create_component
from crossmodal.contract.registry import Registry
from crossmodal.data.training_data import TrainingData
from crossmodal.losses.terms import build_terms, check_terms, recipe_terms, recorded_terms, terms_record

__all__ = [
    "RANGE_CHECK_ITEMS",
    "ROLE_KINDS",
    "Job",
    "JobSpec",
    "build_generator",
    "build_job",
    "check_dataset",
    "check_needs",
    "check_options",
    "check_sample_range",
    "count_parameters",
    "create_component",
    "create_descriptor",
    "get_recipe",
]

ROLE_KINDS = {
    "encoder": "encoder",
    "temporal": "temporal-source",
    "decoder": "decoder",
    "critic": "critic",
    "conditions": "sample-set",
    "targets": "sample-set",
    "validation": "sample-set",
    "writer": "sample-writer",
    "renderer": "sample-renderer",
}
"""Role (a :class:`~crossmodal.contract.recipe.Recipe` field, and a key of :attr:`JobSpec.components`) ->
the registry kind it names. Checkpoints record components by role, so the names of kinds can
change without making older checkpoints unreadable."""

RANGE_CHECK_ITEMS = 2
"""Conditions the generator runs on when a recipe is built, to check that its decoders give
values in [0, 1] (:func:`check_sample_range`)."""


def _plain(value: Any) -> Any:
    """``value`` as JSON types (tuples -> lists), or :class:`RecipeError` if it has none."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as err:
        raise RecipeError(f"option value {value!r} cannot be recorded in a checkpoint: {err}") from err


@dataclass(frozen=True)
class JobSpec:
    """What a job was built from, as plain data: enough to rebuild it from a registry.

    Internal to the core (``config.json`` and checkpoints); not part of the plugin API.

    :param recipe: the recipe's registered name.
    :param components: role (``encoder``, ``temporal``, ``decoder``, ``critic``, ``conditions``,
        ``targets`` and, if any, ``validation``, ``writer`` and ``renderer``; see :data:`ROLE_KINDS` for the kind
        each names) -> ``{"name": ..., "options": {...}}``; the sample-set options include those
        given on the command line.
    :param sources: ``{"conditions": path or None, "targets": path or None}`` (and
        ``"validation"``, the targets' source, when the recipe holds samples out).
    :param pairing: the recipe's pairing, ``{"name": ..., "options": {...}}``
        (:func:`~crossmodal.data.pairing.pairing_record`), ``{}`` in checkpoints written before
        pairings were recorded.
    :param losses: the recipe's extra loss terms, ``{"generator_losses": [{"name": ...,
        "options": {...}}, ...], "critic_losses": [...]}`` (:func:`~crossmodal.losses.terms.terms_record`),
        ``{}`` in checkpoints of crossmodal 0.2.0 and where the recipe holds a deprecated ``LossTerm``.
    :param descriptors: ``{"condition_descriptor": name or None, "sample_descriptor": name or
        None}``, the recipe's, which a pairing or loss term may read; ``{}`` in older checkpoints.
    """

    recipe: str
    n_tracks: int
    components: Mapping[str, Mapping[str, Any]]
    evaluators: tuple[str, ...] = ()
    sources: Mapping[str, str | None] = field(default_factory=dict)
    pairing: Mapping[str, Any] = field(default_factory=dict)
    descriptors: Mapping[str, str | None] = field(default_factory=dict)
    losses: Mapping[str, Any] = field(default_factory=dict)

    def component(self, role: str) -> ComponentSpec | None:
        """The recorded :class:`ComponentSpec` of ``role`` (``None`` when absent)."""
        entry = self.components.get(role)
        return None if entry is None else ComponentSpec(entry["name"], dict(entry.get("options", {})))

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "n_tracks": self.n_tracks,
            "components": _plain(self.components),
            "evaluators": list(self.evaluators),
            "sources": dict(self.sources),
            "pairing": _plain(dict(self.pairing)),
            "descriptors": dict(self.descriptors),
            "losses": _plain(dict(self.losses)),
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> "JobSpec":
        try:
            return cls(
                recipe=str(document["recipe"]),
                n_tracks=int(document["n_tracks"]),
                components={k: dict(v) for k, v in document["components"].items()},
                evaluators=tuple(document.get("evaluators", ())),
                sources=dict(document.get("sources", {})),
                pairing=dict(document.get("pairing", {})),
                descriptors=dict(document.get("descriptors", {})),
                losses=dict(document.get("losses", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise RecipeError(f"job description is incomplete or malformed ({type(err).__name__}: {err})") from err


@dataclass
class Job:
    """The live objects of one training job (see :func:`build_job`).

    :ivar recipe: the recipe as the job trains it: its ``pairing`` the one drawn with (the
        record's, when rebuilt from one) and its loss terms the
        :class:`~crossmodal.contract.recipe.LossTerm` records the trainer runs.
    :ivar pairing: the function that draws ``(condition_indices, target_indices)``: the recipe's
        pairing, prepared on :attr:`data` (:func:`~crossmodal.data.pairing.prepare_pairing`).
    :ivar loss_modules: loss-term name -> its module (only terms whose module holds parameters or
        buffers: those are trained with their side's optimiser and saved in checkpoints).
    :ivar data: the sample sets and their descriptor values, as the pairing and the loss terms saw them.
    """

    recipe: Recipe
    spec: JobSpec
    generator: ConditionalGenerator
    critic: Critic
    conditions: SampleSet
    targets: SampleSet
    evaluators: dict[str, Evaluator]
    writer: SampleWriter | None
    pairing: Pairing | None = None
    loss_modules: dict[str, nn.Module] = field(default_factory=dict)
    data: TrainingData | None = None
    validation: SampleSet | None = None

    def __post_init__(self) -> None:
        if self.data is None:
            self.data = TrainingData(self.conditions, self.targets, origin=f"recipe {self.recipe.name!r}")
        if self.pairing is None:
            self.pairing = prepare_pairing(self.recipe.pairing, self.data)


def get_recipe(registry: Registry, name: str) -> Recipe:
    """Create the recipe registered as ``name`` and check that its factory returned a Recipe."""
    recipe = registry.create("recipe", name)
    if not isinstance(recipe, Recipe):
        provider = registry.get("recipe", name).provider
        raise RecipeError(
            f"recipe {name!r} from {provider}: its factory returned {type(recipe).__name__}, "
            "not a crossmodal.Recipe"
        )
    return recipe


def _recipe_provider(registry: Registry, name: str) -> str:
    """``plugin (distribution==version)`` of the recipe registered as ``name`` (``""`` if none)."""
    try:
        return registry.get("recipe", name).provider
    except CrossmodalError:  # built from a Recipe object that is not registered, or a contested name
        return ""


def check_needs(registry: Registry, recipe: Recipe, origin: str = "") -> None:
    """Refuse a recipe whose :attr:`~crossmodal.contract.recipe.Recipe.needs` names a plugin that has
    nothing in ``registry`` (not installed, left out by ``CROSSMODAL_LOAD_PLUGINS``, or broken).

    :param origin: how the recipe is named in the message (default ``recipe '<name>'``).
    :raises RecipeError: one line, e.g. ``recipe 'musegan-tutorial' needs plugin 'jukepix' (not loaded)``.
    """
    origin = origin or f"recipe {recipe.name!r}"
    needs = recipe.needs
    if isinstance(needs, str) or not all(isinstance(plugin, str) and plugin for plugin in needs):
        raise RecipeError(
            f"{origin}: needs must be a tuple of plugin names, such as ('other-plugin',), not {needs!r}"
        )
    present = {info.plugin for info in registry.entries()}
    missing = [plugin for plugin in needs if plugin not in present]
    if missing:
        names = " and ".join(repr(plugin) for plugin in missing)
        raise RecipeError(
            f"{origin} needs plugin{'s' if len(missing) > 1 else ''} {names} (not loaded); install "
            f"{'them' if len(missing) > 1 else 'it'}, or allow {'them' if len(missing) > 1 else 'it'} "
            "in CROSSMODAL_LOAD_PLUGINS"
        )


def check_sample_range(
    generator: ConditionalGenerator, conditions: SampleSet, origin: str, decoder: str,
    conditions_name: str = "",
) -> None:
    """Run the generator once on :data:`RANGE_CHECK_ITEMS` conditions and refuse values outside
    [0, 1] or not finite, the range every decoder promises (:class:`~crossmodal.contract.interfaces.Decoder`).

    The pass runs in evaluation mode under ``torch.no_grad()``, with its own noise and the global
    RNG state restored afterwards, so it changes no weight, buffer or random stream: training
    starts exactly as it would without it.

    :param origin: names the recipe in messages (``recipe 'toy'``).
    :param decoder: the decoder's registered name, for the message.
    :raises RecipeError: one line naming the decoder and the range seen, or the generator's error
        on these conditions (a plugin's own :class:`~crossmodal.errors.CrossmodalError`, such as
        a :class:`~crossmodal.errors.ShapeError`, passes through unchanged).
    """
    count = min(RANGE_CHECK_ITEMS, len(conditions))
    device = next(generator.parameters(), torch.empty(0)).device
    source = f"{count} item{'s' if count != 1 else ''} of conditions dataset {conditions_name!r}"
    was_training = generator.training
    generator.eval()
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            batch = conditions.batch(torch.arange(count)).to(device)  # (count, *condition_shape)
            noise = generator.sample_noise(count, torch.Generator().manual_seed(0), device)  # (count, noise_dim)
            samples = generator(batch, noise).float()  # (count, *sample_shape)
    except CrossmodalError:
        raise
    except Exception as err:  # noqa: BLE001 - a plugin's bug, reported with the recipe it broke
        raise RecipeError(
            f"{origin}: the generator failed on {source} ({type(err).__name__}: {first_line(err)})"
        ) from err
    finally:
        generator.train(was_training)
    decoder_class = type(generator.decoders[0]).__name__
    if not bool(torch.isfinite(samples).all()):
        raise RecipeError(
            f"{origin}: decoder {decoder!r} ({decoder_class}) gives NaN or infinite values on {source}; "
            "a decoder's output must lie in [0, 1]"
        )
    low, high = samples.min().item(), samples.max().item()
    if low < 0 or high > 1:
        raise RecipeError(
            f"{origin}: decoder {decoder!r} ({decoder_class}) gives values in [{low:.4g}, {high:.4g}] on "
            f"{source}; a decoder's output must lie in [0, 1] (end it with a sigmoid, or clamp)"
        )


def _check_generator_options(
    registry: Registry, parts: Mapping[str, ComponentSpec], origin: str, error: type[CrossmodalError]
) -> None:
    for role, part in parts.items():
        check_options(registry, ROLE_KINDS[role], part, origin, error=error)


def build_generator(
    registry: Registry,
    encoder: ComponentSpec,
    temporal: ComponentSpec,
    decoder: ComponentSpec,
    n_tracks: int,
    *,
    recipe: str = "",
    origin: str = "",
    error: type[CrossmodalError] = RecipeError,
) -> ConditionalGenerator:
    """Create the components and assemble a :class:`ConditionalGenerator` (``n_tracks`` decoders).

    Every component's options are checked against its factory before any is built.

    :param origin: where the components come from, for messages (default ``recipe '<recipe>'``).
    :param error: the error class raised (:class:`CheckpointError` when rebuilding a checkpoint).
    :raises RecipeError: when an option is unknown, a factory fails or returns the wrong type, or
        the sizes do not fit; the message names the recipe and the components.
    """
    origin = origin or f"recipe {recipe!r}"
    if n_tracks < 1:
        raise error(f"{origin}: n_tracks must be >= 1, got {n_tracks}")
    _check_generator_options(registry, {"encoder": encoder, "temporal": temporal, "decoder": decoder}, origin, error)
    parts = (
        create_component(registry, "encoder", encoder, origin, expected=Encoder, error=error),
        create_component(registry, "temporal-source", temporal, origin, expected=TemporalSource, error=error),
        [create_component(registry, "decoder", decoder, origin, expected=Decoder, error=error)
         for _ in range(n_tracks)],
    )
    try:
        return ConditionalGenerator(*parts)
    except RecipeError as err:
        raise error(
            f"{origin} (encoder {encoder.name!r}, temporal-source {temporal.name!r}, "
            f"decoder {decoder.name!r}): {err}"
        ) from err


def recipe_spec(recipe: Recipe, pairing: Any, terms: Any, sources: tuple[str | None, str | None],
                options: tuple[Mapping[str, Any], Mapping[str, Any]]) -> JobSpec:
    """The record of what ``recipe`` builds: its components (the datasets with the command line's
    ``options`` over the recipe's), evaluators, data ``sources``, pairing, descriptors and loss terms.

    :param sources, options: ``(conditions, targets)``.
    """
    conditions = ComponentSpec(recipe.conditions.name, {**recipe.conditions.options, **options[0]})
    targets = ComponentSpec(recipe.targets.name, {**recipe.targets.options, **options[1]})
    specs = {"encoder": recipe.encoder, "temporal": recipe.temporal, "decoder": recipe.decoder,
             "critic": recipe.critic, "conditions": conditions, "targets": targets}
    if recipe.validation is not None:
        specs["validation"] = ComponentSpec(targets.name, {**targets.options, **recipe.validation})
    for role in ("writer", "renderer"):
        if getattr(recipe, role) is not None:
            specs[role] = getattr(recipe, role)
    held_out = {"validation": sources[1]} if recipe.validation is not None else {}
    return JobSpec(
        recipe=recipe.name,
        n_tracks=recipe.n_tracks,
        components={k: {"name": s.name, "options": _plain(dict(s.options))} for k, s in specs.items()},
        evaluators=tuple(recipe.evaluators),
        sources={"conditions": sources[0], "targets": sources[1], **held_out},
        pairing=_plain(pairing_record(pairing)),
        descriptors={"condition_descriptor": recipe.condition_descriptor,
                     "sample_descriptor": recipe.sample_descriptor},
        losses=_plain(terms_record(terms)),
    )


def build_job(
    registry: Registry,
    recipe: Recipe | str,
    condition_source: str | None = None,
    target_source: str | None = None,
    condition_options: Mapping[str, Any] | None = None,
    target_options: Mapping[str, Any] | None = None,
    *,
    spec: JobSpec | None = None,
    origin: str = "",
    error: type[CrossmodalError] = RecipeError,
) -> Job:
    """Build everything a recipe names and check that the pieces fit, before any training.

    :param recipe: a :class:`Recipe` or the name of a registered one.
    :param condition_source, target_source: passed as ``source`` to the dataset factories
        (``None`` = the plugin's embedded default data).
    :param condition_options, target_options: dataset options over the recipe's.
    :param spec: rebuild from a recorded :class:`JobSpec` (component names and options, data
        sources, pairing, descriptor names, loss terms) instead of the recipe's; the recipe still
        supplies what a record of crossmodal 0.2.0 lacks (its loss terms) and the deprecated forms
        of pairing, which must record as the recorded one
        (:func:`~crossmodal.data.pairing.recorded_pairing`). Used when resuming.
    :param origin: where ``spec`` comes from, for messages (``"checkpoint PATH"`` when resuming);
        default ``recipe '<name>'``.
    :param error: the error class of option and build failures (:class:`CheckpointError` for a
        recorded ``spec``).
    :raises RecipeError: before anything is built, a plugin in ``recipe.needs`` that is not loaded
        (:func:`check_needs`), or a component or dataset option its factory does not take; then
        mismatching shapes, naming the recipe and the components; finally a decoder whose values
        on a few conditions leave [0, 1] (:func:`check_sample_range`), a descriptor the recipe
        names that describes another sample kind (:func:`create_descriptor`), a pairing that
        does not suit the data, or a loss term whose factory fails
        (:func:`~crossmodal.losses.terms.build_terms`). The job's ``recipe`` holds the pairing
        and the loss terms it trains: the :class:`~crossmodal.contract.recipe.LossTerm` records
        the trainer runs.
    :raises UnknownComponentError: before anything is built, a name nothing is registered under,
        naming the recipe and the plugin it comes from.
    """
    if isinstance(recipe, str):
        recipe = get_recipe(registry, recipe)
    name = recipe.name
    where = f"{origin} (recipe {name!r})" if origin else f"recipe {name!r}"
    command_line = {
        "conditions": frozenset(condition_options or ()) if spec is None else frozenset(),
        "targets": frozenset(target_options or ()) if spec is None else frozenset(),
    }
    pairing, terms = recipe_pairing(recipe.pairing, where), recipe_terms(recipe, where)  # deprecated forms warn
    if spec is None:
        spec = recipe_spec(recipe, pairing, terms, (condition_source, target_source),
                           (condition_options or {}, target_options or {}))
    pairing = recorded_pairing(spec.pairing, pairing, where, error, registry)
    terms = recorded_terms(spec.losses, terms, where, error)
    descriptor_names = dict(spec.descriptors) or {"condition_descriptor": recipe.condition_descriptor,
                                                  "sample_descriptor": recipe.sample_descriptor}
    get = spec.component
    check_needs(registry, recipe, where)
    provider = _recipe_provider(registry, name)
    named_by = f"{where} from plugin {provider}" if provider else where
    for role, kind in ROLE_KINDS.items():  # every name, before anything is built
        if get(role) is not None:
            lookup(registry, kind, get(role).name, named_by)
    for evaluator_name in spec.evaluators:
        lookup(registry, "evaluator", evaluator_name, named_by)
    named = [("pairing", pairing), *(("loss-term", term) for side in terms.values() for term in side)]
    for kind, entry in named:
        if isinstance(entry, ComponentSpec):
            lookup(registry, kind, entry.name, named_by)
    for role in ("encoder", "temporal", "decoder", "critic", "writer", "renderer"):
        if get(role) is not None:
            check_options(registry, ROLE_KINDS[role], get(role), where, error=error)
    if isinstance(pairing, ComponentSpec):
        check_options(registry, "pairing", pairing, where, extra=("data",), error=error)
    check_terms(registry, terms, where, error)
    data_roles = ("conditions", "targets", "validation") if get("validation") is not None else ("conditions", "targets")
    command_line["validation"] = command_line["targets"]
    for role in data_roles:
        check_options(registry, ROLE_KINDS[role], get(role), where, extra=("source",), command_line=command_line[role],
                      label=f"{role} dataset {get(role).name!r}", error=error)
    generator = build_generator(
        registry, get("encoder"), get("temporal"), get("decoder"), spec.n_tracks, recipe=name, origin=where,
        error=error,
    )
    critic_spec = get("critic")
    critic = create_component(registry, "critic", critic_spec, where, expected=Critic, error=error)
    what = f"encoder {get('encoder').name!r}, decoder {get('decoder').name!r} x {spec.n_tracks}"
    if tuple(critic.sample_shape) != generator.sample_shape:
        raise RecipeError(
            f"recipe {name!r}: critic {critic_spec.name!r} scores samples of shape "
            f"{tuple(critic.sample_shape)}, but the generator ({what}, temporal-source "
            f"{get('temporal').name!r}) makes (segments, *segment_shape, tracks) = {generator.sample_shape}"
        )
    if tuple(critic.condition_shape) != generator.condition_shape:
        raise RecipeError(
            f"recipe {name!r}: critic {critic_spec.name!r} takes conditions of shape "
            f"{tuple(critic.condition_shape)}, but encoder {get('encoder').name!r} takes "
            f"{generator.condition_shape}"
        )
    conditions, targets, *held_out = (
        create_component(registry, ROLE_KINDS[role], get(role), where, label=f"{role} dataset {get(role).name!r}",
                         error=error, command_line=command_line[role], source=spec.sources.get(role))
        for role in data_roles
    )
    validation = held_out[0] if held_out else None
    checked = [
        ("conditions", conditions, generator.condition_shape, f"encoder {get('encoder').name!r}"),
        ("targets", targets, generator.sample_shape, f"the generator ({what}) and critic {critic_spec.name!r}"),
    ]
    if validation is not None:
        checked.append(("validation", validation, generator.sample_shape, f"the generator ({what})"))
    for role, data, expected, consumer in checked:
        dataset_name = get(role).name
        if not isinstance(data, SampleSet):
            raise RecipeError(
                f"recipe {name!r}: sample-set {dataset_name!r} built a {type(data).__name__}, which lacks the "
                "crossmodal.SampleSet attributes (sample_kind, sample_shape, __len__, batch, sources)"
            )
        check_dataset(data, expected, f"recipe {name!r}: {role} dataset {dataset_name!r}", consumer, RecipeError)
    check_sample_range(generator, conditions, f"recipe {name!r}", get("decoder").name, get("conditions").name)
    evaluators: dict[str, Evaluator] = {}
    for evaluator_name in spec.evaluators:
        evaluator = create_component(registry, "evaluator", ComponentSpec(evaluator_name), where, error=error)
        if getattr(evaluator, "sample_kind", None) != targets.sample_kind:
            raise RecipeError(
                f"recipe {name!r}: evaluator {evaluator_name!r} understands samples of kind "
                f"{getattr(evaluator, 'sample_kind', None)!r}, but targets dataset {get('targets').name!r} "
                f"holds {targets.sample_kind!r}"
            )
        evaluators[evaluator_name] = evaluator
    training_data = described_data(registry, descriptor_names, conditions, targets, f"recipe {name!r}")
    writer_spec = get("writer")
    writer = None if writer_spec is None else create_component(
        registry, ROLE_KINDS["writer"], writer_spec, where, error=error
    )
    if writer is not None and not isinstance(writer, SampleWriter):
        raise RecipeError(
            f"recipe {name!r}: sample-writer {writer_spec.name!r} built a {type(writer).__name__} without write()"
        )
    prepared = prepare_pairing(pairing, training_data, registry, where, error)
    resolved, loss_modules = build_terms(registry, terms, training_data, where, error)  # last: every other weight is drawn
    recipe = replace(recipe, pairing=pairing, **resolved)
    return Job(recipe, spec, generator, critic, conditions, targets, evaluators, writer, prepared, loss_modules,
               training_data, validation)


def described_data(registry: Registry, names: Mapping[str, str | None], conditions: SampleSet,
                   targets: SampleSet, origin: str) -> TrainingData:
    """The job's :class:`TrainingData` with the descriptors ``names`` gives for
    ``condition_descriptor`` and ``sample_descriptor`` (``None``: none), each checked by
    :func:`create_descriptor`."""
    descriptors = {
        role: None if names.get(role) is None else create_descriptor(registry, names[role], data.sample_kind,
                                                                       origin, role)
        for role, data in (("condition_descriptor", conditions), ("sample_descriptor", targets))
    }
    return TrainingData(conditions, targets, descriptors["condition_descriptor"], descriptors["sample_descriptor"],
                        origin)


def create_descriptor(registry: Registry, name: str, sample_kind: str, origin: str, role: str) -> Descriptor:
    """Create the descriptor registered as ``name`` and check that it describes ``sample_kind`` items.

    :param origin: names the recipe or checkpoint in messages (``recipe 'toy'``).
    :param role: the recipe field naming it (``condition_descriptor`` or ``sample_descriptor``).
    :raises RecipeError: the factory fails, returns no :class:`~crossmodal.contract.interfaces.Descriptor`,
        or one of another ``sample_kind``; an unknown name raises :class:`UnknownComponentError`.
    """
    descriptor = create_component(registry, "descriptor", ComponentSpec(name), origin, expected=Descriptor,
                                  label=f"{role} {name!r}")
    if getattr(descriptor, "sample_kind", None) != sample_kind:
        raise RecipeError(
            f"{origin}: {role} {name!r} describes items of kind {getattr(descriptor, 'sample_kind', None)!r}, "
            f"but the {'conditions' if role == 'condition_descriptor' else 'samples'} are {sample_kind!r}"
        )
    return descriptor


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def check_dataset(data: Any, expected: Any, what: str, consumer: str, error: type[Exception]) -> None:
    """Refuse a built dataset whose items are not ``expected``-shaped, or that holds no item.

    :param what: names the dataset in the message (``"recipe 'x': targets dataset 'phrases'"``).
    :param consumer: what reads its items (``"the critic 'phrase-critic'"``).
    :raises error: one line naming both shapes, or saying the dataset is empty.
    """
    if tuple(data.sample_shape) != tuple(expected):
        raise error(f"{what} holds items of shape {tuple(data.sample_shape)}, but {consumer} expects {tuple(expected)}")
    if len(data) == 0:
        raise error(f"{what} holds no item")
