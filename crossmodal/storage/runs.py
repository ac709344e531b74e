"""Run folders and the checks around starting or resuming a run (no training here)."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import torch

from crossmodal.errors import RecipeError

if TYPE_CHECKING:  # pragma: no cover
    from crossmodal.job.build import JobSpec


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and Python's ``random`` (before building the networks)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def new_run_dir(out_dir: str | Path, recipe: str) -> Path:
    """Create and return ``out_dir/<recipe>-<UTC time>`` (with ``-2``, ``-3``... if taken)."""
    base = Path(out_dir)
    base.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 1000):
        path = base / (f"{recipe}-{stamp}" if attempt == 1 else f"{recipe}-{stamp}-{attempt}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a new run folder in {base}")


def run_dir_of(checkpoint: Path) -> Path:
    """The run folder a checkpoint file belongs to."""
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent


def resolved_source(source: str | None) -> str | None:
    """A data source that names an existing path, as an absolute resolved path; others unchanged."""
    if source is None:
        return None
    try:
        path = Path(source)
        return str(path.resolve()) if path.exists() else source
    except (OSError, ValueError):  # not a path (e.g. a name with a NUL)
        return source


def check_same_job(
    spec: JobSpec,
    recipe_name: str | None,
    sources: Mapping[str, str | None],
    options: Mapping[str, Mapping[str, Any] | None],
) -> None:
    """Refuse a recipe, data source or dataset option given to a resume that differs from the run's.

    :raises RecipeError: naming what was given, what the run has, and why it may not change.
    """
    keep = "a resumed run keeps its recipe and data (recorded in its checkpoint); start a new run for others"
    if recipe_name is not None and recipe_name != spec.recipe:
        raise RecipeError(f"recipe {recipe_name!r} was given, but the run being resumed trains {spec.recipe!r}: {keep}")
    for role, given in sources.items():
        recorded = spec.sources.get(role)
        if given is not None and resolved_source(given) != resolved_source(recorded):
            has = "the plugin's embedded data" if recorded is None else repr(recorded)
            raise RecipeError(f"{role} source {given!r} was given, but the run reads {has}: {keep}")
    for role, given_options in options.items():
        recorded_options = (spec.components.get(role) or {}).get("options", {})
        for key, value in (given_options or {}).items():
            if key not in recorded_options or recorded_options[key] != value:
                has = f"{recorded_options[key]!r}" if key in recorded_options else "no such option recorded"
                raise RecipeError(f"{role} option {key}={value!r} was given, but the run has {has}: {keep}")
