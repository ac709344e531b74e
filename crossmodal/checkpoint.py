"""Checkpoints: saved atomically, loaded safely, pruned to the newest few.

A checkpoint is a dict of tensors and plain Python values only, so it loads with
``torch.load(weights_only=True)``, which refuses any pickled object that could run code:

* ``generator``, ``critic``: state dicts; ``generator_optimizer``, ``critic_optimizer``: Adam states;
* ``generator_step`` (generator updates done), ``critic_step`` (critic updates done);
* ``config`` (the :class:`~crossmodal.config.TrainConfig`) and ``job`` (the
  :class:`~crossmodal.build.JobSpec`: recipe name, component names and options, data sources),
  both JSON strings;
* ``plugins``: plugin name -> distribution version;
* ``rng``: the states of torch (CPU and every CUDA device), numpy, Python's ``random`` and the
  trainer's own ``torch.Generator``, all as tensors.

Files are ``checkpoints/checkpoint-00001000.pt`` (the generator step, 8 digits) next to a
``latest`` file that holds the newest file's name.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from .errors import CheckpointError

__all__ = [
    "CHECKPOINT_FORMAT",
    "LATEST",
    "capture_rng_state",
    "checkpoint_name",
    "find_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "restore_rng_state",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = 1
"""Version of the checkpoint layout; stored as ``format`` and checked on load."""

LATEST = "latest"
"""Name of the pointer file, in the checkpoint folder, that names the newest checkpoint."""

_NAME = re.compile(r"^checkpoint-(\d{8,})\.pt$")
_REQUIRED = ("format", "generator", "critic", "generator_optimizer", "critic_optimizer", "generator_step",
             "critic_step", "config", "job", "plugins", "rng")


def checkpoint_name(generator_step: int) -> str:
    """``checkpoint-00001000.pt`` for generator step 1000."""
    return f"checkpoint-{generator_step:08d}.pt"


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # directories cannot be opened on some platforms; the rename is still atomic
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, write: Any) -> None:
    """Call ``write(file)`` on ``path.tmp`` in the same folder, flush, fsync, then rename onto ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


# -------------------------------------------------------------------------------------------
# RNG states as tensors


def capture_rng_state(trainer_generator: torch.Generator | None = None) -> dict[str, Any]:
    """Every RNG state a run depends on, as tensors and plain values."""
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "cuda": [s for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
        "numpy": {
            "kind": str(np_kind),
            "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "gauss": float(np_gauss),
        },
        "python": {"version": int(py_version), "state": torch.tensor(py_state, dtype=torch.int64),
                   "gauss": py_gauss},
    }
    if trainer_generator is not None:
        state["trainer"] = trainer_generator.get_state()
    return state


def restore_rng_state(state: Mapping[str, Any], trainer_generator: torch.Generator | None = None) -> None:
    """Put back the states captured by :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"].cpu())
    cuda_states = list(state.get("cuda", []))
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])
    numpy_state = state["numpy"]
    np.random.set_state((
        numpy_state["kind"],
        numpy_state["keys"].numpy().astype(np.uint32),
        numpy_state["pos"],
        numpy_state["has_gauss"],
        numpy_state["gauss"],
    ))
    python_state = state["python"]
    random.setstate((python_state["version"], tuple(int(v) for v in python_state["state"].tolist()),
                     python_state["gauss"]))
    if trainer_generator is not None and "trainer" in state:
        trainer_generator.set_state(state["trainer"].cpu())


# -------------------------------------------------------------------------------------------
# Saving, listing, loading


def list_checkpoints(directory: str | Path) -> list[Path]:
    """The ``checkpoint-*.pt`` files in ``directory``, oldest (lowest step) first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def save_checkpoint(state: Mapping[str, Any], directory: str | Path, keep: int) -> Path:
    """Write ``state`` as ``directory/checkpoint-<generator_step>.pt``, point ``latest`` at it,
    then delete all but the newest ``keep`` checkpoints.

    Each file is written to ``*.tmp`` in the same folder, flushed, fsynced and renamed, so a
    crash leaves either the old or the new file, never a partial one.

    :returns: the path written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    document = {"format": CHECKPOINT_FORMAT, **state}
    missing = [key for key in _REQUIRED if key not in document]
    if missing:
        raise CheckpointError(f"refusing to save a checkpoint without {', '.join(missing)}")
    path = directory / checkpoint_name(int(document["generator_step"]))
    atomic_write_bytes(path, lambda handle: torch.save(document, handle))
    atomic_write_bytes(directory / LATEST, lambda handle: handle.write(path.name.encode() + b"\n"))
    for old in list_checkpoints(directory)[:-max(1, keep)]:
        if old != path:
            old.unlink(missing_ok=True)
    return path


def find_checkpoint(run_or_file: str | Path) -> Path:
    """Resolve a checkpoint file, a checkpoint folder or a run folder to a checkpoint file.

    A folder is resolved through its ``latest`` pointer (or ``checkpoints/latest`` for a run),
    falling back to its newest ``checkpoint-*.pt``.

    :raises CheckpointError: when nothing is found (naming the path).
    """
    path = Path(run_or_file)
    if path.is_file():
        return path
    if not path.exists():
        raise CheckpointError(f"checkpoint {path}: no such file or folder")
    for folder in (path / "checkpoints", path):
        pointer = folder / LATEST
        if pointer.is_file():
            target = folder / pointer.read_text(encoding="utf-8").strip()
            if target.is_file():
                return target
        existing = list_checkpoints(folder)
        if existing:
            return existing[-1]
    raise CheckpointError(f"checkpoint {path}: the folder holds no checkpoint-*.pt (and no {LATEST} pointer)")


def load_checkpoint(run_or_file: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``torch.load(weights_only=True)`` and check its layout.

    ``config`` and ``job`` come back parsed (dicts), and ``path`` holds the file read.

    :raises CheckpointError: when the file is missing, truncated or not a checkpoint, or holds
        pickled objects other than tensors and plain values (which could run code on load); the
        message names the file and the cause.
    """
    path = find_checkpoint(run_or_file)
    try:
        document = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        detail = str(err).partition("WeightsUnpickler error:")[2].strip().splitlines() or [str(err)]
        raise CheckpointError(
            f"checkpoint {path}: refused: it holds pickled objects other than tensors and plain values, "
            f"which could run code when loaded ({detail[0].strip()}); crossmodal never writes such files"
        ) from err
    except Exception as err:  # noqa: BLE001 - torch raises RuntimeError, EOFError, zip errors...
        raise CheckpointError(
            f"checkpoint {path}: cannot be read, it is truncated or not a checkpoint "
            f"({type(err).__name__}: {err})"
        ) from err
    if not isinstance(document, dict) or document.get("format") is None:
        raise CheckpointError(f"checkpoint {path}: not a crossmodal checkpoint (no 'format' entry)")
    if document["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"checkpoint {path}: layout version {document['format']}, this crossmodal reads {CHECKPOINT_FORMAT}"
        )
    missing = [key for key in _REQUIRED if key not in document]
    if missing:
        raise CheckpointError(f"checkpoint {path}: missing {', '.join(missing)}")
    try:
        document["config"] = json.loads(document["config"])
        document["job"] = json.loads(document["job"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path}: config or job entry is not valid JSON: {err}") from err
    document["path"] = path
    return document


def plugin_version_changes(recorded: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """One line per plugin whose version differs from the one recorded in a checkpoint."""
    changes = []
    for name, version in sorted(recorded.items()):
        now = current.get(name)
        if now is None:
            changes.append(f"plugin {name!r} (version {version or '?'} when saved) is not loaded now")
        elif now != version:
            changes.append(f"plugin {name!r} was version {version or '?'} when saved, is {now or '?'} now")
    return changes
