"""Runs that end badly: signals, a run folder used twice, leftovers of killed runs, failed writes.

The signal tests start ``crossmodal train`` on the toy plugin in a real subprocess (a small
launcher registers the toy plugin, as tests/test_distributed.py does for torchrun) and signal it
once it has trained a step; the others run in-process.
"""

import csv
import errno
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from click.testing import CliRunner

TESTS = Path(__file__).parent
if str(TESTS) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(TESTS))
import toy_plugin  # noqa: E402

from crossmodal import OutputError, RunInUseError, TrainingInterrupted  # noqa: E402
from crossmodal.callbacks.base import ProgressFunctions  # noqa: E402
from crossmodal.training import distributed  # noqa: E402
from crossmodal.cli import make_cli  # noqa: E402
from crossmodal.storage.files import leftover_name  # noqa: E402
from crossmodal.training.launch import resume_training, start_training  # noqa: E402

LAUNCHER = """
import sys
sys.path.insert(0, {tests!r})
import toy_plugin
from crossmodal.cli import make_cli
make_cli(extra_plugins=[("toy", toy_plugin)]).main(args=sys.argv[1:], prog_name="crossmodal")
"""


@pytest.fixture
def invoke(monkeypatch):
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(make_cli(extra_plugins=[("toy", toy_plugin)]), [str(a) for a in args])

    return run


def run_dir_of(result):
    line = next(line for line in result.stdout.splitlines() if line.startswith("run: "))
    return Path(line[len("run: "):])


def train_toy(out, steps, **options):
    return start_training(toy_plugin.toy_registry(), "toy", overrides={"steps": steps, "out_dir": str(out), **options})


def lock_is_free(run: Path) -> bool:
    fd = os.open(run / "run.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # releases it if taken


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# -------------------------------------------------------------------------------------------
# Signals


def launch(tmp_path: Path, *args) -> subprocess.Popen:
    launcher = tmp_path / "toy_crossmodal.py"
    launcher.write_text(LAUNCHER.format(tests=str(TESTS)))
    env = {**os.environ, "CROSSMODAL_LOAD_PLUGINS": ""}
    return subprocess.Popen([sys.executable, str(launcher), *map(str, args)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("signal_number, exit_code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.slow  # subprocess: trains in a child and signals it
def test_a_signal_before_the_first_checkpoint_saves_one_and_prints_how_to_resume(
    tmp_path, invoke, signal_number, exit_code
):
    out = tmp_path / "runs"
    process = launch(tmp_path, "train", "--plugin", "toy", "--steps", 100_000, "--out", out,
                     "--eval-every", 1, "--sample-every", 0, "--checkpoint-every", 0)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("*/metrics.csv")):  # written after step 1: training has begun
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "training did not start"
            time.sleep(0.05)
        process.send_signal(signal_number)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == exit_code, stderr
    (run,) = out.iterdir()
    latest = (run / "checkpoints" / "latest").read_text().strip()
    step = int(latest[len("checkpoint-"):-len(".pt")])
    assert step >= 1 and f"run: {run}" in stdout
    assert f"Interrupted: stopped by {signal.Signals(signal_number).name} after generator step {step}" in stderr
    assert latest in stderr and f"Resume with: crossmodal train --resume {run}\n" in stderr
    assert "Traceback" not in stderr and "Aborted" not in stderr

    result = invoke("train", "--resume", run, "--steps", step + 1)
    assert result.exit_code == 0, result.output
    assert f"from step {step} to {step + 1}" in result.stderr


@pytest.mark.slow  # trains
def test_a_signal_stops_at_the_step_boundary_and_resuming_continues_exactly(tmp_path):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    trainer = train_toy(tmp_path / "cut", 5, checkpoint_every=0, sample_every=0)
    handlers = []

    def progress(step, total, losses):
        if step == 3:
            handlers.append(signal.getsignal(signal.SIGTERM))
            if callable(handlers[-1]):  # without a handler, SIGTERM would end the test run
                os.kill(os.getpid(), signal.SIGTERM)

    trainer.callbacks.append(ProgressFunctions(progress))
    with pytest.raises(TrainingInterrupted) as info:
        trainer.train()
    trainer.close()
    stopped = info.value
    assert (stopped.step, stopped.exit_code, trainer.step) == (3, 143, 3)
    assert stopped.checkpoint == trainer.run_dir / "checkpoints" / "checkpoint-00000003.pt"
    assert stopped.checkpoint.exists()
    assert stopped.resume_command == f"crossmodal train --resume {trainer.run_dir}"
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before  # restored
    assert lock_is_free(trainer.run_dir)

    resumed = resume_training(toy_plugin.toy_registry(), trainer.run_dir)
    assert resumed.step == 3
    resumed.train()
    whole = train_toy(tmp_path / "whole", 5, checkpoint_every=0, sample_every=0)
    whole.train()
    for module in ("generator", "critic"):
        a, b = getattr(whole, module).state_dict(), getattr(resumed, module).state_dict()
        assert all(torch.equal(a[key], b[key]) for key in a), module


WORLD_SIZE = 2


def _signalled_worker(rank: int, tmp: str) -> None:
    """Rank 1 alone gets SIGTERM during generator update 3; both ranks must stop after it."""
    tmp_path = Path(tmp)
    distributed.init("cpu", init_method=f"file://{tmp_path / 'store'}", world_size=WORLD_SIZE, rank=rank)
    try:
        trainer = start_training(toy_plugin.toy_registry(), "toy", overrides={
            "steps": 50, "batch_size": 8, "out_dir": str(tmp_path / "runs"), "checkpoint_every": 0,
            "sample_every": 0, "eval_every": 0})
        if rank == 1:
            update = trainer._generator_update

            def signalled_update():
                if trainer.step == 2 and callable(signal.getsignal(signal.SIGTERM)):
                    os.kill(os.getpid(), signal.SIGTERM)
                return update()

            trainer._generator_update = signalled_update
        try:
            trainer.train()
            outcome = ("finished", trainer.step, "")
        except TrainingInterrupted as stopped:
            outcome = ("interrupted", stopped.step, str(stopped.checkpoint))
        torch.save({"outcome": outcome, "run": str(trainer.run_dir)}, tmp_path / f"rank{rank}.pt")
    finally:
        distributed.teardown()


@pytest.mark.slow  # spawns two processes that train
def test_every_process_of_a_distributed_run_stops_at_the_same_step(tmp_path):
    mp.spawn(_signalled_worker, args=(str(tmp_path),), nprocs=WORLD_SIZE, join=True)
    zero, one = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD_SIZE))
    checkpoint = str(Path(zero["run"]) / "checkpoints" / "checkpoint-00000003.pt")
    assert zero["outcome"] == one["outcome"] == ("interrupted", 3, checkpoint)
    assert Path(checkpoint).exists()


# -------------------------------------------------------------------------------------------
# One training per run folder


@pytest.mark.slow  # trains
def test_a_run_in_use_is_refused_with_one_line(invoke, tmp_path):
    run = run_dir_of(invoke("train", "--plugin", "toy", "--steps", 2, "--out", tmp_path))
    metrics = (run / "metrics.csv").read_text()
    fd = os.open(run / "run.lock", os.O_RDWR | os.O_CREAT)  # another process training it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.ftruncate(fd, 0)
        os.write(fd, b"4242 otherhost\n")
        result = invoke("train", "--resume", run, "--steps", 4)
    finally:
        os.close(fd)
    assert result.exit_code == 1, result.output
    assert f"Error: run {run} is in use by process 4242 on otherhost;" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert (run / "metrics.csv").read_text() == metrics
    assert (run / "checkpoints" / "latest").read_text().strip() == "checkpoint-00000002.pt"

    again = invoke("train", "--resume", run, "--steps", 4)  # the holder has ended: the lock is free
    assert again.exit_code == 0, again.output


@pytest.mark.slow  # trains
def test_the_run_folder_is_locked_while_training_and_free_after(tmp_path):
    trainer = train_toy(tmp_path, 2)
    seen = []
    trainer.callbacks.append(ProgressFunctions(lambda step, total, losses: seen.append(lock_is_free(trainer.run_dir))))
    trainer.train()
    assert seen == [False, False]
    assert lock_is_free(trainer.run_dir)
    with pytest.raises(RunInUseError, match="is in use by process"):
        fd = os.open(trainer.run_dir / "run.lock", os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} here\n".encode())
            resume_training(toy_plugin.toy_registry(), trainer.run_dir, overrides={"steps": 3})
        finally:
            os.close(fd)


# -------------------------------------------------------------------------------------------
# Leftovers and failed writes


@pytest.mark.slow  # trains; subprocess for a dead pid
def test_leftovers_of_killed_runs_are_removed_when_a_run_resumes(tmp_path):
    trainer = train_toy(tmp_path, 2)
    trainer.train()
    run = trainer.run_dir
    pid = dead_pid()
    dead = [run / f".metrics.csv.tmp-{pid}", run / f".config.json.tmp-{pid}", run / "metrics.csv.tmp",
            run / "curves" / f".losses.png.tmp-{pid}"]
    alive = run / f".metrics.csv.tmp-{os.getppid()}"  # a live process's: kept
    for path in (*dead, alive):
        path.write_text("half")
    resume_training(toy_plugin.toy_registry(), run, overrides={"steps": 3}).close()
    assert [p for p in dead if p.exists()] == [] and alive.exists()


def test_config_json_is_written_atomically_under_a_pid_name(tmp_path, monkeypatch):
    import crossmodal.storage.files

    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(crossmodal.storage.files.os, "replace", lambda a, b: (replaced.append(Path(a)), real_replace(a, b)))
    trainer = train_toy(tmp_path, 1)
    config = trainer.run_dir / "config.json"
    assert leftover_name(config) in replaced and config.exists()

    def full_disk(a, b):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(crossmodal.storage.files.os, "replace", full_disk)
    with pytest.raises(OutputError, match=r"config\.json: could not be written \(No space left on device\)"):
        trainer.write_run_config()


def test_a_full_disk_under_metrics_csv_is_an_output_error(tmp_path, monkeypatch):
    trainer = train_toy(tmp_path, 2)

    def full_disk(self, row):  # metrics.csv is written through csv.DictWriter
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(csv.DictWriter, "writerow", full_disk)
    with pytest.raises(OutputError, match=r"metrics\.csv: could not be written \(No space left on device\)"):
        trainer.train()
    assert lock_is_free(trainer.run_dir)


def test_a_full_disk_ends_the_command_with_one_error_line(invoke, tmp_path, monkeypatch):
    def full_disk(self, row):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(csv.DictWriter, "writerow", full_disk)
    result = invoke("train", "--plugin", "toy", "--steps", 2, "--out", tmp_path)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "metrics.csv: could not be written (No space left on device)" in errors[0]
    assert "Traceback" not in result.output
