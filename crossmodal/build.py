"""Turning a recipe into live objects, with every shape checked before training starts.

:func:`build_job` creates the generator, the critic, both datasets, the evaluators and the writer
named by a :class:`~crossmodal.recipe.Recipe` and checks that they fit together;
:class:`JobSpec` is the plain, JSON-serialisable record of what was built (written to
``config.json`` and into checkpoints), from which :func:`build_generator` rebuilds a generator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from torch import nn

from .errors import RecipeError
from .generator import ConditionalGenerator
from .interfaces import Critic, Decoder, Encoder, Evaluator, SampleSet, SampleWriter, TemporalSource
from .recipe import ComponentSpec, Recipe
from .registry import Registry

__all__ = ["Job", "JobSpec", "build_generator", "build_job", "count_parameters", "get_recipe", "load_generator"]

_COMPONENT_KINDS = ("encoder", "temporal", "decoder", "critic")


def _plain(value: Any) -> Any:
    """``value`` as JSON types (tuples -> lists), or :class:`RecipeError` if it has none."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as err:
        raise RecipeError(f"option value {value!r} cannot be recorded in a checkpoint: {err}") from err


@dataclass(frozen=True)
class JobSpec:
    """What a job was built from, as plain data: enough to rebuild it from a registry.

    :param recipe: the recipe's registered name.
    :param components: kind (``encoder``, ``temporal``, ``decoder``, ``critic``, ``conditions``,
        ``targets`` and, if any, ``writer``) -> ``{"name": ..., "options": {...}}``; the
        dataset options include those given on the command line.
    :param sources: ``{"conditions": path or None, "targets": path or None}``.
    """

    recipe: str
    n_tracks: int
    components: Mapping[str, Mapping[str, Any]]
    evaluators: tuple[str, ...] = ()
    sources: Mapping[str, str | None] = field(default_factory=dict)

    def component(self, kind: str) -> ComponentSpec | None:
        """The recorded :class:`ComponentSpec` of ``kind`` (``None`` when absent)."""
        entry = self.components.get(kind)
        return None if entry is None else ComponentSpec(entry["name"], dict(entry.get("options", {})))

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "n_tracks": self.n_tracks,
            "components": _plain(self.components),
            "evaluators": list(self.evaluators),
            "sources": dict(self.sources),
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
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise RecipeError(f"job description is incomplete or malformed ({type(err).__name__}: {err})") from err


@dataclass
class Job:
    """The live objects of one training job (see :func:`build_job`)."""

    recipe: Recipe
    spec: JobSpec
    generator: ConditionalGenerator
    critic: Critic
    conditions: SampleSet
    targets: SampleSet
    evaluators: dict[str, Evaluator]
    writer: SampleWriter | None


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


def _create(registry: Registry, kind: str, spec: ComponentSpec, expected: type, recipe: str, **extra: Any) -> Any:
    obj = registry.create(kind, spec.name, **extra, **dict(spec.options))
    if expected is not object and not isinstance(obj, expected):
        provider = registry.get(kind, spec.name).provider
        raise RecipeError(
            f"recipe {recipe!r}: {kind} {spec.name!r} from {provider} built a {type(obj).__name__}, "
            f"which is not a crossmodal.{expected.__name__}"
        )
    return obj


def build_generator(
    registry: Registry,
    encoder: ComponentSpec,
    temporal: ComponentSpec,
    decoder: ComponentSpec,
    n_tracks: int,
    *,
    recipe: str = "",
) -> ConditionalGenerator:
    """Create the components and assemble a :class:`ConditionalGenerator` (``n_tracks`` decoders).

    :raises RecipeError: when a factory returns the wrong type or the sizes do not fit; the
        message names the recipe and the components.
    """
    if n_tracks < 1:
        raise RecipeError(f"recipe {recipe!r}: n_tracks must be >= 1, got {n_tracks}")
    parts = (
        _create(registry, "encoder", encoder, Encoder, recipe),
        _create(registry, "temporal", temporal, TemporalSource, recipe),
        [_create(registry, "decoder", decoder, Decoder, recipe) for _ in range(n_tracks)],
    )
    try:
        return ConditionalGenerator(*parts)
    except RecipeError as err:
        raise RecipeError(
            f"recipe {recipe!r} (encoder {encoder.name!r}, temporal {temporal.name!r}, "
            f"decoder {decoder.name!r}): {err}"
        ) from err


def build_job(
    registry: Registry,
    recipe: Recipe | str,
    condition_source: str | None = None,
    target_source: str | None = None,
    condition_options: Mapping[str, Any] | None = None,
    target_options: Mapping[str, Any] | None = None,
    *,
    spec: JobSpec | None = None,
) -> Job:
    """Build everything a recipe names and check that the pieces fit, before any training.

    :param recipe: a :class:`Recipe` or the name of a registered one.
    :param condition_source, target_source: passed as ``source`` to the dataset factories
        (``None`` = the plugin's embedded default data).
    :param condition_options, target_options: dataset options over the recipe's.
    :param spec: rebuild from a recorded :class:`JobSpec` (component names and options, data
        sources) instead of the recipe's components; the recipe still supplies pairing, losses
        and evaluators. Used when resuming.
    :raises RecipeError: naming the recipe, the components and the mismatching shapes.
    """
    if isinstance(recipe, str):
        recipe = get_recipe(registry, recipe)
    name = recipe.name
    if spec is None:
        cond_spec = ComponentSpec(recipe.conditions.name, {**recipe.conditions.options, **(condition_options or {})})
        target_spec = ComponentSpec(recipe.targets.name, {**recipe.targets.options, **(target_options or {})})
        specs = {
            "encoder": recipe.encoder,
            "temporal": recipe.temporal,
            "decoder": recipe.decoder,
            "critic": recipe.critic,
            "conditions": cond_spec,
            "targets": target_spec,
        }
        if recipe.writer is not None:
            specs["writer"] = recipe.writer
        spec = JobSpec(
            recipe=name,
            n_tracks=recipe.n_tracks,
            components={k: {"name": s.name, "options": _plain(dict(s.options))} for k, s in specs.items()},
            evaluators=tuple(recipe.evaluators),
            sources={"conditions": condition_source, "targets": target_source},
        )
    get = spec.component
    generator = build_generator(
        registry, get("encoder"), get("temporal"), get("decoder"), spec.n_tracks, recipe=name
    )
    critic_spec = get("critic")
    critic = _create(registry, "critic", critic_spec, Critic, name)
    what = f"encoder {get('encoder').name!r}, decoder {get('decoder').name!r} x {spec.n_tracks}"
    if tuple(critic.sample_shape) != generator.sample_shape:
        raise RecipeError(
            f"recipe {name!r}: critic {critic_spec.name!r} scores samples of shape "
            f"{tuple(critic.sample_shape)}, but the generator ({what}, temporal "
            f"{get('temporal').name!r}) makes (segments, *segment_shape, tracks) = {generator.sample_shape}"
        )
    if tuple(critic.condition_shape) != generator.condition_shape:
        raise RecipeError(
            f"recipe {name!r}: critic {critic_spec.name!r} takes conditions of shape "
            f"{tuple(critic.condition_shape)}, but encoder {get('encoder').name!r} takes "
            f"{generator.condition_shape}"
        )
    conditions = _create(registry, "dataset", get("conditions"), object, name, source=spec.sources.get("conditions"))
    targets = _create(registry, "dataset", get("targets"), object, name, source=spec.sources.get("targets"))
    for role, data, expected, consumer in (
        ("conditions", conditions, generator.condition_shape, f"encoder {get('encoder').name!r}"),
        ("targets", targets, generator.sample_shape, f"the generator ({what}) and critic {critic_spec.name!r}"),
    ):
        dataset_name = get(role).name
        if not isinstance(data, SampleSet):
            raise RecipeError(
                f"recipe {name!r}: dataset {dataset_name!r} built a {type(data).__name__}, which lacks the "
                "crossmodal.SampleSet attributes (sample_kind, sample_shape, __len__, batch, sources)"
            )
        if tuple(data.sample_shape) != tuple(expected):
            raise RecipeError(
                f"recipe {name!r}: {role} dataset {dataset_name!r} holds items of shape "
                f"{tuple(data.sample_shape)}, but {consumer} expects {tuple(expected)}"
            )
        if len(data) == 0:
            raise RecipeError(f"recipe {name!r}: {role} dataset {dataset_name!r} is empty")
    evaluators: dict[str, Evaluator] = {}
    for evaluator_name in spec.evaluators:
        evaluator = registry.create("evaluator", evaluator_name)
        if getattr(evaluator, "sample_kind", None) != targets.sample_kind:
            raise RecipeError(
                f"recipe {name!r}: evaluator {evaluator_name!r} understands samples of kind "
                f"{getattr(evaluator, 'sample_kind', None)!r}, but targets dataset {get('targets').name!r} "
                f"holds {targets.sample_kind!r}"
            )
        evaluators[evaluator_name] = evaluator
    writer_spec = get("writer")
    writer = None if writer_spec is None else _create(registry, "writer", writer_spec, object, name)
    if writer is not None and not isinstance(writer, SampleWriter):
        raise RecipeError(f"recipe {name!r}: writer {writer_spec.name!r} built a {type(writer).__name__} without write()")
    return Job(recipe, spec, generator, critic, conditions, targets, evaluators, writer)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def load_generator(
    registry: Registry, document: Mapping[str, Any], device: Any = "cpu"
) -> tuple[ConditionalGenerator, JobSpec]:
    """Rebuild the generator recorded in a loaded checkpoint and load its weights.

    :param document: from :func:`crossmodal.checkpoint.load_checkpoint`.
    :returns: the generator (on ``device``, in evaluation mode) and the checkpoint's job spec.
    :raises RecipeError: when a recorded component is not registered or does not fit.
    :raises CheckpointError: when the saved weights do not fit the rebuilt generator.
    """
    from .errors import CheckpointError

    spec = JobSpec.from_dict(document["job"])
    generator = build_generator(
        registry, spec.component("encoder"), spec.component("temporal"), spec.component("decoder"),
        spec.n_tracks, recipe=spec.recipe,
    )
    try:
        generator.load_state_dict(document["generator"])
    except RuntimeError as err:
        raise CheckpointError(
            f"checkpoint {document.get('path', '')}: the saved generator does not fit the one built from "
            f"its recorded components (did a plugin change?): {err}"
        ) from err
    return generator.to(device).eval(), spec
