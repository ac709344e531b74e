"""crossmodal: a plugin-based framework for cross-modal generative adversarial networks.

Everything a plugin author needs is importable from here: the four network interfaces and the
evaluator/data protocols, the hook markers and the ``Register`` callback type, recipes, the
registry, the errors, and the helpers for files (:mod:`crossmodal.files`) and skipped inputs
(:mod:`crossmodal.skips`). See ``crossmodal.hookspecs`` for the plugin contract.
"""

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
    Encoder,
    Evaluator,
    SampleSet,
    SampleWriter,
    TemporalSource,
    check_shape,
)
from .plugins import API_VERSION, Plugins, load_plugins
from .recipe import ComponentSpec, LossTerm, Recipe, random_pairs
from .registry import KINDS, ComponentInfo, Registry
from .generator import ConditionalGenerator
from .losses import gradient_penalty, wasserstein_critic_loss, wasserstein_generator_loss
from .config import TrainConfig, critic_updates_for, resolve_config
from .build import build_job
from .checkpoint import load_checkpoint, save_checkpoint
from .files import atomic_write, atomic_write_text, remove_leftovers, shown
from .skips import SkipFile, report_skipped, skip_counts, skip_line
from .trainer import Trainer, resume_training, start_training
from .version import __version__

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
    "DuplicateComponentError",
    "Encoder",
    "Evaluator",
    "LossTerm",
    "OutputError",
    "PluginLoadError",
    "Plugins",
    "Recipe",
    "RecipeError",
    "RunInUseError",
    "Register",
    "Registry",
    "SampleSet",
    "SampleWriter",
    "ShapeError",
    "SkipFile",
    "TemporalSource",
    "TrainConfig",
    "Trainer",
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
