"""Exceptions raised by the crossmodal core.

Every error the core raises on purpose derives from :class:`CrossmodalError`, so the CLI can turn
it into a one-line message (and a traceback only under ``--debug``).
"""

from __future__ import annotations


class CrossmodalError(Exception):
    """Base class of every expected crossmodal error."""


class PluginLoadError(CrossmodalError):
    """A plugin could not be imported, validated or registered.

    :param plugin: the entry-point or plugin name.
    :param distribution: ``name==version`` of the distribution that provides it, if known.
    """

    def __init__(self, message: str, plugin: str = "", distribution: str = "") -> None:
        super().__init__(message)
        self.plugin = plugin
        self.distribution = distribution


class DuplicateComponentError(CrossmodalError):
    """Two plugins registered the same (kind, name)."""


class UnknownComponentError(CrossmodalError, LookupError):
    """A (kind, name) that no loaded plugin registered."""


class ShapeError(CrossmodalError, ValueError):
    """A tensor's shape does not match what a component expects."""


class RecipeError(CrossmodalError):
    """A recipe names components or data that do not fit together."""


class DataError(CrossmodalError):
    """An input file or dataset cannot be used; the message names the file and the cause."""


class CheckpointError(CrossmodalError):
    """A checkpoint is missing, corrupt, unsafe or incompatible."""


class TrainingDivergedError(CrossmodalError):
    """A loss became NaN or infinite; training stopped and the last good checkpoint was kept."""


class OutputError(CrossmodalError, OSError):
    """A file could not be written (a full disk, no permission...); nothing was half-written."""
