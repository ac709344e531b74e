"""crossmodal: a plugin-based framework for cross-modal generative adversarial networks.

Everything a plugin author needs is importable from here: the four network interfaces and the
evaluator/data protocols, the hook markers and the ``Register`` callback type, recipes, the
registry, the errors, and the helpers for files (:mod:`crossmodal.storage.files`) and skipped inputs
(:mod:`crossmodal.storage.skips`). See ``crossmodal.contract.hookspecs`` for the plugin contract.

Importing the package is cheap: it imports no torch. The names above are exported lazily (PEP 562,
:func:`__getattr__` over :data:`_EXPORTS`): ``from crossmodal import Encoder`` imports
:mod:`crossmodal.contract.interfaces` (and torch) on first use, and ``crossmodal --version`` or
``crossmodal --help`` never pay for it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from typing import TYPE_CHECKING, Any

from crossmodal.version import __version__

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time, __getattr__ below
    from crossmodal.errors import (
        CheckpointError,
        CrossmodalError,
        DataError,
        DuplicateComponentError,
        OutputError,
        PluginLoadError,
        RecipeError,
        RunInUseError,
        ShapeError,
        TrainingDivergedError,
        TrainingInterrupted,
        UnknownComponentError,
    )
    from crossmodal.contract.hookspecs import Register, hookimpl, hookspec
    from crossmodal.contract.interfaces import (
        Critic,
        Decoder,
        Descriptor,
        Encoder,
        Evaluator,
        SampleRenderer,
        SampleSet,
        SampleWriter,
        TemporalSource,
        check_shape,
    )
    from crossmodal.contract.plugins import API_VERSION, Plugins, load_plugins
    from crossmodal.contract.recipe import ComponentSpec, LossTerm, Pairing, Recipe, random_pairs
    from crossmodal.data.pairing import DataAwarePairing, descriptor_pairs
    from crossmodal.data.training_data import TrainingData
    from crossmodal.losses.information import information_term
    from crossmodal.storage.model_file import PretrainedModel
    from crossmodal.contract.registry import KINDS, ComponentInfo, Registry
    from crossmodal.job.generator import ConditionalGenerator
    from crossmodal.losses.wasserstein import gradient_penalty, wasserstein_critic_loss, wasserstein_generator_loss
    from crossmodal.training.config import TrainConfig, critic_updates_for, resolve_config
    from crossmodal.job.build import build_job
    from crossmodal.storage.checkpoint import load_checkpoint, save_checkpoint
    from crossmodal.storage.files import atomic_write, atomic_write_text, remove_leftovers
    from crossmodal.errors import shown
    from crossmodal.storage.skips import SkipFile, report_skipped, skip_counts, skip_line
    from crossmodal.training.trainer import Trainer
    from crossmodal.training.launch import resume_training, start_training

_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("CheckpointError", "CrossmodalError", "DataError", "DuplicateComponentError", "OutputError",
                     "PluginLoadError", "RecipeError", "RunInUseError", "ShapeError", "TrainingDivergedError",
                     "TrainingInterrupted", "UnknownComponentError"), "errors"),
    **dict.fromkeys(("Register", "hookimpl", "hookspec"), "contract.hookspecs"),
    **dict.fromkeys(("Critic", "Decoder", "Descriptor", "Encoder", "Evaluator", "SampleRenderer", "SampleSet",
                     "SampleWriter", "TemporalSource", "check_shape"), "contract.interfaces"),
    **dict.fromkeys(("API_VERSION", "Plugins", "load_plugins"), "contract.plugins"),
    **dict.fromkeys(("ComponentSpec", "LossTerm", "Pairing", "Recipe", "random_pairs"), "contract.recipe"),
    **dict.fromkeys(("DataAwarePairing", "descriptor_pairs"), "data.pairing"),
    "TrainingData": "data.training_data",
    "information_term": "losses.information",
    "PretrainedModel": "storage.model_file",
    **dict.fromkeys(("KINDS", "ComponentInfo", "Registry"), "contract.registry"),
    "ConditionalGenerator": "job.generator",
    **dict.fromkeys(("gradient_penalty", "wasserstein_critic_loss", "wasserstein_generator_loss"), "losses.wasserstein"),
    **dict.fromkeys(("TrainConfig", "critic_updates_for", "resolve_config"), "training.config"),
    "build_job": "job.build",
    **dict.fromkeys(("load_checkpoint", "save_checkpoint"), "storage.checkpoint"),
    **dict.fromkeys(("atomic_write", "atomic_write_text", "remove_leftovers"), "storage.files"),
    "shown": "errors",
    **dict.fromkeys(("SkipFile", "report_skipped", "skip_counts", "skip_line"), "storage.skips"),
    "Trainer": "training.trainer",
    **dict.fromkeys(("resume_training", "start_training"), "training.launch"),
}
"""Exported name -> the submodule of :mod:`crossmodal` that defines it (imported on first access)."""

_SINCE = "is deprecated since crossmodal 0.2.1"
_UNTIL = "removed in crossmodal 0.4"
_DEPRECATED: dict[str, str] = {
    "random_pairs": f"crossmodal.random_pairs {_SINCE}: random pairs are the default pairing; leave pairing out, or "
                    f"name the registered pairing, pairing=ComponentSpec('random-pairs'); {_UNTIL}",
    "descriptor_pairs": f"pairing=descriptor_pairs([...]) {_SINCE}: name the registered pairing, "
                        "pairing=ComponentSpec('descriptor-pairs', {'couplings': [...], 'temperature': 0.5}); "
                        f"{_UNTIL}",
    "DataAwarePairing": f"crossmodal.DataAwarePairing {_SINCE}: register what its prepare() does as a pairing, "
                        "register('pairing', 'my-pairs', factory) where factory(data, **options) returns the draw "
                        f"function, and name it, pairing=ComponentSpec('my-pairs', {{...}}); {_UNTIL}",
    "LossTerm": f"crossmodal.LossTerm {_SINCE}: register the term, register('loss-term', 'my-term', factory) where "
                "factory(data, **options) returns a torch.nn.Module whose forward(context) returns the loss, and name "
                f"it, generator_losses=(ComponentSpec('my-term', {{'weight': 0.5}}),); {_UNTIL}",
    "information_term": f"information_term(head, ...) {_SINCE}: register a loss term whose factory(data, **options) "
                        "returns crossmodal.losses.information.information_module(data, head, descriptors), and name "
                        f"it, generator_losses=(ComponentSpec('my-information', {{'weight': 1.0}}),); {_UNTIL}",
}
"""Names exported for crossmodal 0.2.0's recipes -> the porting note of the ``DeprecationWarning``
each import of them gives (they are left out of ``__all__``)."""


_RETIRED = ("retired in crossmodal 0.2.0: no shipped recipe used it; its code is at commit 311ea63 "
            "(docs/benchmarks.md, Retired levers); copy it into your plugin as a {}")
"""The porting note of an API-2 name retired with its lever: ``{}`` is what to copy it in as."""

_REMOVED: dict[str, str] = {
    "RegisterComponent": "plugin API 2 (crossmodal 0.2) has one registration callback, crossmodal.Register, and "
                         "registers every kind through crossmodal_register_components(register): "
                         "register('evaluator', ...), register('sample-set', ...), register('sample-writer', ...) "
                         "and register('recipe', ...) replace crossmodal_register_evaluators, _datasets, _writers "
                         "and _recipes; kinds renamed: temporal -> temporal-source, dataset -> sample-set, writer -> "
                         "sample-writer; then return 2 from crossmodal_api_version (see docs/plugin-guide.md)",
    "Job": "a built job is no longer a public name: build one with crossmodal.build_job(registry, recipe) and "
           "use its attributes as before",
    "JobSpec": "a job's record is no longer a public name: a Recipe's ComponentSpecs say what a job builds",
    "mode_seeking_term": _RETIRED.format("loss term"),
    "noise_information_term": _RETIRED.format("loss term"),
    "aligned_pairs": _RETIRED.format("pairing"),
}
"""Names that an earlier plugin API exported, or that were retired since -> the porting note their
import error gives."""


_MOVED: dict[str, str] = {
    **{f"crossmodal.{name}": f"crossmodal.contract.{name}"
       for name in ("interfaces", "hookspecs", "recipe", "registry", "plugins", "discovery")},
    **{f"crossmodal.{name}": f"crossmodal.data.{name}" for name in ("training_data", "pairing")},
    "crossmodal.build": "crossmodal.job.build",
    "crossmodal.generator": "crossmodal.job.generator",
    **{f"crossmodal.{name}": f"crossmodal.training.{name}"
       for name in ("trainer", "config", "distributed", "stop_signals", "batches")},
    "crossmodal.wgan": "crossmodal.training.updates",
    "crossmodal.training_state": "crossmodal.training.state",
    **{f"crossmodal.{name}": f"crossmodal.callbacks.{name}" for name in ("curves", "fixed_samples", "divergence", "run_folder")},
    "crossmodal.losses": "crossmodal.losses.wasserstein",
    "crossmodal.information": "crossmodal.losses.information",
    "crossmodal.evaluation": "crossmodal.evaluation.sets",
    "crossmodal.conditioning": "crossmodal.evaluation.conditioning",
    **{f"crossmodal.{name}": f"crossmodal.storage.{name}"
       for name in ("files", "outputs", "checkpoint", "runlock", "runs", "skips")},
    "crossmodal.pretrained": "crossmodal.storage.model_file",
    "crossmodal.generation": "crossmodal.generation.session",
    "crossmodal.serve": "crossmodal.generation.uploads",
}
"""A module of crossmodal 0.2.0 -> where it lives since 0.2.1 (docs/concepts.md, The tree). The old path
still imports, with a DeprecationWarning, until crossmodal 0.4."""


def _moved_note(old: str) -> str:
    return (f"{old} moved to {_MOVED[old]} in crossmodal 0.2.1: import from {_MOVED[old]} (or from crossmodal, "
            "for the names it exports); the old path is removed in crossmodal 0.4")


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import hook that answers an old module path (:data:`_MOVED`) with the module at its new one."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in _MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: Any) -> Any:
        warnings.warn(_moved_note(spec.name), DeprecationWarning, stacklevel=2)
        return importlib.import_module(_MOVED[spec.name])

    def exec_module(self, module: Any) -> None:
        """The module at the new path is already executed."""


sys.meta_path.append(_MovedModules())


def moved_attribute(package: str, name: str) -> Any:
    """``name`` of the 0.2.0 module that a package of the same path replaced (crossmodal.losses,
    .evaluation, .generation), with a DeprecationWarning; for the packages' ``__getattr__``."""
    if name.startswith("__"):
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_MOVED[package]), name)
    setattr(sys.modules[package], name, value)
    warnings.warn(_moved_note(package), DeprecationWarning, stacklevel=3)
    return value


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` on first access (PEP 562) and cache the value;
    a deprecated name (:data:`_DEPRECATED`) warns with its porting note instead of being cached.

    :raises ImportError: for a name that was removed (:data:`_REMOVED`), with its porting note.
    """
    if name in _REMOVED:
        from crossmodal.contract.plugins import API_VERSION

        raise ImportError(f"crossmodal {__version__} (plugin API {API_VERSION}) has no {name!r}: {_REMOVED[name]}",
                          name=__name__)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    if name in _DEPRECATED:  # not cached: every import of it warns (once per importing line)
        warnings.warn(_DEPRECATED[name], DeprecationWarning, stacklevel=2)
        return value
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "API_VERSION",
    "KINDS",
    "CheckpointError",
    "ComponentInfo",
    "ComponentSpec",
    "ConditionalGenerator",
    "Critic",
    "CrossmodalError",
    "DataError",
    "Decoder",
    "Descriptor",
    "DuplicateComponentError",
    "Encoder",
    "Evaluator",
    "OutputError",
    "Pairing",
    "PluginLoadError",
    "Plugins",
    "PretrainedModel",
    "Recipe",
    "RecipeError",
    "RunInUseError",
    "Register",
    "Registry",
    "SampleRenderer",
    "SampleSet",
    "SampleWriter",
    "ShapeError",
    "SkipFile",
    "TemporalSource",
    "TrainConfig",
    "Trainer",
    "TrainingData",
    "TrainingDivergedError",
    "TrainingInterrupted",
    "UnknownComponentError",
    "__version__",
    "atomic_write",
    "atomic_write_text",
    "build_job",
    "check_shape",
    "critic_updates_for",
    "gradient_penalty",
    "hookimpl",
    "hookspec",
    "load_checkpoint",
    "load_plugins",
    "remove_leftovers",
    "report_skipped",
    "resolve_config",
    "resume_training",
    "save_checkpoint",
    "shown",
    "skip_counts",
    "skip_line",
    "start_training",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
]
