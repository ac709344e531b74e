"""Training curves from ``metrics.csv``: one PNG per metric, generated vs real (the paper's Fig. 7).

``metrics.csv`` has one row per evaluation. Its columns are ``step`` (generator updates),
``wall_time`` (Unix seconds), the losses (``critic/...``, ``generator/...``, means over the last
logging interval), each metric of the generated samples (``NAME/trackK`` for a per-track metric,
``NAME`` for a whole-sample one) and the same metric of real samples (``real/NAME/trackK``).
Plots use matplotlib's object API with the Agg canvas, so no display and no global state.
``metrics.csv`` is read only when it is a regular file, not a symbolic link, of at most
:data:`CSV_LIMIT` bytes.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import defaultdict
from pathlib import Path

from crossmodal.storage.files import atomic_write, own_folder, read_limited

__all__ = ["CSV_LIMIT", "LOSS_PREFIXES", "metric_columns", "plot_curves", "read_metrics"]

CSV_LIMIT = 256 * 2**20
"""Largest ``metrics.csv`` or ``progress.csv`` crossmodal reads: 256 MiB (a row per evaluation or
logging interval is about 100 bytes to a few KiB, so millions of rows)."""

LOSS_PREFIXES = ("critic/", "generator/")
_BOOKKEEPING = ("step", "wall_time")
_TRACK = re.compile(r"^(?P<metric>.+)/track(?P<track>\d+)$")


def read_metrics(path: str | Path) -> tuple[list[str], list[dict[str, float]]]:
    """The header and rows of a ``metrics.csv`` (empty cells become NaN).

    :raises OutputError: it is a symbolic link, not a regular file or larger than :data:`CSV_LIMIT`.
    """
    reader = csv.DictReader(io.StringIO(read_limited(path, CSV_LIMIT).decode("utf-8"), newline=""))
    header = list(reader.fieldnames or [])
    rows = [{k: float(v) if v not in ("", None) else math.nan for k, v in row.items()} for row in reader]
    return header, rows


def metric_columns(header: list[str]) -> dict[str, list[tuple[str, int | None]]]:
    """Generated-sample metric columns grouped by metric: name -> [(column, track or None)]."""
    groups: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
    for column in header:
        if column in _BOOKKEEPING or column.startswith(LOSS_PREFIXES) or column.startswith("real/"):
            continue
        match = _TRACK.match(column)
        if match:
            groups[match["metric"]].append((column, int(match["track"])))
        else:
            groups[column].append((column, None))
    return dict(groups)


def _file_name(metric: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", metric).strip("_") or "metric"


def _save(figure, path: Path) -> None:
    """Write the PNG through :func:`~crossmodal.storage.files.atomic_write` (a full disk: one OutputError)."""
    atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=100))


def plot_curves(csv_path: str | Path, out_dir: str | Path) -> list[Path]:
    """Draw ``out_dir/<metric>.png`` for every metric in ``csv_path``, plus ``losses.png``.

    Each track gets its own colour: a solid line for the generated samples over the steps and a
    dashed horizontal line at the real samples' value.

    :returns: the PNG files written.
    :raises OutputError: a PNG could not be written (naming it; the previous one is unchanged), or
        ``csv_path`` or ``out_dir`` is refused (a symbolic link...; see :func:`read_metrics`).
    """
    from matplotlib.figure import Figure

    header, rows = read_metrics(csv_path)
    out_dir = own_folder(out_dir)
    steps = [row["step"] for row in rows]
    written = []
    for metric, columns in metric_columns(header).items():
        figure = Figure(figsize=(6, 4))
        axes = figure.add_subplot()
        for colour, (column, track) in enumerate(columns):
            label = "generated" if track is None else f"track {track}"
            axes.plot(steps, [row[column] for row in rows], color=f"C{colour}", marker=".", label=label)
            real_column = f"real/{column}"
            if real_column in header and rows and not math.isnan(rows[-1][real_column]):
                axes.axhline(rows[-1][real_column], color=f"C{colour}", linestyle="--",
                             label=f"real{'' if track is None else f' track {track}'}")
        axes.set_xlabel("generator step")
        axes.set_ylabel(metric)
        axes.set_title(f"{metric}: generated (solid) vs real (dashed)")
        axes.legend(fontsize="small")
        path = out_dir / f"{_file_name(metric)}.png"
        _save(figure, path)
        written.append(path)
    loss_columns = [c for c in header if c.startswith(LOSS_PREFIXES)]
    if loss_columns and rows:
        figure = Figure(figsize=(6, 4))
        axes = figure.add_subplot()
        for column in loss_columns:
            axes.plot(steps, [row[column] for row in rows], marker=".", label=column)
        axes.set_xlabel("generator step")
        axes.set_ylabel("loss")
        axes.legend(fontsize="small")
        path = out_dir / "losses.png"
        _save(figure, path)
        written.append(path)
    return written
