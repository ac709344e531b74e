"""The generation jobs of ``crossmodal serve``: one worker thread, one queue, a folder per job.

A request hands its uploaded condition file to :meth:`JobQueue.submit`, which copies it into a
fresh folder of its own under the queue's temporary folder and queues the job; the page then polls
:meth:`JobQueue.status`. One worker thread takes the jobs in order and is the only caller of the
:class:`~crossmodal.generation.session.Generation` (which is not safe to call from two threads at once), so
generations never overlap and each writes only into its own job's folder. Nothing here knows the
modality: a job's outputs are whatever files the recipe's writer (and renderer) made; the upload is
read inside :func:`crossmodal.generation.uploads.upload_being_read`, so the conditions dataset may hold it to
stricter limits.

The temporary folder is ``.crossmodal-serve.tmp-PID-RANDOM`` in the system's temporary directory
(:func:`crossmodal.storage.files.leftover_name`, with the server's process id): a server that was killed
(SIGKILL, a power cut) cannot delete its folder, so the next server to start deletes those of
servers no longer running (:func:`crossmodal.storage.files.remove_leftovers`). Its layout::

    ROOT/JOB/input/NAME      the upload, under its cleaned name (:func:`clean_name`)
    ROOT/JOB/out/...         what the generation wrote; served as ``out/...``
    ROOT/JOB/preview/...     the condition as the model sees it, when the conditions dataset can
                             draw it; served as ``preview/...``
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import re
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from crossmodal.errors import DataError
from crossmodal.storage.files import leftover_name, remove_leftovers, shown
from crossmodal.generation.uploads import upload_being_read

if TYPE_CHECKING:  # pragma: no cover
    from crossmodal.generation.session import Generation

__all__ = ["GenerationRequest", "JobQueue", "QueueFull", "clean_name", "MAX_WAITING", "MAX_JOBS_KEPT",
           "ROOT_NAME"]

MAX_WAITING = 8
"""Jobs that may wait for the worker at once; one more is refused (:class:`QueueFull`)."""

MAX_JOBS_KEPT = 32
"""Finished jobs (done or failed) whose files are kept; the oldest beyond this are deleted."""

ROOT_NAME = "crossmodal-serve"
"""Base name of a server's temporary folder (``.crossmodal-serve.tmp-PID-RANDOM``)."""

MAX_NAME_CHARS = 100
"""Longest cleaned upload name, in characters (the suffix included)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

_log = logging.getLogger(__name__)


class QueueFull(Exception):
    """:data:`MAX_WAITING` jobs already wait for the worker."""


def clean_name(name: str) -> str:
    """A file name safe to create in a job's folder, keeping the upload's stem and suffix.

    Only the last component of ``name`` is kept (``/`` and ``\\`` both separate), every run of
    characters other than ASCII letters, digits, ``.``, ``_`` and ``-`` becomes ``_``, leading dots
    are dropped (no hidden files, no ``..``), and the stem is cut so that the whole name has at
    most :data:`MAX_NAME_CHARS` characters. An empty result is ``condition``.

    >>> clean_name("../../etc/Monet: Impression, soleil levant.JPG")
    'Monet_Impression_soleil_levant.JPG'
    """
    last = re.split(r"[/\\]", name)[-1]
    cleaned = _UNSAFE.sub("_", last).lstrip(".")
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot or not stem:
        stem, suffix = cleaned, ""
    suffix = suffix[: MAX_NAME_CHARS // 2]
    stem = stem[: MAX_NAME_CHARS - len(suffix) - 1].strip("_") or "condition"
    return f"{stem}.{suffix}" if suffix else stem


@dataclasses.dataclass
class GenerationRequest:
    """One request: its condition file, its settings, where it stands and what it made.

    ``state`` goes ``queued`` -> ``generating`` -> ``done`` (or ``error``, with the one-line
    ``error``). Times are ``time.monotonic()`` seconds; ``files`` maps each served name (``out/NAME`` or
    ``preview/NAME``, relative to ``folder``) to its file.
    """

    id: str
    folder: Path
    condition: Path
    upload_name: str
    seed: int
    samples: int
    state: str = "queued"
    submitted: float = dataclasses.field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    files: dict[str, Path] = dataclasses.field(default_factory=dict)
    preview: str | None = None
    error: str | None = None


class JobQueue:
    """The jobs of one server, run one at a time by a worker thread with one ``generation``.

    Use as a context manager (or :meth:`start` / :meth:`close`): it deletes the temporary folders
    of killed servers, makes its own (``.crossmodal-serve.tmp-PID-RANDOM`` in the system's
    temporary directory, private to the user) and starts the worker; closing drops the jobs still
    waiting, waits for the running one, and deletes the folder with every job's files.

    :param generation: what generates; its ``generate`` is called with ``render=True`` when it
        has a sample renderer (``generation.renderer_engine`` is not None).
    """

    def __init__(self, generation: Generation, *, max_waiting: int = MAX_WAITING,
                 max_kept: int = MAX_JOBS_KEPT) -> None:
        self.generation = generation
        self.max_waiting = max_waiting
        self.max_kept = max_kept
        self.root: Path | None = None
        self._jobs: dict[str, GenerationRequest] = {}  # by id, oldest first
        self._waiting: list[str] = []  # ids of queued jobs, in order
        self._lock = threading.Lock()
        self._queue: queue.Queue[GenerationRequest | None] = queue.Queue()
        self._closing = threading.Event()
        self._worker: threading.Thread | None = None

    def start(self) -> JobQueue:
        """Delete the folders of servers no longer running, make this one's, start the worker thread."""
        temporary = Path(tempfile.gettempdir())
        remove_leftovers(temporary, [ROOT_NAME])
        self.root = Path(f"{leftover_name(temporary / ROOT_NAME)}-{secrets.token_hex(8)}")
        self.root.mkdir(mode=0o700)
        self._worker = threading.Thread(target=self._work, name="crossmodal-serve-worker", daemon=True)
        self._worker.start()
        return self

    def close(self) -> None:
        """Drop waiting jobs, wait for the running one, delete the temporary folder."""
        self._closing.set()
        self._queue.put(None)
        if self._worker is not None:
            self._worker.join()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> JobQueue:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, upload_name: str, upload: BinaryIO, seed: int, samples: int) -> GenerationRequest:
        """Copy ``upload`` (a readable binary file) into a new job's folder and queue the job.

        Blocking (it copies the file): call it off the event loop.

        :raises QueueFull: :attr:`max_waiting` jobs already wait; nothing is written.
        """
        if self.root is None:
            raise RuntimeError("JobQueue.submit before start()")
        with self._lock:
            if len(self._waiting) >= self.max_waiting:
                raise QueueFull(f"{len(self._waiting)} request(s) waiting")
            job_id = uuid.uuid4().hex
            folder = self.root / job_id
            job = GenerationRequest(job_id, folder, folder / "input" / clean_name(upload_name), upload_name, seed,
                                    samples)
            self._jobs[job_id] = job
            self._waiting.append(job_id)
        try:
            job.condition.parent.mkdir(parents=True)
            with open(job.condition, "xb") as handle:
                shutil.copyfileobj(upload, handle)
        except BaseException:  # a full disk, say: the job never existed
            with self._lock:
                del self._jobs[job_id]
                self._waiting.remove(job_id)
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._queue.put(job)
        self._forget_old()
        return job

    def status(self, job_id: str) -> tuple[GenerationRequest, int] | None:
        """A copy of the job and how many jobs run or wait before it (0 once it runs), or None
        for an unknown (or deleted) id."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            ahead = 0
            if job.state == "queued":
                ahead = self._waiting.index(job_id) + sum(j.state == "generating" for j in self._jobs.values())
            return dataclasses.replace(job, files=dict(job.files)), ahead

    def file(self, job_id: str, name: str) -> Path | None:
        """The file a finished job serves under ``name`` (``out/...``, ``preview/...``), or None.

        Only names the job recorded are found: ``name`` is looked up, never joined to a path.
        """
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.files.get(name)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None or self._closing.is_set():
                return
            with self._lock:
                self._waiting.remove(job.id)
                job.state, job.started = "generating", time.monotonic()
            files, preview, error = self._generate(job)
            with self._lock:
                job.files, job.preview, job.error = files, preview, error
                job.state, job.finished = ("error" if error else "done"), time.monotonic()

    def _generate(self, job: GenerationRequest) -> tuple[dict[str, Path], str | None, str | None]:
        """Run the generation of one job: ``(served name -> file, preview's served name, error)``."""
        render = self.generation.renderer_engine is not None
        try:
            with upload_being_read():
                data = self.generation.conditions(job.condition)  # read once, for the samples and the preview
            stem = job.condition.stem
            written = self.generation.write_samples(data, stem, job.folder / "out", samples=job.samples,
                                                    seed=job.seed, render=render)
            preview = self.generation.condition_preview(data, stem, job.folder / "preview")
        except DataError as err:
            return {}, None, self._message(job, str(err))
        except Exception as err:  # noqa: BLE001 - shown on the page; the traceback goes to the log
            _log.exception("crossmodal serve: generation of %s failed", shown(job.upload_name))
            return {}, None, self._message(job, f"generation failed: {type(err).__name__}: {err}")
        files = {path.relative_to(job.folder).as_posix(): path for path in [*written, *([preview] if preview else [])]}
        return files, (preview.relative_to(job.folder).as_posix() if preview else None), None

    @staticmethod
    def _message(job: GenerationRequest, message: str) -> str:
        """``message`` with the server's copy of the upload named as the user named it."""
        for text in (str(job.condition), shown(job.condition)):
            message = message.replace(text, shown(job.upload_name))
        return message

    def _forget_old(self) -> None:
        """Delete the oldest finished jobs (and their folders) beyond :attr:`max_kept`."""
        with self._lock:
            finished = [job for job in self._jobs.values() if job.state in ("done", "error")]
            old = finished[: max(0, len(finished) - self.max_kept)]
            for job in old:
                del self._jobs[job.id]
        for job in old:
            shutil.rmtree(job.folder, ignore_errors=True)
