"""A run folder's files, written by the main process only.

A run folder holds ``config.json``, ``metrics.csv`` (one row per evaluation), ``progress.csv``
(one row per logging interval: ``step``, ``wall_time``, ``seconds_per_step``, ``updates`` and
the losses), ``curves/*.png``, ``samples/step-XXXXXX/`` (and ``samples/conditions.txt``),
``checkpoints/``, ``run.lock`` and, when TensorBoard is installed, ``tensorboard/``. Every file
is written atomically (:mod:`crossmodal.storage.files`) or, for the two CSV files, appended and fsynced;
a failed write raises :class:`~crossmodal.errors.OutputError` naming the file.

A run folder may come from someone else (copied, unpacked), so nothing in it is trusted: its
files are opened without following symbolic links and only when they are regular files, the two
CSV files are read only up to :data:`~crossmodal.callbacks.curves.CSV_LIMIT` bytes, and its folders are
refused when they are links (:func:`crossmodal.storage.files.open_regular`, :func:`~crossmodal.storage.files.own_folder`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Callable, Mapping, Sequence

import torch

from crossmodal.training import distributed
from crossmodal.job.build import Job, count_parameters
from crossmodal.training.config import TrainConfig
from crossmodal.callbacks.curves import CSV_LIMIT, plot_curves
from crossmodal.errors import OutputError, RunInUseError
from crossmodal.storage.files import atomic_write_text, check_folder, open_regular, own_folder, read_limited, remove_leftovers, shown
from crossmodal.storage.runlock import RunLock
from crossmodal.version import __version__

_LEGACY_TEMPORARY = ("config.json.tmp", "metrics.csv.tmp")  # earlier versions' temporary names, without a pid
_FOLDERS = ("checkpoints", "curves", "samples", "tensorboard")
"""The run folder's own folders: each must be a real folder, never a symbolic link."""
_HEADER_LIMIT = 1 << 20
"""Longest first line (header) of a CSV file that :func:`_append_row` reads, in bytes."""


def output_error(path: Path, err: OSError, action: str = "written") -> OutputError:
    """``err`` as one :class:`OutputError` naming ``path``."""
    reason = err.strerror or str(err) or type(err).__name__
    return OutputError(f"{shown(path)}: could not be {action} ({reason})")


def hold_lock(lock: RunLock | None, world_size: int) -> None:
    """Take a run folder's lock (the main process passes it, the others ``None``).

    Every process calls it: with several processes the main one's refusal is broadcast, so all
    of them raise it and none goes on to train alone.

    :raises RunInUseError: another process holds the lock.
    :raises OutputError: the lock file cannot be opened or written.
    """
    refusal = None
    if lock is not None:
        try:
            lock.acquire()
        except (RunInUseError, OutputError) as err:
            refusal = err
    if world_size > 1:
        message = distributed.broadcast_object(None if refusal is None else (type(refusal).__name__, str(refusal)))
        if refusal is None and message is not None:
            refusal = (RunInUseError if message[0] == "RunInUseError" else OutputError)(message[1])
    if refusal is not None:
        raise refusal


def _step_of(row: list[str]) -> float:
    try:
        return float(row[0])
    except ValueError:
        return math.inf  # a damaged row: dropped with those after the checkpoint


def _header(handle: BinaryIO, path: Path) -> list[str] | None:
    """The first row of the CSV file open (binary) at ``handle`` (``None``: the file is empty).

    :raises OutputError: that line is longer than :data:`_HEADER_LIMIT` (naming the file).
    """
    line = handle.readline(_HEADER_LIMIT)
    if len(line) == _HEADER_LIMIT and not line.endswith(b"\n"):
        raise OutputError(
            f"{shown(path)}: its first line is over {_HEADER_LIMIT:,} bytes long; not a file crossmodal wrote"
        )
    return next(csv.reader([line.decode("utf-8")]), None) if line else None


def _append_row(path: Path, row: Mapping[str, Any], leading: Sequence[str], dict_rows: bool = True) -> None:
    """Append ``row`` to the CSV file ``path`` (flushed and fsynced); a new file's header is
    ``leading``, then the rest of ``row``'s keys; cells the header lacks are left out.

    :param dict_rows: write through :class:`csv.DictWriter` (else :func:`csv.writer`, same text).

    :raises OutputError: when it cannot be read or written (e.g. a full disk), or is a symbolic
        link or not a regular file, naming the file.
    """
    try:
        with os.fdopen(open_regular(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644), "r+b") as handle:
            header = _header(handle, path)
            new_file = header is None
            if new_file:
                header = list(dict.fromkeys([*leading, *row.keys()]))
            text = io.StringIO(newline="")
            if dict_rows:
                writer = csv.DictWriter(text, fieldnames=header, restval="", extrasaction="ignore")
                if new_file:
                    writer.writeheader()
                writer.writerow(row)
            else:  # the same text, written as a list of cells in the header's order
                if new_file:
                    csv.writer(text).writerow(header)
                csv.writer(text).writerow([row.get(column, "") for column in header])
            handle.write(text.getvalue().encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
    except OutputError:  # refused: already names the file
        raise
    except OSError as err:
        raise output_error(path, err) from err


def _forget_rows_after(path: Path, step: int) -> None:
    """Drop the rows of the CSV file ``path`` whose step (first column) is past ``step``.

    :raises OutputError: when the file cannot be read or rewritten, is a symbolic link, not a
        regular file or larger than :data:`~crossmodal.callbacks.curves.CSV_LIMIT` (naming it).
    """
    try:
        content = read_limited(path, CSV_LIMIT)
    except FileNotFoundError:
        return
    except OutputError:  # refused: already names the file
        raise
    except OSError as err:
        raise output_error(path, err, "read") from err
    rows = list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))
    kept = rows[:1] + [row for row in rows[1:] if row and _step_of(row) <= step]
    if len(kept) == len(rows):
        return
    text = io.StringIO(newline="")
    csv.writer(text).writerows(kept)
    atomic_write_text(path, text.getvalue())


class RunFolder:
    """The files of one run folder at ``path``, and its lock.

    :param lock: the folder's :class:`RunLock`, maybe already taken (default: a new one).
    """

    def __init__(self, path: str | Path, lock: RunLock | None = None) -> None:
        self.path = Path(path)
        self.lock = lock if lock is not None else RunLock(self.path)
        self.tensorboard: Any = None
        self.prepared = False

    def open(self, world_size: int, write_config: Callable[[], object]) -> None:
        """Take the lock (:func:`hold_lock`); the first time, also create the folder, remove the
        leftovers of killed processes and ``write_config()`` (letting the lock go if that fails)."""
        if not self.prepared:
            self.path.mkdir(parents=True, exist_ok=True)
        hold_lock(self.lock, world_size)
        if not self.prepared:
            try:
                self.check_folders()
                self.remove_leftovers()
                write_config()
            except BaseException:
                self.lock.release()
                raise
            self.prepared = True

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def progress(self) -> Path:
        return self.path / "progress.csv"

    def check_folders(self) -> None:
        """Refuse a ``checkpoints/``, ``curves/``, ``samples/`` or ``tensorboard/`` that is a
        symbolic link or not a folder, before anything is read or written in it.

        :raises OutputError: naming the first such entry.
        """
        for name in _FOLDERS:
            check_folder(self.path / name)

    def remove_leftovers(self) -> None:
        """Delete what killed processes left half-written (the lock says no one writes them now)."""
        for folder in (self.path, self.path / "curves", self.path / "samples"):
            remove_leftovers(folder)
        for name in _LEGACY_TEMPORARY:
            (self.path / name).unlink(missing_ok=True)

    def write_config(self, document: Mapping[str, Any]) -> Path:
        """Write ``config.json`` (indented JSON)."""
        return atomic_write_text(self.path / "config.json", json.dumps(document, indent=2) + "\n")

    def append_metrics(self, row: Mapping[str, float], leading: Sequence[str]) -> None:
        """Append ``row`` to ``metrics.csv`` (flushed and fsynced); a new file's header is
        ``step, wall_time``, then ``leading`` (the loss names), then the rest of ``row``'s keys.

        :raises OutputError: when it cannot be read or written (e.g. a full disk), naming the file.
        """
        _append_row(self.metrics, row, ["step", "wall_time", *leading])

    def append_progress(self, row: Mapping[str, Any], losses: Sequence[str]) -> None:
        """Append a logging interval's ``row`` to ``progress.csv`` (flushed and fsynced); a new
        file's header is ``step, wall_time, seconds_per_step, updates``, then ``losses``.

        :raises OutputError: when it cannot be read or written, naming the file.
        """
        _append_row(self.progress, row, ["step", "wall_time", "seconds_per_step", "updates", *losses], dict_rows=False)

    def forget_metrics_after(self, step: int) -> None:
        """Drop the ``metrics.csv`` and ``progress.csv`` rows past ``step`` (written after the
        checkpoint being resumed).

        :raises OutputError: when a file cannot be read or rewritten (naming it).
        """
        for path in (self.metrics, self.progress):
            _forget_rows_after(path, step)

    def draw_curves(self) -> None:
        """Redraw ``curves/*.png`` from ``metrics.csv``."""
        curves = self.path / "curves"
        try:
            plot_curves(self.metrics, curves)
        except OutputError:  # already names its file
            raise
        except OSError as err:
            raise output_error(curves, err) from err

    def write_samples(
        self, step: int, samples: torch.Tensor, write: Callable[[torch.Tensor, Path], Sequence[Path]],
        condition_lines: Callable[[], list[str]],
    ) -> list[Path]:
        """Write ``samples`` ``(n, *sample_shape)`` with ``write(samples, folder)`` to
        ``samples/step-XXXXXX/``; the first call also lists their conditions in ``samples/conditions.txt``."""
        folder = self.path / "samples" / f"step-{step:06d}"
        try:
            own_folder(folder.parent)
            own_folder(folder)
        except OutputError:  # a link or not a folder: already names it
            raise
        except OSError as err:
            raise output_error(folder, err) from err
        listing = self.path / "samples" / "conditions.txt"
        if not listing.exists():
            atomic_write_text(listing, "\n".join(condition_lines()) + "\n")
        try:
            return list(write(samples, folder))
        except OutputError:  # already names its file
            raise
        except OSError as err:  # a full disk while the plugin's writer wrote
            raise output_error(folder, err) from err

    def open_tensorboard(self) -> bool:
        """Log to ``tensorboard/`` when ``torch.utils.tensorboard`` imports; returns whether it does."""
        if self.tensorboard is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                return False
            self.tensorboard = SummaryWriter(str(self.path / "tensorboard"))
        return True

    def log_scalars(self, prefix: str, values: Mapping[str, float], step: int) -> None:
        """Add ``prefix/name`` scalars at ``step`` to TensorBoard, when it is open."""
        if self.tensorboard is not None:
            for name, value in values.items():
                self.tensorboard.add_scalar(f"{prefix}/{name}", value, step)

    def close(self) -> None:
        """Let the lock go and close TensorBoard's writer."""
        self.lock.release()
        if self.tensorboard is not None:
            self.tensorboard.close()
            self.tensorboard = None


def open_run(folder: RunFolder | None, world_size: int, write_config: Callable[[], object]) -> None:
    """Every process calls it: the main one opens ``folder`` (:meth:`RunFolder.open`), the others
    (``folder`` is ``None``) learn its refusal, if any (:func:`hold_lock`).

    :raises RunInUseError: another process holds the lock.
    :raises OutputError: the folder, its lock or ``config.json`` cannot be written.
    """
    if folder is None:
        hold_lock(None, world_size)
    else:
        folder.open(world_size, write_config)


def run_config(
    job: Job, config: TrainConfig, plugin_versions: Mapping[str, str], device: torch.device
) -> dict[str, Any]:
    """``config.json``'s contents: recipe, components, data, training options, plugins, versions,
    device and parameter counts."""
    return {
        "recipe": job.spec.recipe,
        "job": job.spec.to_dict(),
        "training": config.to_dict(),
        "plugins": dict(plugin_versions),
        "crossmodal_version": __version__,
        "torch_version": torch.__version__,
        "device": str(device),
        "parameters": {"generator": count_parameters(job.generator), "critic": count_parameters(job.critic)},
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
