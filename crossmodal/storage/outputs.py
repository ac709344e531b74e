"""Writing outputs without ever overwriting one: a taken name gets the next free number.

Public: :func:`write_new`, :func:`write_new_group`, :func:`claim_new`, :func:`numbered`, and for
a file that must have exactly the name asked for (``export-model --out``), :func:`check_free`
and :func:`write_once`.

The naming rule, for every generated file crossmodal writes (``crossmodal generate`` and the
bundled sample writers): a file is written under the name asked for when no file has it;
otherwise under ``<stem>-2<suffix>``, ``<stem>-3<suffix>``... the first number that is free.
Files that belong together (the data file and the picture of one sample, every file of one
condition) share one number, the first at which *all* their names are free, so they stay
paired. A name is claimed with ``os.link`` of the finished, fsynced temporary file, which fails
if the name exists, so two runs writing into one folder at the same time can never take the
same name nor see a half-written file.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Sequence

from crossmodal.errors import OutputError
from crossmodal.storage.files import failure_reason, fsync_dir, leftover_name, shown, write_synced

__all__ = ["MAX_NUMBER", "check_free", "claim_new", "numbered", "write_new", "write_new_group", "write_once"]

MAX_NUMBER = 100_000
"""Highest number tried before giving up (:class:`OutputError`)."""

_NO_HARD_LINKS = {errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


def numbered(path: str | os.PathLike[str], number: int) -> Path:
    """``path`` itself for number 1, else ``<stem>-<number><suffix>`` beside it.

    >>> numbered("out/x-0.mid", 2).name
    'x-0-2.mid'
    """
    path = Path(path)
    return path if number <= 1 else path.with_name(f"{path.stem}-{number}{path.suffix}")


def _write_temporary(path: Path, write: Callable[[BinaryIO], object]) -> Path:
    """``write(file)`` into a temporary sibling of ``path``, flushed and fsynced.

    Its name is :func:`~crossmodal.storage.files.leftover_name`'s plus a random part, so threads of one
    process never share one, and :func:`~crossmodal.storage.files.remove_leftovers` still knows it.
    """
    tmp = Path(f"{leftover_name(path)}-{secrets.token_hex(4)}")
    write_synced(tmp, write, path, mode="xb")
    return tmp


def _link_new(source: Path, target: Path) -> bool:
    """Give ``source``'s content the new name ``target``; :class:`FileExistsError` if it is taken.

    :returns: whether ``source`` was moved (no hard links here) rather than linked.
    """
    try:
        os.link(source, target)
        return False
    except FileExistsError:
        raise
    except OSError as err:
        if err.errno not in _NO_HARD_LINKS:
            raise
    # No hard links here (some network and FAT file systems): reserve the name exclusively,
    # then rename the finished file onto the reservation, which is atomic.
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    try:
        os.replace(source, target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return True


def _undo(claimed: list[tuple[Path, Path, bool]]) -> None:
    """Give back names claimed by an attempt that could not claim them all."""
    for source, target, moved in claimed:
        if moved:
            os.replace(target, source)
        else:
            target.unlink(missing_ok=True)


def claim_new(pairs: Sequence[tuple[Path, Path]], renumber: bool = True) -> list[Path]:
    """Give each finished file its wanted name, numbered together when any name is taken.

    :param pairs: ``(finished file, wanted path)``; each finished file must be on the same file
        system as its wanted path (a temporary file beside it, or in a sub-folder of its folder).
    :param renumber: ``False``: the wanted names only; a taken one is refused instead of numbered.
    :returns: the paths used, in order; the finished files are gone afterwards.
    :raises OutputError: a name could not be claimed (naming it); nothing claimed is left behind.
    """
    pairs = [(Path(source), Path(wanted)) for source, wanted in pairs]
    if not pairs:
        return []
    for number in range(1, (MAX_NUMBER if renumber else 1) + 1):
        claimed: list[tuple[Path, Path, bool]] = []
        try:
            for source, wanted in pairs:
                target = numbered(wanted, number)
                claimed.append((source, target, _link_new(source, target)))
        except FileExistsError:
            _undo(claimed)
            continue
        except OSError as err:
            _undo(claimed)
            wanted = numbered(pairs[len(claimed)][1], number)
            raise OutputError(f"{shown(wanted)}: could not be written ({failure_reason(err)})") from err
        for source, _ in pairs:
            source.unlink(missing_ok=True)
        for folder in {target.parent for _, target, _ in claimed}:
            fsync_dir(folder)
        return [target for _, target, _ in claimed]
    if not renumber:
        raise _taken(pairs[0][1])
    raise OutputError(
        f"{shown(pairs[0][1])}: could not be written, every numbered name up to -{MAX_NUMBER} is taken"
    )


def write_new_group(items: Iterable[tuple[str | os.PathLike[str], Callable[[BinaryIO], object]]],
                    renumber: bool = True) -> list[Path]:
    """Write files that belong together, each atomically, under names that did not exist.

    Each ``write(file)`` is called on a temporary file beside its path; when all are written
    they are given their names (or the first common number, see the module docstring).

    :param renumber: ``False``: exactly the names asked for, refused when one is taken.
    :returns: the paths written, in order.
    :raises OutputError: a write failed (a full disk...) or, without ``renumber``, a name is
        taken: it names the file, and no file of the group is left behind, neither a temporary
        one nor a finished one.
    """
    finished: list[tuple[Path, Path]] = []
    try:
        for path, write in items:
            path = Path(path)
            finished.append((_write_temporary(path, write), path))
        return claim_new(finished, renumber)
    finally:
        for tmp, _ in finished:
            tmp.unlink(missing_ok=True)


def write_new(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Write ``path`` atomically without overwriting: ``name-2.ext`` (and so on) when it exists.

    :returns: the path actually written.
    :raises OutputError: the write failed (naming the file); nothing is left behind.
    """
    return write_new_group([(path, write)])[0]


def _taken(path: Path) -> OutputError:
    return OutputError(f"{shown(path)} already exists; nothing was written (choose another name)")


def check_free(path: str | os.PathLike[str]) -> None:
    """Refuse ``path`` when anything has that name, a symbolic link (even a dangling one)
    included: call it before long work that ends in :func:`write_once`.

    :raises OutputError: naming ``path``.
    """
    if os.path.lexists(path):
        raise _taken(Path(path))


def write_once(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Write ``path`` atomically under exactly that name, never a numbered one.

    The finished temporary file is claimed as every output is (:func:`claim_new`: ``os.link``,
    which fails when the name exists), so a file, a folder or a symbolic link (even a dangling
    one) at ``path``, or another process that claimed it first, makes it refuse; nothing is replaced.

    :returns: ``path``.
    :raises OutputError: the name is taken, or the write failed (naming the file); nothing is
        left behind.
    """
    return write_new_group([(path, write)], renumber=False)[0]
