"""The Starlette app of ``crossmodal serve``: one page, a small JSON API, and the files it made.

Routes (every asset is served from this package; the page loads nothing from elsewhere):

``GET /``, ``GET /static/NAME``
    The page (``static/page.html``) and its script and style sheet.
``GET /info``
    ``{"recipe", "source", "renderer", "upload_limit_bytes", "max_samples"}``: what is loaded and
    the limits the page states.
``POST /jobs``
    A multipart form: ``file`` (the condition file), ``seed`` (0 to :data:`MAX_SEED`),
    ``samples`` (1 to :data:`MAX_SAMPLES`); the request must carry the header
    :data:`REQUEST_HEADER`, which the page's script sends and a form on another site cannot.
    Answers 202 with the job's status at once; 400 (a malformed form, or an upload its client
    abandoned: one line in the log, no traceback), 408 (the body took longer than
    :data:`UPLOAD_SECONDS`; the connection is closed), 413 (more than :data:`UPLOAD_LIMIT_BYTES`,
    refused before the rest is read), 422 (a bad seed or sample count) or 503 (the queue is
    full), each as ``{"error": "one line"}``.
``GET /jobs/ID``
    The job's status: ``{"id", "state", "ahead", "seconds", "error", "preview", "files"}`` with
    ``state`` one of ``queued``, ``generating``, ``done``, ``error``; ``ahead`` the jobs before it,
    ``seconds`` how long it has waited (queued) or has been generating (since it started; its run
    time once finished), ``error`` the
    one-line message of a failed job (an unusable condition file, say), ``files`` a list of
    ``{"name", "url", "type"}`` (its media type) and ``preview`` the entry of the condition preview.
``GET /files/ID/NAME``
    A file a job made, by the exact name its status lists; any other name is 404, so no path
    can reach outside the job's files.

The page shows each file by its media type: ``image/*`` as an image, ``audio/*`` the browser can
play as a player, every file as a download link. That is how a plugin chooses how its outputs are
shown: by the files its sample writer and renderer write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Sequence
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crossmodal.generation.web_jobs import GenerationRequest, JobQueue, QueueFull

if TYPE_CHECKING:  # pragma: no cover
    from crossmodal.generation.session import Generation

__all__ = ["create_app", "LOOPBACK_HOSTS", "MAX_SAMPLES", "MAX_SEED", "REQUEST_HEADER", "UPLOAD_LIMIT_BYTES",
           "UPLOAD_SECONDS"]

UPLOAD_LIMIT_BYTES = 20 * 1024 * 1024
"""Largest request body of ``POST /jobs`` in bytes (20 MiB: the file and the form around it)."""

UPLOAD_SECONDS = 60.0
"""Longest time the body of ``POST /jobs`` may take to arrive, from the end of its headers (the
largest upload at about 340 KiB/s); a client sending it slower, or not at all (slow-loris), gets
408 and its connection is closed."""

MAX_SAMPLES = 16
"""Most samples one request may ask for."""

MAX_SEED = 2**63 - 1
"""Largest noise seed (seeds are 0 to this)."""

REQUEST_HEADER = "X-Crossmodal-Request"
"""Header ``POST /jobs`` requires: a custom header makes a browser ask first (CORS preflight),
which this app never allows, so a page on another site cannot make a visitor's browser submit jobs."""

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
"""Host names a local server answers to (the ``Host`` header); others are refused, so that a
site whose name is made to resolve to 127.0.0.1 (DNS rebinding) cannot read the pages."""

STATIC = Path(__file__).with_name("static")
"""The page, its script and its style sheet."""

_PAGE_SECURITY = {
    "Content-Security-Policy": "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
"""Headers of every response: nothing loads from another origin, no type sniffing."""

_FILE_SECURITY = {**_PAGE_SECURITY, "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'; "
                                                             "media-src 'self'"}
"""Headers of the generated files: opened on their own, they cannot run scripts on this origin."""


_log = logging.getLogger(__name__)


class UploadTooLarge(Exception):
    """The request body is larger than :data:`UPLOAD_LIMIT_BYTES`."""


class UploadTooSlow(Exception):
    """The request body did not arrive within the upload time limit (:data:`UPLOAD_SECONDS`)."""


def create_app(generation: Generation, *, allowed_hosts: Sequence[str] | None = LOOPBACK_HOSTS,
               upload_seconds: float = UPLOAD_SECONDS) -> Starlette:
    """The web app serving ``generation``: the page, ``POST /jobs``, status and files.

    Its lifespan owns a :class:`~crossmodal.generation.web_jobs.JobQueue` (temporary folder and worker
    thread), started when the server starts and closed, its folder deleted, when it stops; run it
    with a lifespan-aware server (uvicorn) or ``with TestClient(app)``.

    :param allowed_hosts: host names (of the ``Host`` header) answered; others get 421. None
        answers any (a server reachable from other machines).
    :param upload_seconds: the time limit of an upload's body (:data:`UPLOAD_SECONDS`).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        with JobQueue(generation) as jobs:
            app.state.jobs = jobs
            yield

    app = Starlette(
        routes=[
            Route("/", _page),
            Route("/static/{name}", _static),
            Route("/info", _info),
            Route("/jobs", _submit, methods=["POST"]),
            Route("/jobs/{job}", _status),
            Route("/files/{job}/{name:path}", _file),
        ],
        lifespan=lifespan,
    )
    app.state.generation = generation
    app.state.upload_seconds = upload_seconds
    app.add_middleware(_AllowedHosts, hosts=allowed_hosts)
    return app


async def _page(request: Request) -> Response:
    return FileResponse(STATIC / "page.html", headers=_PAGE_SECURITY, media_type="text/html")


async def _static(request: Request) -> Response:
    name = request.path_params["name"]
    assets = {path.name: path for path in STATIC.iterdir() if path.is_file()}
    if name not in assets:
        return _error(404, f"no asset {name!r}")
    return FileResponse(assets[name], headers=_PAGE_SECURITY)


async def _info(request: Request) -> Response:
    generation = request.app.state.generation
    return JSONResponse({
        "recipe": generation.recipe, "source": generation.source, "renderer": generation.renderer_engine,
        "upload_limit_bytes": UPLOAD_LIMIT_BYTES, "max_samples": MAX_SAMPLES,
    }, headers=_PAGE_SECURITY)


async def _submit(request: Request) -> Response:
    if REQUEST_HEADER.lower() not in request.headers:
        return _error(400, f"requests must carry the header {REQUEST_HEADER} (the page sends it)")
    form = await _read_form(request)
    if isinstance(form, Response):
        return form
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _error(400, "choose a file to upload")
        try:
            seed = _integer(form.get("seed", "0"), "seed", 0, MAX_SEED)
            samples = _integer(form.get("samples", "1"), "samples", 1, MAX_SAMPLES)
        except ValueError as err:
            return _error(422, str(err))
        try:
            job = await run_in_threadpool(request.app.state.jobs.submit, upload.filename, upload.file, seed, samples)
        except QueueFull as err:
            return _error(503, f"the server is busy ({err}); try again in a moment")
    finally:
        await form.close()
    return _job_response(request.app.state.jobs, job.id, status_code=202)


async def _read_form(request: Request) -> FormData | Response:
    """The form of ``POST /jobs``, read within the size and time limits; else the error to answer
    (413 too large, 408 too slow, 400 abandoned by its client or malformed)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > UPLOAD_LIMIT_BYTES:
        return _error(413, _too_large())
    seconds = request.app.state.upload_seconds
    try:
        return await Request(request.scope, _bounded(request.receive, seconds)).form(max_files=1, max_fields=2)
    except UploadTooLarge:
        return _error(413, _too_large())
    except UploadTooSlow:
        _log.warning("crossmodal serve: an upload from %s took longer than %g s; refused", _client(request), seconds)
        return _error(408, f"the upload took longer than {seconds:g} s, the limit of this server",
                      headers={"Connection": "close"})
    except ClientDisconnect:
        _log.warning("crossmodal serve: an upload from %s ended early: its client disconnected", _client(request))
        return _error(400, "the upload ended early")
    except HTTPException as err:  # a malformed multipart body, or more than one file
        return _error(400, f"the upload could not be read: {err.detail}")


async def _status(request: Request) -> Response:
    return _job_response(request.app.state.jobs, request.path_params["job"])


async def _file(request: Request) -> Response:
    path = request.app.state.jobs.file(request.path_params["job"], request.path_params["name"])
    if path is None:
        return _error(404, "no such file")
    return FileResponse(path, headers=_FILE_SECURITY, media_type=_media_type(path.name))


def _job_response(jobs: JobQueue, job_id: str, status_code: int = 200) -> Response:
    found = jobs.status(job_id)
    if found is None:
        return _error(404, "no such job (finished jobs are forgotten after a while, and when the server stops)")
    job, ahead = found
    return JSONResponse(_status_of(job, ahead), status_code=status_code, headers=_PAGE_SECURITY)


def _status_of(job: GenerationRequest, ahead: int) -> dict:
    """The JSON status of ``job`` (see the module docstring)."""
    entries = {name: {"name": name.split("/")[-1], "url": f"/files/{job.id}/{name}", "type": _media_type(name)}
               for name in job.files}
    start = job.started if job.started is not None else job.submitted
    end = job.finished if job.finished is not None else time.monotonic()
    return {
        "id": job.id, "state": job.state, "ahead": ahead, "seconds": round(end - start, 3), "error": job.error,
        "preview": entries.get(job.preview) if job.preview else None,
        "files": [entry for name, entry in entries.items() if name != job.preview],
    }


def _media_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _integer(value: object, name: str, low: int, high: int) -> int:
    """``value`` (a form field) as an integer in ``[low, high]``; ValueError naming ``name`` else."""
    text = value.strip() if isinstance(value, str) else ""
    if not re.fullmatch(r"-?[0-9]{1,20}", text) or not low <= int(text) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {str(value)[:40]!r}")
    return int(text)


def _bounded(receive: Receive, seconds: float) -> Receive:
    """``receive`` that raises :class:`UploadTooLarge` once the body passes the limit, and
    :class:`UploadTooSlow` when it is still waiting for the body ``seconds`` after it was made."""
    seen = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def bounded() -> Message:
        nonlocal seen
        try:
            message = await asyncio.wait_for(receive(), deadline - loop.time())
        except asyncio.TimeoutError:
            raise UploadTooSlow from None
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > UPLOAD_LIMIT_BYTES:
                raise UploadTooLarge
        return message

    return bounded


def _client(request: Request) -> str:
    """The client's address for the log, ``host:port`` (``unknown`` when the server does not say)."""
    return f"{request.client.host}:{request.client.port}" if request.client else "unknown"


def _too_large() -> str:
    return f"the upload is larger than {UPLOAD_LIMIT_BYTES / 2**20:g} MiB, the limit of this server"


def _error(status_code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status_code, headers={**_PAGE_SECURITY, **(headers or {})})


class _AllowedHosts:
    """ASGI middleware answering 421 to an HTTP request whose ``Host`` is not one of ``hosts``."""

    def __init__(self, app: ASGIApp, hosts: Sequence[str] | None) -> None:
        self.app = app
        self.hosts = None if hosts is None else {host.lower().strip("[]") for host in hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.hosts is not None:
            header = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if (urlsplit(f"//{header}").hostname or "") not in self.hosts:
                response = PlainTextResponse(f"this server answers only to {', '.join(sorted(self.hosts))}",
                                             status_code=421)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
