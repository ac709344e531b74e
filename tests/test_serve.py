"""`crossmodal serve`: the web app's API, its job queue and the command, on the toy plugin.

The toy recipe (8 numbers in, ``.npy`` + ``.txt`` samples out, no renderer, no condition preview)
stands for a third-party plugin: the page works for any recipe. Checked here: the page and its
assets come from the app alone; an upload is generated in a folder of its own and gives exactly
what a direct generation of the same file and seed gives; an unusable upload is one message naming
the file as uploaded; a body over the limit is refused from its declared length, before it is
read, and when it passes the limit while being read; only files a job lists can be fetched;
concurrent requests queue (the generation runs off the event loop, one at a time) and each gets
its own outputs; old jobs and the temporary folder are deleted; the command refuses a non-local
address, says what to install, prints its URL and cleans up on Ctrl-C.
The same page in a real browser, with Jukepix: tests/test_serve_browser.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

for _module in ("starlette", "uvicorn", "python_multipart"):
    pytest.importorskip(_module, reason="crossmodal serve needs the serve extra: pip install 'crossmodal[serve]'")

from click.testing import CliRunner  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

import toy_plugin  # noqa: E402
from crossmodal.cli import make_cli  # noqa: E402
from crossmodal.generation.session import open_generation  # noqa: E402
from crossmodal.generation.web_app import MAX_SAMPLES, REQUEST_HEADER, STATIC, UPLOAD_LIMIT_BYTES, create_app  # noqa: E402
from crossmodal.generation.web_jobs import clean_name  # noqa: E402
from crossmodal.training.launch import start_training  # noqa: E402

HEADERS = {REQUEST_HEADER: "1"}
"""What the page's script sends with every upload."""

WAIT_SECONDS = 60
"""Longest wait for a job to finish (a toy generation takes milliseconds)."""


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory) -> Path:
    """A one-step toy run (its checkpoint is what the server loads)."""
    trainer = start_training(toy_plugin.toy_registry(), "toy", overrides={
        "steps": 1, "out_dir": str(tmp_path_factory.mktemp("runs")), "checkpoint_every": 1,
    })
    trainer.train()
    return trainer.run_dir


@pytest.fixture(scope="module")
def generation(toy_run):
    return open_generation(toy_plugin.toy_registry(), checkpoint=toy_run, device="cpu")


@pytest.fixture
def client(generation):
    """A fresh app (its own job queue and temporary folder) around the module's generation."""
    with TestClient(create_app(generation), base_url="http://127.0.0.1") as client:
        yield client


def _vector(seed: int) -> bytes:
    """A toy condition file: 8 numbers, one per line."""
    return "\n".join(f"{v:.6f}" for v in np.random.default_rng(seed).uniform(-1, 1, 8)).encode()


def _submit(client, name: str, data: bytes, seed: int = 0, samples: int = 1, headers=HEADERS):
    return client.post("/jobs", files={"file": (name, data)}, data={"seed": str(seed), "samples": str(samples)},
                       headers=headers)


def finished_status(client, job_id: str) -> dict:
    """The status of job ``job_id`` once it is done or failed (polled through ``client``)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        status = client.get(f"/jobs/{job_id}").json()
        if status["state"] in ("done", "error"):
            return status
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish in {WAIT_SECONDS} s: {status}")


def _reference(generation, tmp_path: Path, name: str, data: bytes, seed: int, samples: int) -> dict[str, bytes]:
    """What a direct generation of the same file and seed writes: name -> bytes."""
    folder = tmp_path / f"reference-{seed}-{samples}"
    (folder / "in").mkdir(parents=True)
    (folder / "in" / name).write_bytes(data)
    written = generation.generate(folder / "in" / name, folder / "out", samples=samples, seed=seed)
    return {path.name: path.read_bytes() for path in written}


# -------------------------------------------------------------------------------------------
# The page
# -------------------------------------------------------------------------------------------


def test_the_page_and_its_assets_come_from_the_app_alone(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("page.js", "page.css"):
        assert f'"/static/{asset}"' in page.text
        assert client.get(f"/static/{asset}").status_code == 200
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, path.name
    assert client.get("/static/..%2Fapp.py").status_code == 404


def test_info_names_the_generator_and_the_limits(client, generation):
    info = client.get("/info").json()
    assert info == {"recipe": "toy", "source": generation.source, "renderer": None,
                    "upload_limit_bytes": UPLOAD_LIMIT_BYTES, "max_samples": MAX_SAMPLES}


# -------------------------------------------------------------------------------------------
# Uploads
# -------------------------------------------------------------------------------------------


def test_an_upload_gives_what_a_direct_generation_of_it_gives(client, generation, tmp_path):
    data = _vector(1)
    accepted = _submit(client, "vector.txt", data, seed=5, samples=2)
    assert accepted.status_code == 202 and accepted.json()["state"] in ("queued", "generating", "done")
    status = finished_status(client, accepted.json()["id"])
    assert status["state"] == "done" and status["error"] is None
    assert status["preview"] is None  # the toy conditions dataset cannot draw its conditions
    served = {entry["name"]: client.get(entry["url"]) for entry in status["files"]}
    assert {name: response.content for name, response in served.items()} == \
        _reference(generation, tmp_path, "vector.txt", data, seed=5, samples=2)
    assert {entry["name"]: entry["type"] for entry in status["files"]} == {
        "vector-0.npy": "application/octet-stream", "vector-0.txt": "text/plain",
        "vector-1.npy": "application/octet-stream", "vector-1.txt": "text/plain",
    }
    response = served["vector-0.txt"]
    assert response.headers["content-security-policy"].startswith("sandbox")
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(("uploaded", "kept"), [
    ("Monet: Impression, soleil levant.JPG", "Monet_Impression_soleil_levant.JPG"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\claude\\water lilies.png", "water_lilies.png"),
    ("..", "condition"),
    (".hidden.txt", "hidden.txt"),
    ("x" * 300 + ".jpeg", "x" * 95 + ".jpeg"),
])
def test_an_upload_is_kept_under_a_clean_name_in_its_jobs_folder(uploaded, kept):
    assert clean_name(uploaded) == kept


def test_an_unusable_upload_is_one_message_naming_the_file_as_uploaded(client):
    status = finished_status(client, _submit(client, "notes from 1874.txt", b"water lilies\n").json()["id"])
    assert status["state"] == "error" and status["files"] == []
    message = status["error"]
    assert len(message.splitlines()) == 1 and "notes from 1874.txt" in message
    assert "crossmodal-serve" not in message  # the server's own copy is not named


@pytest.mark.parametrize(("form", "status_code", "message"), [
    ({"seed": "-1"}, 422, f"seed must be a whole number from 0 to {2**63 - 1}"),
    ({"seed": "1e3"}, 422, "seed must be a whole number"),
    ({"seed": "--5"}, 422, "seed must be a whole number"),
    ({"seed": "9" * 5000}, 422, "seed must be a whole number"),
    ({"samples": "0"}, 422, f"samples must be a whole number from 1 to {MAX_SAMPLES}"),
    ({"samples": str(MAX_SAMPLES + 1)}, 422, "samples must be a whole number"),
])
def test_a_bad_seed_or_sample_count_is_refused_with_one_message(client, form, status_code, message):
    response = client.post("/jobs", files={"file": ("v.txt", _vector(0))}, data=form, headers=HEADERS)
    assert response.status_code == status_code and response.json()["error"].startswith(message)


def test_a_request_without_a_file_or_the_pages_header_is_refused(client):
    assert client.post("/jobs", data={"seed": "0"}, headers=HEADERS).json() == {"error": "choose a file to upload"}
    foreign = _submit(client, "v.txt", _vector(0), headers={})
    assert foreign.status_code == 400 and REQUEST_HEADER in foreign.json()["error"]


def test_a_request_for_another_host_name_is_refused(client):
    """A site whose name resolves to 127.0.0.1 (DNS rebinding) gets nothing."""
    assert client.get("/info", headers={"Host": "attacker.example:8000"}).status_code == 421
    assert client.get("/info", headers={"Host": "localhost:8000"}).status_code == 200
    assert client.get("/info", headers={"Host": "[::1]:8000"}).status_code == 200


def test_a_body_over_the_limit_is_refused_while_it_is_read(client):
    big = b"0" * (UPLOAD_LIMIT_BYTES + 1)
    response = _submit(client, "big.txt", big)
    assert response.status_code == 413 and "larger than 20 MiB" in response.json()["error"]
    streamed = client.post("/jobs", content=iter([b"x" * 2**20] * 21),  # no declared length: counted as read
                           headers={**HEADERS, "Content-Type": "multipart/form-data; boundary=b"})
    assert streamed.status_code == 413
    assert list(client.app.state.jobs.root.iterdir()) == []  # nothing was kept


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(generation):
    """Through a real socket: the answer comes back though not one byte of the body was sent."""
    with Served(create_app(generation)) as port, socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall((f"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{REQUEST_HEADER}: 1\r\n"
                      "Content-Type: multipart/form-data; boundary=b\r\n"
                      f"Content-Length: {1000 * UPLOAD_LIMIT_BYTES}\r\n\r\n").encode())
        assert conn.recv(4096).startswith(b"HTTP/1.1 413 ")


# -------------------------------------------------------------------------------------------
# Files
# -------------------------------------------------------------------------------------------


def test_only_the_files_a_job_lists_can_be_fetched(client, generation):
    job = finished_status(client, _submit(client, "vector.txt", _vector(2)).json()["id"])
    listed = job["files"][0]["url"]
    assert client.get(listed).status_code == 200
    prefix = f"/files/{job['id']}"
    assert (client.app.state.jobs.root / job["id"] / "input" / "vector.txt").is_file()
    for url in (
        f"{prefix}/input/vector.txt",  # on disk, but not an output
        f"{prefix}/out/..%2Finput%2Fvector.txt",
        f"{prefix}/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        f"{prefix}/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        f"{prefix}//etc/passwd",
        f"{prefix}/out",
        f"{prefix}/",
        f"/files/{'0' * 32}/out/vector-0.txt",
        f"/files/..%2F{job['id']}/out/vector-0.txt",
        "/files/../../etc/passwd",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"root:" not in response.content
    assert client.get(f"/jobs/{'0' * 32}").status_code == 404


# -------------------------------------------------------------------------------------------
# Concurrency, progress and cleanup
# -------------------------------------------------------------------------------------------


class _Gate:
    """Wraps ``generation.write_samples``: counts the calls running at once, and holds each one until
    the gate is opened."""

    def __init__(self, generate) -> None:
        self._generate = generate
        self.opened = threading.Event()
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def __call__(self, *args, **kwargs):
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            assert self.opened.wait(WAIT_SECONDS)
            return self._generate(*args, **kwargs)
        finally:
            with self._lock:
                self.running -= 1


def test_concurrent_requests_queue_and_each_gets_its_own_outputs(client, generation, tmp_path, monkeypatch):
    gate = _Gate(generation.write_samples)
    monkeypatch.setattr(generation, "write_samples", gate)
    requests = [(seed, _vector(seed), 1 + seed % 3) for seed in range(6)]  # all uploaded as "same.txt"
    accepted: dict[int, str] = {}

    def submit(seed, data, samples):
        accepted[seed] = _submit(client, "same.txt", data, seed=seed, samples=samples).json()["id"]

    threads = [threading.Thread(target=submit, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # one job holds the worker at the gate; the page still answers (generation runs off the event loop)
    states = _states_once_one_generates(client, accepted.values())
    assert sorted(s["state"] for s in states) == ["generating"] + ["queued"] * 5
    assert sorted(s["ahead"] for s in states) == [0, 1, 2, 3, 4, 5]
    gate.opened.set()
    served = {}
    for seed in accepted:
        status = finished_status(client, accepted[seed])
        served[seed] = {entry["name"]: client.get(entry["url"]).content for entry in status["files"]}
    monkeypatch.undo()  # every job is done: the references are generated directly
    for seed, data, samples in requests:
        assert served[seed] == _reference(generation, tmp_path, "same.txt", data, seed, samples), seed
    assert gate.most_at_once == 1


def _states_once_one_generates(client, job_ids) -> list[dict]:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        states = [client.get(f"/jobs/{job_id}").json() for job_id in job_ids]
        if any(state["state"] == "generating" for state in states):
            return states
        time.sleep(0.01)
    raise AssertionError(f"no job started in {WAIT_SECONDS} s")


def test_a_full_queue_is_refused_with_one_message(client, generation, monkeypatch):
    gate = _Gate(generation.write_samples)
    monkeypatch.setattr(generation, "write_samples", gate)
    client.app.state.jobs.max_waiting = 1
    _states_once_one_generates(client, [_submit(client, "a.txt", _vector(0)).json()["id"]])
    assert _submit(client, "b.txt", _vector(1)).status_code == 202
    refused = _submit(client, "c.txt", _vector(2))
    assert refused.status_code == 503
    assert refused.json() == {"error": "the server is busy (1 request(s) waiting); try again in a moment"}
    gate.opened.set()


def test_old_jobs_are_deleted_and_the_folder_goes_when_the_server_stops(generation):
    with TestClient(create_app(generation), base_url="http://127.0.0.1") as client:
        jobs = client.app.state.jobs
        jobs.max_kept = 1  # finished jobs beyond it are deleted when a job is submitted
        ids = [finished_status(client, _submit(client, f"{n}.txt", _vector(n)).json()["id"])["id"] for n in range(3)]
        assert client.get(f"/jobs/{ids[0]}").status_code == 404
        assert sorted(p.name for p in jobs.root.iterdir()) == sorted(ids[1:])
        root = jobs.root
    assert root.is_dir() is False


# -------------------------------------------------------------------------------------------
# The command
# -------------------------------------------------------------------------------------------


@pytest.fixture
def invoke(monkeypatch):
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")  # only the toy plugin

    def run(*args):
        return CliRunner().invoke(make_cli(extra_plugins=[("toy", toy_plugin)]), [str(a) for a in args])

    return run


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7"])
def test_an_address_other_machines_reach_is_refused_without_allow_remote(invoke, toy_run, host):
    result = invoke("serve", "--checkpoint", toy_run, "--host", host, "--port", 0)
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: --host {host} ") and "can be reached from other machines" in line
    assert "--allow-remote" in line and result.stdout == ""


def test_a_missing_web_stack_is_one_line_with_the_pip_command(invoke, toy_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn now fails
    result = invoke("serve", "--checkpoint", toy_run)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: crossmodal serve needs uvicorn (not installed): pip install 'crossmodal[serve]'"]


def test_checkpoint_and_model_together_are_a_usage_error(invoke, toy_run):
    result = invoke("serve", "--checkpoint", toy_run, "--model", "any")
    assert result.exit_code == 2 and "give --checkpoint or --model, not both" in result.stderr


_SERVE = """
import sys
sys.path.insert(0, sys.argv[1])
import toy_plugin
from crossmodal.cli import make_cli
make_cli(extra_plugins=[("toy", toy_plugin)]).main(args=sys.argv[2:], prog_name="crossmodal")
"""


@pytest.mark.slow
def test_serve_prints_its_url_answers_there_and_deletes_its_files_on_ctrl_c(toy_run, tmp_path):
    env = {**os.environ, "CROSSMODAL_LOAD_PLUGINS": "", "TMPDIR": str(tmp_path)}  # its folder goes to tmp_path
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(Path(__file__).parent), "serve", "--checkpoint", str(toy_run),
         "--port", "0", "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/"), process.stderr.read()
        with urllib.request.urlopen(url + "info", timeout=30) as response:
            assert json.load(response)["recipe"] == "toy"
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".crossmodal-serve.tmp-")]
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert stderr.splitlines()[-1] == "stopped"
    assert "generator: checkpoint " in stderr and "renderer: none (the recipe names no sample renderer)" in stderr
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".crossmodal-serve.tmp-")]


class Served:
    """``with Served(app) as port``: the app served by uvicorn on 127.0.0.1 in a thread."""

    def __init__(self, app) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> int:
        self.thread.start()
        deadline = time.monotonic() + WAIT_SECONDS
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self.server.servers[0].sockets[0].getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(WAIT_SECONDS)
