"""Checkpoints: saved atomically, loaded safely, pruned to the newest few.

A checkpoint is a dict of tensors and plain Python values only, so it loads with
``torch.load(weights_only=True)``, which refuses any pickled object that could run code:

* ``generator``, ``critic``: state dicts; ``generator_optimizer``, ``critic_optimizer``: Adam states;
* ``loss_terms`` (only when a recipe's extra loss terms own a network): term name -> state dict;
* ``generator_step`` (generator updates done), ``critic_step`` (critic updates done);
* ``config`` (the :class:`~crossmodal.training.config.TrainConfig`) and ``job`` (the
  :class:`~crossmodal.job.build.JobSpec`: recipe name, component names and options, data sources,
  pairing and descriptor names),
  both JSON strings;
* ``plugins``: plugin name -> distribution version;
* ``rng``: the states of torch (CPU and every CUDA device), numpy, Python's ``random`` and the
  trainer's own ``torch.Generator``, all as tensors.

Files are ``checkpoints/checkpoint-00001000.pt`` (the generator step, 8 digits) next to a
``latest`` file that holds the newest file's name. ``latest`` may only name a
``checkpoint-*.pt`` file in its own folder; anything else (a path, ``..``) is refused.
Checkpoints and ``latest`` are opened only when they are regular files and not symbolic links
(``latest`` up to :data:`POINTER_LIMIT` bytes), and a run's ``checkpoints/`` folder is refused
when it is a link: a run folder copied from someone else cannot make crossmodal read, write or
prune files elsewhere (:func:`crossmodal.storage.files.open_regular`).

Trust model: ``weights_only=True`` means loading a file cannot run code (no pickled classes or
functions are accepted). It does not make a file's *values* trustworthy: recorded component
options are checked against the factories' signatures and the generator is first built without
memory and compared with the saved shapes, and non-finite weights are refused (see
:func:`crossmodal.job.restore.restore`).
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

from crossmodal.errors import CheckpointError, OutputError
from crossmodal.storage.files import atomic_write, check_folder, open_regular, own_folder, read_limited, remove_leftovers, shown

__all__ = [
    "CHECKPOINT_FORMAT",
    "LATEST",
    "POINTER_LIMIT",
    "capture_rng_state",
    "checkpoint_name",
    "pickle_refusal",
    "find_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "plugin_version_changes",
    "remove_checkpoint_leftovers",
    "restore_rng_state",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = 1
"""Version of the checkpoint layout; stored as ``format`` and checked on load."""

LATEST = "latest"
"""Name of the pointer file, in the checkpoint folder, that names the newest checkpoint."""

POINTER_LIMIT = 4096
"""Largest ``latest`` pointer read, in bytes (it holds one ``checkpoint-*.pt`` name)."""

_NAME = re.compile(r"^checkpoint-(\d{8,})\.pt$")
_OLD_TEMPORARY = re.compile(r"^(?:checkpoint-\d{8,}\.pt|latest)\.tmp$")
"""Temporary names of crossmodal before pid-named temporaries (``checkpoint-X.pt.tmp``, ``latest.tmp``)."""
_LEFTOVER_TARGET = re.compile(r"^\.(?P<name>checkpoint-\d{8,}\.pt|latest)\.(?:tmp|building|old)-\d+")
_GLOBAL = re.compile(r"GLOBAL\s+([A-Za-z_][\w.]*)")
_REQUIRED = ("format", "generator", "critic", "generator_optimizer", "critic_optimizer", "generator_step",
             "critic_step", "config", "job", "plugins", "rng")


def pickle_refusal(err: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, naming the pickled object it holds
    (the end of a one-line message; torch's advice to turn ``weights_only`` off is left out)."""
    offender = _GLOBAL.search(str(err))
    what = f" (a {offender.group(1)})" if offender else ""
    return f"refused: holds pickled objects other than tensors and plain values{what}"


def checkpoint_name(generator_step: int) -> str:
    """``checkpoint-00001000.pt`` for generator step 1000."""
    return f"checkpoint-{generator_step:08d}.pt"


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


def remove_checkpoint_leftovers(directory: str | Path) -> list[Path]:
    """Delete the temporary files that killed writers left in a checkpoint folder.

    Pid-named temporaries of checkpoints and ``latest`` whose process is gone
    (:func:`crossmodal.storage.files.remove_leftovers`) and the older ``checkpoint-X.pt.tmp`` /
    ``latest.tmp`` names; nothing else is touched.

    :returns: the paths removed.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    names, removed = set(), []
    for entry in directory.iterdir():
        if (match := _LEFTOVER_TARGET.match(entry.name)) is not None:
            names.add(match["name"])
        elif _OLD_TEMPORARY.match(entry.name) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed + (remove_leftovers(directory, names) if names else [])


def save_checkpoint(state: Mapping[str, Any], directory: str | Path, keep: int) -> Path:
    """Write ``state`` as ``directory/checkpoint-<generator_step>.pt``, point ``latest`` at it,
    then delete all but the newest ``keep`` checkpoints.

    Each file goes through :func:`crossmodal.storage.files.atomic_write` (a pid-named temporary,
    fsynced and renamed), so a crash or a full disk leaves the old file or the new one, never a
    partial one; temporaries left by killed runs are deleted first.

    :returns: the path written.
    :raises OutputError: a file could not be written (a full disk...): one line naming it; the
        previous checkpoints and ``latest`` are unchanged. Also when ``directory`` is a symbolic
        link or not a folder: nothing is written or pruned then.
    """
    directory = own_folder(directory)
    document = {"format": CHECKPOINT_FORMAT, **state}
    missing = [key for key in _REQUIRED if key not in document]
    if missing:
        raise CheckpointError(f"refusing to save a checkpoint without {', '.join(missing)}")
    remove_checkpoint_leftovers(directory)
    path = directory / checkpoint_name(int(document["generator_step"]))
    previous = _latest_name(directory)
    kept = f"{previous} and {LATEST} are unchanged" if previous else f"{LATEST} is unchanged"
    try:
        atomic_write(path, lambda handle: torch.save(document, handle))
    except OutputError as err:
        raise OutputError(f"checkpoint {err}; {kept}") from err.__cause__
    try:
        atomic_write(directory / LATEST, lambda handle: handle.write(path.name.encode() + b"\n"))
    except OutputError as err:
        raise OutputError(f"checkpoint pointer {err}; it still names {previous or 'nothing'}, "
                          f"and {path.name} was written") from err.__cause__
    for old in list_checkpoints(directory)[:-max(1, keep)]:
        if old != path:
            old.unlink(missing_ok=True)
    return path


def find_checkpoint(run_or_file: str | Path) -> Path:
    """Resolve a checkpoint file, a checkpoint folder or a run folder to a checkpoint file.

    A folder is resolved through its ``latest`` pointer (or ``checkpoints/latest`` for a run),
    falling back to its newest ``checkpoint-*.pt``.

    :raises CheckpointError: when nothing is found (naming the path), or a run's ``checkpoints``
        is a symbolic link or not a folder.
    """
    path = Path(run_or_file)
    if path.is_file():
        return path
    if not path.exists():
        raise CheckpointError(f"checkpoint {path}: no such file or folder")
    try:
        check_folder(path / "checkpoints")
    except OutputError as err:
        raise CheckpointError(f"checkpoint folder {err}") from None
    for folder in (path / "checkpoints", path):
        name = _latest_name(folder)
        if name is not None and (folder / name).is_file():
            return folder / name
        existing = list_checkpoints(folder)
        if existing:
            return existing[-1]
    raise CheckpointError(f"checkpoint {shown(path)}: the folder holds no checkpoint-*.pt (and no {LATEST} pointer)")


def _latest_name(folder: Path) -> str | None:
    """The ``checkpoint-*.pt`` name the ``latest`` pointer of ``folder`` holds (``None``: no pointer).

    :raises CheckpointError: when the pointer holds anything else (a path, ``..``, another name),
        so a crafted run folder cannot make crossmodal read a file elsewhere; or when it is a
        symbolic link, not a regular file or over :data:`POINTER_LIMIT` bytes.
    """
    pointer = folder / LATEST
    try:
        name = read_limited(pointer, POINTER_LIMIT).decode("utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OutputError as err:  # refused: names the pointer and why
        raise CheckpointError(f"checkpoint pointer {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise CheckpointError(f"checkpoint pointer {shown(pointer)}: cannot be read ({err})") from err
    if not _NAME.match(name) or "/" in name or "\\" in name:
        raise CheckpointError(
            f"checkpoint pointer {shown(pointer)}: names {shown(name)[:200]!r}, which is not a checkpoint-*.pt "
            "file in the same folder; refusing to follow it (delete the pointer to use the newest checkpoint)"
        )
    return name


def load_checkpoint(run_or_file: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``torch.load(weights_only=True)`` and check its layout.

    ``config`` and ``job`` come back parsed (dicts), and ``path`` holds the file read.

    :raises CheckpointError: when the file is missing, truncated or not a checkpoint, is a
        symbolic link or not a regular file, or holds pickled objects other than tensors and plain
        values (which could run code on load); the message names the file and the cause.
    """
    found = find_checkpoint(run_or_file)
    path = shown(found)
    try:
        with os.fdopen(open_regular(found), "rb") as handle:
            document = torch.load(handle, map_location=map_location, weights_only=True)
    except OutputError as err:  # refused: names the file and why
        raise CheckpointError(f"checkpoint {err}") from None
    except pickle.UnpicklingError as err:
        # torch's own text suggests turning weights_only off: never pass that advice on
        raise CheckpointError(f"checkpoint {path}: {pickle_refusal(err)}") from None
    except Exception as err:  # noqa: BLE001 - torch raises RuntimeError, EOFError, zip errors...
        lines = str(err).strip().splitlines()
        raise CheckpointError(
            f"checkpoint {path}: cannot be read, it is truncated or not a checkpoint "
            f"({type(err).__name__}: {shown(lines[0].strip()) if lines else 'no detail'})"
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
    document["path"] = found
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
