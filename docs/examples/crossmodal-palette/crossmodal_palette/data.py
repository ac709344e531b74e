"""Datasets: palettes (conditions) and light patterns (targets), from CSV files or synthetic.

Both factories are registered as kind ``sample-set`` and take ``source=None, **options``, as
that kind asks (``crossmodal.contract.hookspecs.crossmodal_register_components``):

* ``source=None``: a deterministic synthetic set (``n_items`` items drawn with ``seed``), so
  ``crossmodal train --plugin palette`` works on a fresh install without a download;
* ``source=path``: a ``.csv`` file, or a folder of them (read in name order). Each line is one
  item: 15 numbers for a palette (colour by colour, R, G, B) or 32 for a pattern (segment by
  segment, step by step, lamp 1 then lamp 2), all in [0, 1]. Blank lines and lines starting with
  ``#`` are ignored. A line that does not parse is skipped and listed in ``skipped`` as
  ``(file:line, reason)``; :class:`crossmodal.DataError` is raised only when no item is left.

:func:`write_csv` writes items in the same format (used by ``crossmodal prepare palette-demo``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import torch

from crossmodal import DataError

from .constants import (
    N_LAMPS,
    N_SEGMENTS,
    PALETTE_KIND,
    PALETTE_SHAPE,
    PATTERN_SHAPE,
    SAMPLE_KIND,
    STEPS_PER_SEGMENT,
)

__all__ = ["ItemSet", "palettes", "patterns", "read_csv", "synthetic_palettes", "synthetic_patterns", "write_csv"]

DEFAULT_ITEMS = 256
"""Items in a synthetic set."""

PERIODS = (4.0, 8.0, 16.0)
"""Periods, in time steps, of the synthetic patterns' brightness waves."""


class ItemSet:
    """Items held in memory: a :class:`crossmodal.SampleSet`.

    :param items: float32 ``(N, *sample_shape)``.
    :param sample_kind: the layout's name (``"palette"`` or ``"light-pattern"``).
    :param sources: per item, where it came from (``file:line`` or ``synthetic seed S #i``).
    :param skipped: ``(file:line, reason)`` for every line that was left out.
    """

    def __init__(
        self,
        items: torch.Tensor,
        sample_kind: str,
        sources: Sequence[str],
        skipped: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.items = items.float()
        self.sample_kind = sample_kind
        self.sample_shape = tuple(items.shape[1:])
        self._sources = list(sources)
        self.skipped = list(skipped)

    def __len__(self) -> int:
        return self.items.shape[0]

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        """Items at ``indices`` (int64 ``(n,)``): float32 ``(n, *sample_shape)``."""
        return self.items[indices.cpu()]

    def sources(self) -> list[str]:
        return list(self._sources)


def synthetic_palettes(n_items: int = DEFAULT_ITEMS, seed: int = 0) -> torch.Tensor:
    """Random palettes ``(n_items, 5, 3)`` in [0, 1]: a base colour and four variations of it."""
    rng = torch.Generator().manual_seed(seed)
    base = torch.rand(n_items, 1, PALETTE_SHAPE[1], generator=rng)  # (N, 1, RGB)
    spread = 0.3 * (torch.rand(n_items, *PALETTE_SHAPE, generator=rng) - 0.5)  # (N, colours, RGB)
    return (base + spread).clamp(0.0, 1.0)


def synthetic_patterns(n_items: int = DEFAULT_ITEMS, seed: int = 1) -> torch.Tensor:
    """Smooth light patterns ``(n_items, 2, 8, 2)`` in [0, 1]: one sine wave per lamp.

    Each lamp's brightness is ``0.5 + 0.45 * sin(2 pi t / period + phase)`` over the 16 steps of
    the two segments, with the period drawn from :data:`PERIODS` and the phase uniform.
    """
    rng = torch.Generator().manual_seed(seed)
    steps = torch.arange(N_SEGMENTS * STEPS_PER_SEGMENT, dtype=torch.float32)  # (16,)
    choice = torch.randint(len(PERIODS), (n_items, 1, N_LAMPS), generator=rng)
    period = torch.tensor(PERIODS)[choice]  # (N, 1, lamps)
    phase = 2 * math.pi * torch.rand(n_items, 1, N_LAMPS, generator=rng)  # (N, 1, lamps)
    waves = 0.5 + 0.45 * torch.sin(2 * math.pi * steps[None, :, None] / period + phase)  # (N, 16, lamps)
    return waves.reshape(n_items, *PATTERN_SHAPE)  # (N, segments, steps, lamps)


def _csv_files(source: Path) -> list[Path]:
    if source.is_dir():
        return sorted(p for p in source.iterdir() if p.suffix.lower() == ".csv")
    if source.is_file():
        return [source]
    raise DataError(f"{source}: no such file or folder")


def read_csv(source: str | Path, shape: tuple[int, ...], sample_kind: str) -> ItemSet:
    """Read items of ``shape`` from a ``.csv`` file or a folder of them (format: module docstring).

    :raises DataError: when ``source`` does not exist or holds no usable line.
    """
    source = Path(source)
    size = math.prod(shape)
    rows, sources, skipped = [], [], []
    for path in _csv_files(source):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            where = f"{path}:{number}"
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                values = [float(cell) for cell in line.split(",")]
            except ValueError:
                skipped.append((where, "not a number: a cell does not parse as a float"))
                continue
            if len(values) != size:
                skipped.append((where, f"wrong length: expected {size} numbers, got {len(values)}"))
            elif not all(0.0 <= v <= 1.0 for v in values):
                skipped.append((where, "out of range: values must be in [0, 1]"))
            else:
                rows.append(values)
                sources.append(where)
    if not rows:
        reasons = f"; {len(skipped)} line(s) skipped, first: {skipped[0][0]}: {skipped[0][1]}" if skipped else ""
        raise DataError(f"{source}: no usable {sample_kind} item (one line of {size} numbers in [0, 1]){reasons}")
    items = torch.tensor(rows, dtype=torch.float32).reshape(len(rows), *shape)
    return ItemSet(items, sample_kind, sources, skipped)


def write_csv(items: torch.Tensor, path: str | Path) -> Path:
    """Write ``(N, *shape)`` items one per line, atomically (a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(f"{v:.4f}" for v in item.reshape(-1).tolist()) for item in items]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def palettes(source: str | Path | None = None, n_items: int = DEFAULT_ITEMS, seed: int = 0) -> ItemSet:
    """Colour palettes, 5 RGB colours in [0, 1] each (synthetic when no source is given)."""
    if source is not None:
        return read_csv(source, PALETTE_SHAPE, PALETTE_KIND)
    items = synthetic_palettes(n_items, seed)
    return ItemSet(items, PALETTE_KIND, [f"synthetic seed {seed} #{i}" for i in range(n_items)])


def patterns(source: str | Path | None = None, n_items: int = DEFAULT_ITEMS, seed: int = 1) -> ItemSet:
    """Light patterns, 2 segments x 8 steps x 2 lamps in [0, 1] (synthetic when no source is given)."""
    if source is not None:
        return read_csv(source, PATTERN_SHAPE, SAMPLE_KIND)
    items = synthetic_patterns(n_items, seed)
    return ItemSet(items, SAMPLE_KIND, [f"synthetic seed {seed} #{i}" for i in range(n_items)])
