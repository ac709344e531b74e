"""Writing files safely, and naming them in messages: the one helper of each kind, for the core
and for plugins.

Public: :func:`atomic_write`, :func:`atomic_write_text`, :func:`write_synced`, :func:`failure_reason`, :func:`fsync_dir`,
:func:`leftover_name`, :func:`remove_leftovers`, :func:`shown`.

* Every file crossmodal writes goes through :func:`atomic_write` (or, for generated outputs,
  :func:`crossmodal.outputs.write_new`, which never replaces an existing file): it is written to a temporary
  file in the same folder, flushed, fsynced and renamed onto its name, so a kill or a full disk
  leaves either the old file or the new one, never half of one. A failed write (``OSError``, or
  the ``RuntimeError`` torch raises when its zip writer hits a full disk) becomes one
  :class:`~crossmodal.errors.OutputError` that names the file.
* Temporary names carry the writing process's id (:func:`leftover_name`), so a later run can
  tell a leftover of a killed process from a file another live process is writing, and
  :func:`remove_leftovers` deletes only the former.
* :func:`shown` is how a path or a name appears in a message: control characters (a newline in
  a file name) are escaped, so a name cannot forge a log line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

from .errors import OutputError

__all__ = [
    "atomic_write",
    "atomic_write_text",
    "failure_reason",
    "fsync_dir",
    "leftover_name",
    "remove_leftovers",
    "shown",
    "write_synced",
]

_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|building|old)-(?P<pid>\d+)(?:-[0-9a-z_]+)?$")
"""``.<name>.<kind>-<pid>[-<unique>]``: a temporary file or folder written by process ``pid``."""


def shown(path: str | os.PathLike[str]) -> str:
    """``path`` as it appears in a message: printable characters as they are, others escaped.

    >>> shown("bad\\nname.png")
    'bad\\\\nname.png'
    """
    text = os.fspath(path)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def fsync_dir(directory: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk, where the platform allows it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # folders cannot be opened on some platforms; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def leftover_name(path: Path, kind: str = "tmp") -> Path:
    """The temporary sibling ``.<name>.<kind>-<pid>`` of ``path`` (kind: tmp, building or old)."""
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_leftovers(folder: Path, names: Iterable[str] | None = None) -> list[Path]:
    """Delete temporary files and folders in ``folder`` left by processes that no longer run.

    Only entries named by :func:`leftover_name` are considered, so nothing the user made is
    touched; those of a process that is still alive (another run writing now) are kept.

    :param names: only the leftovers of these target names (default: any).
    :returns: the paths removed.
    """
    import shutil

    wanted = None if names is None else set(names)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = _LEFTOVER.match(entry.name)
        if match is None or (wanted is not None and match["name"] not in wanted):
            continue
        if _alive(int(match["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, rename it onto ``path``.

    :raises OutputError: the write failed (a full disk, no permission...); the temporary file is
        removed and whatever was at ``path`` before is unchanged.
    :returns: ``path``.
    """
    path = Path(path)
    tmp = leftover_name(path)
    write_synced(tmp, write, path)
    try:
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{shown(path)}: could not be written ({failure_reason(err)}); nothing was replaced") from err
    fsync_dir(path.parent)
    return path


def write_synced(tmp: Path, write: Callable[[BinaryIO], object], target: Path, mode: str = "wb") -> None:
    """Call ``write(file)`` on the new temporary file ``tmp``, flush and fsync it (the first half
    of every safe write; the caller then gives it ``target``'s name).

    :param mode: ``"wb"``, or ``"xb"`` to refuse a ``tmp`` that already exists.
    :raises OutputError: the write failed; it names ``target``, and ``tmp`` is removed.
    """
    try:
        with open(tmp, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except (OSError, RuntimeError) as err:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{shown(target)}: could not be written ({failure_reason(err)}); nothing was replaced") from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """:func:`atomic_write` of ``text`` encoded as UTF-8."""
    return atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def failure_reason(err: BaseException) -> str:
    """The cause of a failed write in a few words: ``strerror`` ("No space left on device"), or
    the first line of torch's zip-writer error with a hint that the disk may be full."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    lines = str(err).strip().splitlines()
    text = lines[0].strip() if lines else type(err).__name__
    if "unexpected pos" in text or "write" in text.lower():
        return f"{text} - is the disk full?"
    return text
