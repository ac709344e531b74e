"""crossmodal: a plugin-based framework for cross-modal generative adversarial networks.

Everything a plugin author needs is importable from here: the four network interfaces and the
evaluator/data protocols, the hook markers, recipes, the registry and the errors. See
``crossmodal.hookspecs`` for the plugin contract.
"""

from .errors import (
    CheckpointError,
    CrossmodalError,
    DataError,
    DuplicateComponentError,
    PluginLoadError,
    RecipeError,
    ShapeError,
    TrainingDivergedError,
    UnknownComponentError,
)
from .hookspecs import hookimpl, hookspec
from .hookspecs import Register, RegisterComponent
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

__version__ = "0.1.0"
"""The version of the crossmodal distribution (also ``crossmodal --version``)."""

__all__ = [
    "API_VERSION",
    "KINDS",
    "CheckpointError",
    "ComponentInfo",
    "ComponentSpec",
    "Critic",
    "CrossmodalError",
    "DataError",
    "Decoder",
    "DuplicateComponentError",
    "Encoder",
    "Evaluator",
    "LossTerm",
    "PluginLoadError",
    "Plugins",
    "Recipe",
    "RecipeError",
    "Register",
    "RegisterComponent",
    "Registry",
    "SampleSet",
    "SampleWriter",
    "ShapeError",
    "TemporalSource",
    "TrainingDivergedError",
    "UnknownComponentError",
    "__version__",
    "check_shape",
    "hookimpl",
    "hookspec",
    "load_plugins",
    "random_pairs",
]
