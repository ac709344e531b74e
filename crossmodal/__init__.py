"""crossmodal: a plugin-based framework for cross-modal generative adversarial networks.

Everything a plugin author needs is importable from here: the four network interfaces and the
evaluator/data protocols, the hook markers and the ``Register`` callback type, recipes, the
registry, the errors, and the helpers for files (:mod:`crossmodal.files`) and skipped inputs
(:mod:`crossmodal.skips`). See ``crossmodal.hookspecs`` for the plugin contract.

Importing the package is cheap: it imports no torch. The names above are exported lazily (PEP 562,
:func:`__getattr__` over :data:`_EXPORTS`): ``from crossmodal import Encoder`` imports
:mod:`crossmodal.interfaces` (and torch) on first use, and ``crossmodal --version`` or
``crossmodal --help`` never pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time, __getattr__ below
    from .errors import (
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
    from .hookspecs import Register, hookimpl, hookspec
    from .interfaces import (
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
    from .plugins import API_VERSION, Plugins, load_plugins
    from .recipe import ComponentSpec, LossTerm, Recipe, random_pairs
    from .pairing import DataAwarePairing, descriptor_pairs
    from .training_data import TrainingData
    from .information import information_term
    from .pretrained import PretrainedModel
    from .registry import KINDS, ComponentInfo, Registry
    from .generator import ConditionalGenerator
    from .losses import gradient_penalty, wasserstein_critic_loss, wasserstein_generator_loss
    from .config import TrainConfig, critic_updates_for, resolve_config
    from .build import build_job
    from .checkpoint import load_checkpoint, save_checkpoint
    from .files import atomic_write, atomic_write_text, remove_leftovers, shown
    from .skips import SkipFile, report_skipped, skip_counts, skip_line
    from .trainer import Trainer, resume_training, start_training

_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("CheckpointError", "CrossmodalError", "DataError", "DuplicateComponentError", "OutputError",
                     "PluginLoadError", "RecipeError", "RunInUseError", "ShapeError", "TrainingDivergedError",
                     "TrainingInterrupted", "UnknownComponentError"), "errors"),
    **dict.fromkeys(("Register", "hookimpl", "hookspec"), "hookspecs"),
    **dict.fromkeys(("Critic", "Decoder", "Descriptor", "Encoder", "Evaluator", "SampleRenderer", "SampleSet",
                     "SampleWriter", "TemporalSource", "check_shape"), "interfaces"),
    **dict.fromkeys(("API_VERSION", "Plugins", "load_plugins"), "plugins"),
    **dict.fromkeys(("ComponentSpec", "LossTerm", "Recipe", "random_pairs"), "recipe"),
    **dict.fromkeys(("DataAwarePairing", "descriptor_pairs"), "pairing"),
    "TrainingData": "training_data",
    "information_term": "information",
    "PretrainedModel": "pretrained",
    **dict.fromkeys(("KINDS", "ComponentInfo", "Registry"), "registry"),
    "ConditionalGenerator": "generator",
    **dict.fromkeys(("gradient_penalty", "wasserstein_critic_loss", "wasserstein_generator_loss"), "losses"),
    **dict.fromkeys(("TrainConfig", "critic_updates_for", "resolve_config"), "config"),
    "build_job": "build",
    **dict.fromkeys(("load_checkpoint", "save_checkpoint"), "checkpoint"),
    **dict.fromkeys(("atomic_write", "atomic_write_text", "remove_leftovers", "shown"), "files"),
    **dict.fromkeys(("SkipFile", "report_skipped", "skip_counts", "skip_line"), "skips"),
    **dict.fromkeys(("Trainer", "resume_training", "start_training"), "trainer"),
}
"""Exported name -> the submodule of :mod:`crossmodal` that defines it (imported on first access)."""


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


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` on first access (PEP 562) and cache the value.

    :raises ImportError: for a name that was removed (:data:`_REMOVED`), with its porting note.
    """
    if name in _REMOVED:
        from .plugins import API_VERSION

        raise ImportError(f"crossmodal {__version__} (plugin API {API_VERSION}) has no {name!r}: {_REMOVED[name]}",
                          name=__name__)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
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
    "DataAwarePairing",
    "DataError",
    "Decoder",
    "Descriptor",
    "DuplicateComponentError",
    "Encoder",
    "Evaluator",
    "LossTerm",
    "OutputError",
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
    "descriptor_pairs",
    "gradient_penalty",
    "hookimpl",
    "hookspec",
    "information_term",
    "load_checkpoint",
    "load_plugins",
    "random_pairs",
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
