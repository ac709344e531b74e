"""The run folder's lock: one training process per run folder at a time.

Public: :class:`RunLock`, :data:`LOCK_NAME`.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from crossmodal.errors import OutputError, RunInUseError
from crossmodal.storage.files import open_regular, shown

__all__ = ["LOCK_NAME", "RunLock"]

LOCK_NAME = "run.lock"
"""Name of the lock file in a run folder; it holds the holder's ``pid host``."""


class RunLock:
    """An exclusive lock on a run folder: ``flock`` on its ``run.lock`` file.

    The kernel releases the lock when its holder exits, however it exits, so a lock left by a
    killed process never blocks a later run. The file holds the holder's ``pid host`` (for the
    message of a refused process); it stays in the folder when the lock is released. A
    ``run.lock`` that is a symbolic link or not a regular file is refused, never written through.
    Where ``fcntl`` is missing (Windows) the lock does nothing.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock (nothing to do when this object holds it).

        :raises RunInUseError: another process holds it (naming its pid and host).
        :raises OutputError: the lock file cannot be opened or written, or is a symbolic link or
            not a regular file.
        """
        if self._fd is not None:
            return
        try:
            import fcntl
        except ImportError:  # no flock on this platform
            return
        try:
            fd = open_regular(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OutputError:  # a link or not a regular file: already names it
            raise
        except OSError as err:
            raise OutputError(f"{shown(self.path)}: cannot open the run's lock file ({err.strerror})") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = self._holder(fd)
            os.close(fd)
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputError(f"{shown(self.path)}: cannot lock the run folder ({err.strerror})") from err
            raise RunInUseError(
                f"run {shown(self.run_dir)} is in use by {holder}; wait until it ends or stop "
                "it (Ctrl-C writes a checkpoint), then resume"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode("utf-8"))
        except OSError as err:
            os.close(fd)
            raise OutputError(f"{shown(self.path)}: could not be written ({err.strerror})") from err
        self._fd = fd

    @staticmethod
    def _holder(fd: int) -> str:
        """Who holds the lock, from the first bytes of the lock file open at ``fd``."""
        try:
            words = os.pread(fd, 256, 0).decode("utf-8", errors="replace").split()
        except OSError:
            words = []
        if not words:
            return "another process"
        host = f" on {shown(words[1])}" if len(words) > 1 else ""
        return f"process {shown(words[0])}{host}"

    def release(self) -> None:
        """Let the lock go (the file stays; nothing to do when not held)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.close(fd)  # closing the only descriptor releases the flock
