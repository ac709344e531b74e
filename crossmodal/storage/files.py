"""Writing files safely, and naming them in messages: the one helper of each kind, for the core
and for plugins.

Public: :func:`atomic_write`, :func:`atomic_write_text`, :func:`write_synced`, :func:`failure_reason`, :func:`fsync_dir`,
:func:`leftover_name`, :func:`remove_leftovers`, :func:`shown`, :func:`open_regular`, :func:`read_limited`,
:func:`check_folder`, :func:`own_folder`.

* Every file crossmodal writes goes through :func:`atomic_write` (or, for generated outputs,
  :func:`crossmodal.storage.outputs.write_new`, which never replaces an existing file): it is written to a temporary
  file in the same folder, flushed, fsynced and renamed onto its name, so a kill or a full disk
  leaves either the old file or the new one, never half of one. A failed write (``OSError``, or
  the ``RuntimeError`` torch raises when its zip writer hits a full disk) becomes one
  :class:`~crossmodal.errors.OutputError` that names the file.
* Temporary names carry the writing process's id (:func:`leftover_name`), so a later run can
  tell a leftover of a killed process from a file another live process is writing, and
  :func:`remove_leftovers` deletes only the former.
* :func:`shown` is how a path or a name appears in a message: control characters (a newline in
  a file name) are escaped, so a name cannot forge a log line.
* Links are never followed to crossmodal's own files: :func:`open_regular` opens a file only when
  it is a regular file and not a symbolic link, :func:`read_limited` also refuses one larger than
  a bound, and :func:`check_folder` / :func:`own_folder` refuse a folder that is a link (a run
  folder copied from someone else may hold links to any file of the user's).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

from crossmodal.errors import OutputError, shown

__all__ = [
    "atomic_write",
    "atomic_write_text",
    "check_folder",
    "failure_reason",
    "fsync_dir",
    "leftover_name",
    "open_regular",
    "own_folder",
    "read_limited",
    "remove_leftovers",
    "shown",
    "write_synced",
]

_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|building|old)-(?P<pid>\d+)(?:-[0-9a-z_]+)?$")
"""``.<name>.<kind>-<pid>[-<unique>]``: a temporary file or folder written by process ``pid``."""

_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
_NON_BLOCKING = getattr(os, "O_NONBLOCK", 0)  # opening a named pipe must not wait for a writer
_KINDS = ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def _refusal(path: str | os.PathLike[str], mode: int, wanted: str) -> OutputError:
    """The error that refuses ``path``, whose ``lstat`` mode is ``mode``, where a ``wanted``
    (``"regular file"``, ``"folder"``) must be: it is a symbolic link, or something else."""
    if stat.S_ISLNK(mode):
        return OutputError(
            f"{shown(path)}: is a symbolic link; crossmodal never follows links to its own files and folders, "
            "so nothing was read or written through it"
        )
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return OutputError(f"{shown(path)}: is {kind}, not a {wanted}; refusing to use it")


def open_regular(path: str | os.PathLike[str], flags: int = os.O_RDONLY, mode: int = 0o666) -> int:
    """``os.open(path, flags, mode)`` that never follows a symbolic link and opens only a regular
    file: never a folder, a named pipe or a device such as ``/dev/zero``.

    :returns: the file descriptor (blocking, not inherited by child processes).
    :raises OutputError: ``path`` is a symbolic link or not a regular file (naming it and which).
    :raises OSError: it cannot be opened otherwise (missing, no permission...).
    """
    if not _NO_FOLLOW and os.path.islink(path):  # a platform without O_NOFOLLOW
        raise _refusal(path, stat.S_IFLNK, "regular file")
    try:
        fd = os.open(path, flags | _NO_FOLLOW | _BINARY | _NON_BLOCKING, mode)
    except OSError:
        if os.path.islink(path):  # ELOOP (EMLINK on some BSDs) from O_NOFOLLOW
            raise _refusal(path, stat.S_IFLNK, "regular file") from None
        raise
    kind = os.fstat(fd).st_mode
    if not stat.S_ISREG(kind):
        os.close(fd)
        raise _refusal(path, kind, "regular file")
    if _NON_BLOCKING:
        os.set_blocking(fd, True)
    return fd


def read_limited(path: str | os.PathLike[str], limit: int) -> bytes:
    """The content of the regular file ``path`` (:func:`open_regular`), at most ``limit`` bytes.

    :raises OutputError: it is a symbolic link, not a regular file, or larger than ``limit``
        bytes (nothing is read then); the message names it.
    :raises OSError: it cannot be opened or read otherwise.
    """
    with os.fdopen(open_regular(path), "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise OutputError(
                f"{shown(path)}: is {size:,} bytes, more than the {limit:,} crossmodal reads from it; refusing to read it"
            )
        return handle.read(size)


def check_folder(path: str | os.PathLike[str]) -> bool:
    """Whether the folder ``path`` exists (``False``: nothing has that name).

    :raises OutputError: ``path`` is a symbolic link (to a folder or not) or not a folder.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(mode):
        raise _refusal(path, mode, "folder")
    return True


def own_folder(path: str | os.PathLike[str]) -> Path:
    """``path`` as a folder: created (with missing parents) unless it exists; returns it.

    :raises OutputError: ``path`` is a symbolic link or not a folder (:func:`check_folder`).
    :raises OSError: it cannot be created.
    """
    path = Path(path)
    if not check_folder(path):
        path.mkdir(parents=True, exist_ok=True)
    return path


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
            try:
                entry.unlink(missing_ok=True)
            except PermissionError:  # another user's file in a shared folder (a sticky /tmp): theirs to remove
                continue
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

    ``tmp`` is always created anew (``O_EXCL``), so whatever had its name, a symbolic link
    included, is never followed nor written through.

    :param mode: ``"wb"`` to first remove whatever has the name ``tmp`` (a temporary name of this
        process's, so only a leftover), or ``"xb"`` to refuse a ``tmp`` that already exists.
    :raises OutputError: the write failed; it names ``target``, and ``tmp`` is removed.
    """
    try:
        if mode == "wb":
            tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NO_FOLLOW | _BINARY, 0o666)
        with os.fdopen(fd, "wb") as handle:
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
