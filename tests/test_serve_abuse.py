"""`crossmodal serve` under abuse, on the toy plugin: abandoned uploads, slow uploads, killed servers.

Checked here: an upload whose client disconnects half-way is one line in the log, never a
traceback (in the app, and through a real server for many of them); an upload whose body takes
longer than the time limit, even one byte at a time, gets 408 and its connection is closed; the
temporary folder of a server that was killed (SIGKILL), with the uploads in it, is deleted when the
next server starts, while those of running servers and the user's own folders are kept.
Jukepix's lower pixel limit for uploads: tests/test_serve_browser.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

for _module in ("starlette", "uvicorn", "python_multipart"):
    pytest.importorskip(_module, reason="crossmodal serve needs the serve extra: pip install 'crossmodal[serve]'")

from crossmodal.generation.web_app import REQUEST_HEADER, create_app  # noqa: E402
from crossmodal.generation.web_jobs import JobQueue  # noqa: E402
from test_serve import _SERVE, HEADERS, WAIT_SECONDS, Served, _vector, generation, toy_run  # noqa: E402,F401

LEFTOVER_PREFIX = ".crossmodal-serve.tmp-"
"""How the temporary folder of every server is named (then its process id and a random part)."""

BOUNDARY = "b0undary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def _file_part(name: str) -> bytes:
    """The start of a ``POST /jobs`` form: the part of the file ``name``, up to its content."""
    return f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'.encode()


def _upload_head(port: int, length: int) -> bytes:
    """The request line and headers of ``POST /jobs`` declaring a body of ``length`` bytes, and the
    start of that body."""
    return (f"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{REQUEST_HEADER}: 1\r\n"
            f"Content-Type: {CONTENT_TYPE}\r\nContent-Length: {length}\r\n\r\n").encode() + _file_part("v.txt")


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(LEFTOVER_PREFIX))


def _folders(folder: Path) -> list[Path]:
    """The folders in ``folder`` (the servers' temporary folders, in a test's own temporary folder)."""
    return sorted(p for p in folder.iterdir() if p.is_dir())


# -------------------------------------------------------------------------------------------
# A client that disconnects mid-upload
# -------------------------------------------------------------------------------------------


def test_an_upload_its_client_abandons_is_one_log_line_not_a_traceback(generation, caplog):
    """The app itself, as a server calls it: the client sends part of the body, then disconnects."""
    headers = [(b"host", b"127.0.0.1:8000"), (REQUEST_HEADER.lower().encode(), b"1"),
               (b"content-type", CONTENT_TYPE.encode()), (b"content-length", b"100000")]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/jobs", "raw_path": b"/jobs", "query_string": b"", "root_path": "", "headers": headers,
             "client": ("192.0.2.9", 50123), "server": ("127.0.0.1", 8000)}
    arriving = [{"type": "http.request", "body": _file_part("v.txt") + b"0.5\n" * 100, "more_body": True},
                {"type": "http.disconnect"}]
    sent = []

    async def receive():
        return arriving.pop(0)

    async def send(message):
        sent.append(message)

    with caplog.at_level(logging.WARNING):
        asyncio.run(create_app(generation)(scope, receive, send))  # raises nothing for the server to log
    (record,) = [r for r in caplog.records if r.name.startswith("crossmodal")]
    assert record.exc_info is None and len(record.getMessage().splitlines()) == 1
    assert "192.0.2.9:50123" in record.getMessage() and "disconnected" in record.getMessage()
    assert sent[0]["status"] == 400


@pytest.mark.slow
def test_many_abandoned_uploads_through_a_real_server_log_one_line_each(toy_run, tmp_path):
    uploads = 20
    log = tmp_path / "stderr.txt"
    with _serving(toy_run, tmp_path, log) as (_, port):
        for _ in range(uploads):
            with socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS) as conn:
                conn.sendall(_upload_head(port, 1_000_000) + b"0.5\n" * 1000)
        deadline = time.monotonic() + WAIT_SECONDS
        while log.read_text().count("disconnected") < uploads and time.monotonic() < deadline:
            time.sleep(0.1)
    text = log.read_text()
    assert "Traceback" not in text
    assert len([line for line in text.splitlines() if "ended early: its client disconnected" in line]) == uploads


# -------------------------------------------------------------------------------------------
# A client that uploads too slowly (slow-loris)
# -------------------------------------------------------------------------------------------


def test_an_upload_trickling_past_the_time_limit_gets_408_and_its_connection_closed(generation, caplog):
    with Served(create_app(generation, upload_seconds=0.5)) as port, \
            socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS) as conn:
        client = conn.getsockname()[1]
        conn.sendall(_upload_head(port, 10_000))
        answer = b""
        deadline = time.monotonic() + WAIT_SECONDS
        while not answer.endswith(b"}") and time.monotonic() < deadline:
            if select.select([conn], [], [], 0.05)[0]:  # the answer, or the server closing
                chunk = conn.recv(4096)
                if not chunk:
                    break
                answer += chunk
            else:
                conn.sendall(b"0")  # one more byte: never idle, always slow
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert b"connection: close" in answer.lower()
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {
            "error": "the upload took longer than 0.5 s, the limit of this server"}
        assert _closed_by_the_server(conn)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("crossmodal")] == [
        f"crossmodal serve: an upload from 127.0.0.1:{client} took longer than 0.5 s; refused"]


def _closed_by_the_server(conn: socket.socket) -> bool:
    """Whether the server closed ``conn``: it reads the end (or a reset) rather than waiting."""
    conn.settimeout(WAIT_SECONDS)
    try:
        return conn.recv(4096) == b""
    except ConnectionResetError:  # the server closed it with bytes of ours unread
        return True


# -------------------------------------------------------------------------------------------
# The temporary folder of a killed server
# -------------------------------------------------------------------------------------------


@pytest.mark.slow  # subprocesses (for dead pids)
def test_a_starting_server_deletes_only_the_folders_of_servers_no_longer_running(generation, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    killed = tmp_path / f"{LEFTOVER_PREFIX}{_dead_pid()}-0123abcd"
    (killed / "job" / "input").mkdir(parents=True)
    (killed / "job" / "input" / "upload.txt").write_bytes(_vector(0))
    running = tmp_path / f"{LEFTOVER_PREFIX}{os.getppid()}-4567ef01"  # a server whose process still runs
    running.mkdir()
    users = [tmp_path / "crossmodal-serve-notes", tmp_path / f"crossmodal-serve.tmp-{_dead_pid()}",
             tmp_path / f".results.tmp-{_dead_pid()}"]  # not a server's: another crossmodal command's
    for folder in users:
        folder.mkdir()
    with JobQueue(generation) as jobs:
        assert not killed.exists()
        assert running.is_dir() and all(folder.is_dir() for folder in users)
        assert jobs.root.parent == tmp_path and jobs.root.name.startswith(f"{LEFTOVER_PREFIX}{os.getpid()}-")
    assert _leftovers(tmp_path) == [running.name]


@pytest.mark.slow
def test_the_uploads_of_a_killed_server_are_deleted_when_the_next_one_starts(toy_run, tmp_path):
    with _serving(toy_run, tmp_path, tmp_path / "first.txt") as (process, port):
        form = _file_part("vector.txt") + _vector(0) + f"\r\n--{BOUNDARY}--\r\n".encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/jobs", data=form,
                                         headers={**HEADERS, "Content-Type": CONTENT_TYPE})
        with urllib.request.urlopen(request, timeout=WAIT_SECONDS) as response:
            assert response.status == 202
        (killed,) = _folders(tmp_path)
        assert list(killed.glob("*/input/vector.txt"))
        process.kill()  # SIGKILL: nothing of the server runs to clean up
    assert _folders(tmp_path) == [killed]
    with _serving(toy_run, tmp_path, tmp_path / "second.txt"):
        assert not killed.exists()
        assert len(_folders(tmp_path)) == 1  # the running server's
    assert _folders(tmp_path) == []


@contextlib.contextmanager
def _serving(run: Path, tmp: Path, log: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    """``crossmodal serve`` of the toy ``run`` in a process of its own, its temporary folder in
    ``tmp`` and its stderr in the file ``log``: ``(process, port)`` once it answers; stopped with
    Ctrl-C at the end unless it was killed."""
    env = {**os.environ, "CROSSMODAL_LOAD_PLUGINS": "", "TMPDIR": str(tmp)}
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", _SERVE, str(Path(__file__).parent), "serve", "--checkpoint", str(run),
             "--port", "0", "--device", "cpu"], stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    try:
        url = process.stdout.readline().strip()
        with urllib.request.urlopen(url + "info", timeout=WAIT_SECONDS):  # answered once the server has started
            pass
        yield process, int(url.rsplit(":", 1)[1].strip("/"))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        process.communicate(timeout=WAIT_SECONDS)


def test_a_leftover_of_another_user_is_left_and_does_not_stop_the_clean_up(tmp_path, monkeypatch):
    """In a shared sticky /tmp another user's planted leftover cannot be unlinked; it is skipped."""
    from crossmodal.storage.files import remove_leftovers

    theirs = tmp_path / ".crossmodal-serve.tmp-999999999-abcd"  # a dead pid, a file we may not delete
    ours = tmp_path / ".other.tmp-999999998"
    theirs.write_text("x")
    ours.write_text("y")
    real_unlink = Path.unlink

    def unlink(self, missing_ok=False):
        if self == theirs:
            raise PermissionError(1, "Operation not permitted", str(self))
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    assert remove_leftovers(tmp_path) == [ours]
    assert theirs.exists() and not ours.exists()
