"""A record back into live objects: what a checkpoint or a model file holds, rebuilt and checked.

:func:`restore` takes a loaded checkpoint (:func:`~crossmodal.storage.checkpoint.load_checkpoint`)
or model file (:func:`~crossmodal.storage.model_file.load_model`) and rebuilds the parts a caller
asks for (:data:`PARTS`) from its recorded :class:`~crossmodal.job.build.JobSpec`: resuming,
evaluating, the conditioning report, generating, serving and exporting a model all come back
this way. :mod:`crossmodal.job.build` turns a recipe into live objects; this module turns a
record back into them.

Nothing recorded is trusted: saved weights must be finite, every recorded option is checked
against its factory's signature before anything is built, and a network is first built on the
meta device (no memory) and its shapes compared with the saved ones; where its components cannot
be built there, every recorded size must be at most :data:`MAX_UNCHECKED_SIZE` before the real
build allocates anything.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Mapping

import torch
from torch import nn

from crossmodal.contract.interfaces import Critic, SampleRenderer, SampleSet, SampleWriter
from crossmodal.contract.recipe import ComponentSpec, Pairing
from crossmodal.contract.registry import Registry
from crossmodal.data.pairing import prepare_pairing, recipe_pairing, recorded_pairing
from crossmodal.data.training_data import TrainingData
from crossmodal.errors import CheckpointError, CrossmodalError, RecipeError, shown
from crossmodal.job.build import (
    ROLE_KINDS,
    Job,
    JobSpec,
    build_generator,
    build_job,
    check_dataset,
    check_options,
    create_component,
    described_data,
    get_recipe,
)
from crossmodal.job.generator import ConditionalGenerator

__all__ = ["MAX_UNCHECKED_SIZE", "PARTS", "UNTRAINED_SEED", "Restored", "check_finite_weights", "recorded_spec",
           "restore"]

PARTS = ("generator", "untrained", "critic", "data", "validation", "pairing", "writer", "renderer",
         "read_conditions", "job")
"""What :func:`restore` can rebuild; each is the :class:`Restored` field of that name."""

MAX_UNCHECKED_SIZE = 1 << 16
"""Largest integer (65,536) a record may hold as ``n_tracks`` or in a network's component
options when those components cannot be built on the meta device, so that the saved shapes
cannot be compared before memory is allocated: a Jukepix encoder of that ``feature_dim`` takes
about 1 GB. Components that build on the meta device are not bound by it: their shapes are
compared instead."""

UNTRAINED_SEED = 0
"""``torch.manual_seed`` under which the ``untrained`` generator's weights are drawn (the weights a
run seeded 0 starts from)."""


@dataclass
class Restored:
    """What :func:`restore` rebuilt from a record. Each part asked for is the field of its name;
    the others are ``None`` (so is ``validation`` when the job held nothing out).

    :ivar spec: the record's job.
    :ivar origin: how messages name the record (``checkpoint PATH``).
    :ivar path: the file the record was read from.
    :ivar generator: the saved generator (the averaged weights when the run kept an average, see
        :attr:`~crossmodal.training.config.TrainConfig.generator_average`), on the device, in
        evaluation mode.
    :ivar untrained: the same generator with fresh weights drawn under
        ``torch.manual_seed(UNTRAINED_SEED)`` (the global RNG state is left as it was), on the
        device, in evaluation mode.
    :ivar critic: the saved critic (a checkpoint's; a model file holds none), on the device, in
        evaluation mode.
    :ivar data: the conditions and targets the job trained on, with their recorded options and
        sources, checked against the generator's shapes; with the recorded descriptors when
        ``pairing`` is asked for.
    :ivar validation: the recorded held-out samples, checked against the generator's samples.
    :ivar pairing: the run's pairing (:func:`~crossmodal.data.pairing.recorded_pairing`), prepared
        on :attr:`data`.
    :ivar writer: the recorded sample writer.
    :ivar renderer: the recorded sample renderer; for a record written before its recipe named
        one, the one its recipe (registered under the recorded name) names now.
    :ivar read_conditions: ``read_conditions(source)`` -> the recorded conditions sample set,
        with its recorded options, reading ``source`` (a condition file, a held-out folder...).
    :ivar job: everything the recipe builds (:func:`~crossmodal.job.build.build_job` on the
        record), with fresh weights: a trainer loads the checkpoint into it to resume.
    """

    spec: JobSpec
    origin: str
    path: Path
    generator: ConditionalGenerator | None = None
    untrained: ConditionalGenerator | None = None
    critic: Critic | None = None
    data: TrainingData | None = None
    validation: SampleSet | None = None
    pairing: Pairing | None = None
    writer: SampleWriter | None = None
    renderer: SampleRenderer | None = None
    read_conditions: Callable[[str | Path], SampleSet] | None = None
    job: Job | None = None


def recorded_spec(record: Mapping[str, Any], origin: str = "") -> JobSpec:
    """The job a loaded checkpoint or model file records, with every component entry readable.

    :param origin: how the message names the record (default ``checkpoint PATH``).
    :raises CheckpointError: one line naming the record: its job is incomplete or malformed.
    """
    origin = origin or f"checkpoint {shown(str(record.get('path', '')))}"
    try:
        spec = JobSpec.from_dict(record["job"])
    except RecipeError as err:
        raise CheckpointError(f"{origin}: {err}") from err
    for role in spec.components:
        try:
            spec.component(role)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise CheckpointError(
                f"{origin}: the recorded {shown(str(role))} entry is malformed ({type(err).__name__}: {err})"
            ) from err
    return spec


def restore(
    registry: Registry,
    record: Mapping[str, Any],
    *,
    parts: Collection[str] = ("generator",),
    device: torch.device | str = "cpu",
    origin: str = "",
) -> Restored:
    """Rebuild ``parts`` (names from :data:`PARTS`) of a loaded checkpoint or model file.

    ``data`` and ``validation`` are checked against the generator's shapes, so they bring
    ``generator``; ``pairing`` brings ``data``. Before any part is built, the components each
    part needs must be recorded, and the recorded options of the sample writer, the renderer and
    the conditions reader must be ones their factories take; the networks are then checked and
    built (:func:`_build_checked`), then the data, then the writer and renderer.

    :param record: from :func:`~crossmodal.storage.checkpoint.load_checkpoint` or
        :func:`~crossmodal.storage.model_file.load_model`.
    :param device: where the networks are put.
    :param origin: how messages name the record (default ``checkpoint PATH``).
    :raises CheckpointError: one line naming the record and the cause: its job is malformed or
        names no component a part needs; a recorded option is unknown or cannot be built; saved
        weights are missing, not finite, or do not fit the network built from the record; a
        recorded size is refused unbuilt; a dataset does not fit the generator; the recorded
        pairing cannot be rebuilt or differs from the recipe's.
    :raises RecipeError: ``renderer`` when neither the record nor its recipe names one; the
        recorded recipe is not registered (``pairing``, ``job``); a recorded descriptor describes
        another sample kind.
    :raises UnknownComponentError: a recorded name that nothing is registered under.
    :raises ValueError: a part that is not in :data:`PARTS`.
    """
    wanted = set(parts)
    unknown = sorted(wanted - set(PARTS))
    if unknown:
        raise ValueError(f"restore: no part {unknown[0]!r}; the parts are {', '.join(PARTS)}")
    wanted |= {"data"} if "pairing" in wanted else set()
    wanted |= {"generator"} if wanted & {"data", "validation"} else set()
    path = Path(str(record.get("path", "")))
    origin = origin or f"checkpoint {shown(str(path))}"
    spec = recorded_spec(record, origin)
    restored = Restored(spec, origin, path)
    where = f"{origin} (recipe {spec.recipe!r})"
    if "job" in wanted:
        recipe = dataclasses.replace(get_recipe(registry, spec.recipe), name=spec.recipe)
        restored.job = build_job(registry, recipe, spec=spec, origin=origin, error=CheckpointError)
    writer_spec = spec.component("writer")
    if "writer" in wanted and writer_spec is None:
        raise CheckpointError(f"{origin}: its recipe names no sample writer, so nothing can be written")
    for role, needed_by in (("conditions", {"data", "read_conditions"}), ("targets", {"data"})):
        if wanted & needed_by and spec.component(role) is None:
            raise CheckpointError(f"{origin}: the recorded job names no {role} dataset")
    if "writer" in wanted:
        check_options(registry, "sample-writer", writer_spec, origin, error=CheckpointError)
    renderer_spec = _renderer_spec(registry, spec, origin) if "renderer" in wanted else None
    if renderer_spec is not None:
        check_options(registry, "sample-renderer", renderer_spec, origin, error=CheckpointError)
    if "read_conditions" in wanted:
        restored.read_conditions = _conditions_reader(registry, spec.component("conditions"), origin)
    _restore_networks(registry, record, wanted, restored, where, device)
    if "data" in wanted:
        _restore_data(registry, wanted, restored, where)
    if "writer" in wanted:
        restored.writer = create_component(registry, "sample-writer", writer_spec, origin, error=CheckpointError)
    if renderer_spec is not None:
        restored.renderer = create_component(registry, "sample-renderer", renderer_spec, origin,
                                             expected=SampleRenderer, error=CheckpointError)
    return restored


def _renderer_spec(registry: Registry, spec: JobSpec, origin: str) -> ComponentSpec:
    """The sample renderer to render with: the one the job records; for a record written before
    its recipe named one, the renderer its recipe (registered under the recorded name) names now.

    :raises RecipeError: one line, when neither names a renderer.
    """
    recorded = spec.component("renderer")
    if recorded is not None:
        return recorded
    try:
        current = get_recipe(registry, spec.recipe).renderer
    except CrossmodalError:  # the recipe is not registered now (its plugin left out, say)
        current = None
    if current is None:
        raise RecipeError(
            f"{origin}: recipe {shown(spec.recipe)!r} names no sample renderer, so its samples cannot be rendered; "
            "generate without --render (renderers: `crossmodal list-components --kind sample-renderer`)"
        )
    return current


def _conditions_reader(registry: Registry, dataset: ComponentSpec, origin: str) -> Callable[[str | Path], SampleSet]:
    """``read(source)`` -> the recorded conditions sample set reading ``source``; its options are
    checked now, and each read raises :class:`CheckpointError` for a factory failing on them (a
    :class:`~crossmodal.errors.DataError` for a source it cannot use passes through)."""
    label = f"conditions dataset {dataset.name!r}"
    check_options(registry, "sample-set", dataset, origin, extra=("source",), label=label, error=CheckpointError)

    def read(source: str | Path) -> SampleSet:
        return create_component(registry, "sample-set", dataset, origin, label=label, error=CheckpointError,
                                source=str(source))

    return read


def _restore_networks(registry: Registry, record: Mapping[str, Any], wanted: set[str], restored: Restored,
                      where: str, device: torch.device | str) -> None:
    """Fill ``restored.generator``, ``.untrained`` and ``.critic`` as far as ``wanted`` asks."""
    spec, origin = restored.spec, restored.origin
    if wanted & {"generator", "untrained"}:
        key = "generator_average" if "generator_average" in record else "generator"
        weights = record.get(key) if "generator" in wanted else None
        if "generator" in wanted:
            check_finite_weights(weights, f"{origin}: {key.replace('_', ' ')}")
        recorded = {role: spec.component(role) for role in ("encoder", "temporal", "decoder")}
        missing = [role for role, part in recorded.items() if part is None]
        if missing:
            raise CheckpointError(f"{where}: the recorded job names no {', '.join(missing)}")

        def build_gen() -> ConditionalGenerator:
            return build_generator(registry, recorded["encoder"], recorded["temporal"], recorded["decoder"],
                                   spec.n_tracks, recipe=spec.recipe, origin=where, error=CheckpointError)

        generator = _build_checked(build_gen, weights, recorded, spec.n_tracks, where, "generator", "components")
        if generator is not None:
            restored.generator = generator.to(device).eval()
        if "untrained" in wanted:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(UNTRAINED_SEED)
                restored.untrained = build_gen().to(device).eval()
    if "critic" in wanted:
        weights = record.get("critic")
        check_finite_weights(weights, f"{origin}: critic")
        recorded = {"critic": spec.component("critic")}
        if recorded["critic"] is None:
            raise CheckpointError(f"{where}: the recorded job names no critic")

        def build_critic() -> Critic:
            return create_component(registry, "critic", recorded["critic"], where, expected=Critic,
                                    error=CheckpointError)

        restored.critic = _build_checked(build_critic, weights, recorded, spec.n_tracks, where, "critic",
                                         "component").to(device).eval()


def _build_checked(build: Callable[[], nn.Module], weights: Mapping[str, Any] | None,
                   recorded: Mapping[str, ComponentSpec], n_tracks: int, where: str, what: str,
                   made_of: str) -> nn.Module | None:
    """``build()`` with ``weights`` loaded, checked before any memory is allocated; with no
    ``weights``, only the check (``None`` returned).

    ``build`` first runs on the meta device (no memory, :func:`_meta_build` says which failures
    of that build are final) and its shapes are compared with ``weights``; where it cannot run
    there, the recorded sizes must be at most :data:`MAX_UNCHECKED_SIZE`.

    :param recorded: role -> the recorded component (its options are the sizes bound).
    :param what: the network, for messages (``generator``); ``made_of``: ``components``...
    :raises CheckpointError: a recorded size is refused, or the weights do not fit.
    """
    misfit = (f"{where}: the saved {what} does not fit the one built from its recorded {made_of} "
              "(did a plugin change, or was the file edited?)")
    skeleton = _meta_build(build)  # first without memory, so absurd recorded sizes are refused unallocated
    if skeleton is None:
        _check_unchecked_sizes(recorded, n_tracks, where)
    elif weights is not None:
        _compare_shapes(skeleton.state_dict(), weights, misfit)
    del skeleton
    if weights is None:
        return None
    module = build()
    try:
        module.load_state_dict(weights)
    except RuntimeError as err:
        raise CheckpointError(f"{misfit}: {' '.join(str(err).split())[:400]}") from err
    return module


def _restore_data(registry: Registry, wanted: set[str], restored: Restored, where: str) -> None:
    """Fill ``restored.data``, ``.validation`` and ``.pairing`` as far as ``wanted`` asks."""
    spec, generator = restored.spec, restored.generator
    conditions, targets = (
        _dataset(registry, restored, role, expected)
        for role, expected in (("conditions", generator.condition_shape), ("targets", generator.sample_shape))
    )
    if "validation" in wanted and spec.component("validation") is not None:
        restored.validation = _dataset(registry, restored, "validation", generator.sample_shape)
    if "pairing" not in wanted:
        restored.data = TrainingData(conditions, targets, origin=where)
        return
    recipe = get_recipe(registry, spec.recipe)
    names = dict(spec.descriptors) or {"condition_descriptor": recipe.condition_descriptor,
                                       "sample_descriptor": recipe.sample_descriptor}
    restored.data = described_data(registry, names, conditions, targets, where)
    pairing = recorded_pairing(spec.pairing, recipe_pairing(recipe.pairing, where), where, CheckpointError, registry)
    restored.pairing = prepare_pairing(pairing, restored.data, registry, where, CheckpointError)


def _dataset(registry: Registry, restored: Restored, role: str, expected: tuple[int, ...]) -> SampleSet:
    """The recorded ``role`` dataset with its recorded options and source, holding ``expected``-shaped items.

    :raises CheckpointError: it is empty, or its items have another shape.
    :raises RecipeError, DataError: it is not registered, or its data cannot be read.
    """
    dataset = restored.spec.component(role)
    label = f"{role} dataset {dataset.name!r}"
    data = create_component(registry, "sample-set", dataset, restored.origin, label=label, error=CheckpointError,
                            source=restored.spec.sources.get(role))
    check_dataset(data, expected, f"{restored.origin}: the {label}", "the generator", CheckpointError)
    return data


def check_finite_weights(state: Any, where: str) -> None:
    """Refuse a state dict (name -> tensor) holding NaN or infinite values, or no tensors at all.

    :param where: the file, for the message (``"checkpoint PATH: generator"``).
    :raises CheckpointError: naming ``where`` and the first bad tensor.
    """
    if not isinstance(state, Mapping) or not state:
        raise CheckpointError(f"{where} weights are missing or not a dict of tensors")
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{where} weight {shown(str(name))!r} is a {type(value).__name__}, not a tensor")
        if (value.is_floating_point() or value.is_complex()) and not bool(torch.isfinite(value).all()):
            raise CheckpointError(
                f"{where} weight {shown(str(name))!r} holds NaN or infinite values, so every sample would "
                "be garbage; use an earlier checkpoint of the run"
            )


def _compare_shapes(built: Mapping[str, Any], saved: Mapping[str, Any], misfit: str) -> None:
    """Refuse when ``saved`` lacks a tensor of ``built``, has an extra one, or one of another shape."""
    for name, tensor in built.items():
        if name not in saved:
            raise CheckpointError(f"{misfit}: the file has no weight {name!r}")
        if tuple(saved[name].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{misfit}: weight {name!r} is {tuple(saved[name].shape)} in the file, but the recorded "
                f"options build {tuple(tensor.shape)}"
            )
    extra = [name for name in saved if name not in built]
    if extra:
        raise CheckpointError(f"{misfit}: the file has an unexpected weight {shown(str(extra[0]))!r}")


def _meta_build(build: Callable[[], nn.Module]) -> nn.Module | None:
    """``build()`` on the meta device (shapes, no memory), or ``None`` where the meta device
    cannot build these components.

    A :class:`~crossmodal.errors.CrossmodalError` that no other exception caused is honoured
    (raised as is): crossmodal's own refusals (the recorded sizes do not fit each other, an
    option the factory lacks) and a plugin's own (a :class:`~crossmodal.errors.ShapeError`...)
    are the same on every device. Anything else counts as the meta device being unsupported,
    whether raised as is or wrapped by :func:`~crossmodal.job.build.create_component`: the meta
    device itself raises ``RuntimeError`` and ``NotImplementedError`` (``Tensor.item()``, an
    operator without a meta kernel) and ``TypeError`` (conversion to numpy), which cannot be told
    from a plugin's own ``ValueError`` or ``TypeError``, so those are left to the real build to
    raise again.
    """
    try:
        with torch.device("meta"):
            return build()
    except CrossmodalError as err:
        cause = err.__cause__
        while isinstance(cause, CrossmodalError):
            cause = cause.__cause__
        if cause is None:
            raise
        return None
    except Exception:  # noqa: BLE001 - a plugin's exception of its own class, see above
        return None


def _check_unchecked_sizes(recorded: Mapping[str, ComponentSpec], n_tracks: int, where: str) -> None:
    """Refuse ``n_tracks`` or an integer in the recorded options above :data:`MAX_UNCHECKED_SIZE`."""
    sizes = {"n_tracks": n_tracks}
    for role, part in recorded.items():
        sizes.update({f"{ROLE_KINDS[role]} {part.name!r} option {name!r}": _largest_integer(value)
                      for name, value in part.options.items()})
    for label, size in sizes.items():
        if size > MAX_UNCHECKED_SIZE:
            raise CheckpointError(
                f"{where}: {label} records {size}; these components cannot be built on the meta device to "
                f"check the saved shapes first, so sizes above {MAX_UNCHECKED_SIZE} are refused rather than allocated"
            )


def _largest_integer(value: Any) -> int:
    """The largest integer in a recorded option value, searching lists and dicts (0: none, booleans not counted)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return max(map(_largest_integer, value), default=0)
    return 0
