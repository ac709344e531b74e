"""Exceptions raised by the crossmodal core, and :func:`shown`, how a path appears in their messages.

Every error the core raises on purpose derives from :class:`CrossmodalError`, so the CLI can turn
it into a one-line message (and a traceback only under ``--debug``).
"""

from __future__ import annotations

import os
import shlex
import signal
from pathlib import Path


def shown(path: str | os.PathLike[str]) -> str:
    """``path`` as it appears in a message: printable characters as they are, others escaped.

    >>> shown("bad\\nname.png")
    'bad\\\\nname.png'
    """
    text = os.fspath(path)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


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
    """A loss became NaN, infinite or larger than ``divergence_bound``, or a weight became NaN or
    infinite; training stopped and the last good checkpoint was kept."""


class OutputError(CrossmodalError, OSError):
    """A file could not be written (a full disk, no permission...); nothing was half-written."""


class TrainingInterrupted(CrossmodalError):
    """SIGINT or SIGTERM stopped training after the current update (part-way through a step with
    one process, at a step boundary with several), after a checkpoint was written.

    Attributes: ``signal_number``, ``step`` (generator updates done), ``checkpoint`` (the path
    written, ``None`` without a run folder), ``run_dir``, ``exit_code`` (128 + the signal
    number: 130 for SIGINT, 143 for SIGTERM) and ``resume_command``.
    """

    def __init__(self, signal_number: int, step: int, checkpoint: Path | None, run_dir: Path | None,
                 world_size: int = 1) -> None:

        self.signal_number = signal_number
        self.step = step
        self.checkpoint = checkpoint
        self.run_dir = run_dir
        self.exit_code = 128 + signal_number
        launcher = "crossmodal" if world_size == 1 else f"torchrun --nproc-per-node {world_size} -m crossmodal"
        self.resume_command = (
            None if run_dir is None else f"{launcher} train --resume {shlex.quote(shown(run_dir))}"
        )
        saved = f"saved {shown(checkpoint)}" if checkpoint is not None else "nothing saved (no run folder)"
        super().__init__(
            f"stopped by {signal.Signals(signal_number).name} after generator step {step}; {saved}"
        )


class RunInUseError(CrossmodalError):
    """Another live process holds the run folder's lock (it is training that run now)."""
