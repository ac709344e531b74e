"""Run folders are never followed through symbolic links, and what is read from them is bounded.

A run folder copied from someone else (``tar`` keeps links) may hold a link in place of any of
its files or folders, or a named pipe. Each test plants one, in ``tmp_path``, next to a file or
folder of "the user's", and checks that crossmodal refuses it with one error naming it and that
the user's file or folder is unchanged.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import CheckpointError, OutputError  # noqa: E402
from crossmodal.storage import checkpoint as ckpt  # noqa: E402
from crossmodal.cli import make_cli  # noqa: E402
from crossmodal.callbacks import curves  # noqa: E402
from crossmodal.storage.files import atomic_write_text, leftover_name  # noqa: E402
from crossmodal.callbacks.run_folder import RunFolder  # noqa: E402
from crossmodal.storage.runlock import RunLock  # noqa: E402

LINK = "is a symbolic link; crossmodal never follows links"


def users_file(tmp_path: Path, text: str = "my notes\n") -> Path:
    """A file of the user's, outside the run folder."""
    path = tmp_path / "home" / "notes.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def users_folder(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A folder of the user's holding two files, and its contents."""
    folder = tmp_path / "home" / "pictures"
    folder.mkdir(parents=True)
    (folder / "losses.png").write_bytes(b"my picture")
    (folder / "conditions.txt").write_text("my list\n")
    return folder, contents(folder)


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"" for p in folder.rglob("*")}


def run_folder(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    return run


def minimal_state(step):
    return {
        "generator": {"w": torch.full((2,), float(step))},
        "critic": {},
        "generator_optimizer": {},
        "critic_optimizer": {},
        "generator_step": step,
        "critic_step": 5 * step,
        "config": "{}",
        "job": "{}",
        "plugins": {"toy": "1.0"},
        "rng": ckpt.capture_rng_state(torch.Generator().manual_seed(0)),
    }


# -------------------------------------------------------------------------------------------
# run.lock


def test_a_linked_run_lock_is_refused_and_its_target_is_not_truncated(tmp_path):
    notes = users_file(tmp_path)
    run = run_folder(tmp_path)
    (run / "run.lock").symlink_to(notes)
    lock = RunLock(run)
    with pytest.raises(OutputError) as info:
        lock.acquire()
    assert str(info.value).startswith(f"{run / 'run.lock'}: {LINK}")
    assert notes.read_text() == "my notes\n" and not lock.held


def test_a_run_lock_that_is_a_named_pipe_is_refused_without_waiting(tmp_path):
    run = run_folder(tmp_path)
    os.mkfifo(run / "run.lock")
    with pytest.raises(OutputError, match=r"run\.lock: is a named pipe, not a regular file"):
        RunLock(run).acquire()


@pytest.mark.slow
def test_resume_with_a_linked_run_lock_is_one_error_line_and_the_file_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")
    cli = make_cli(extra_plugins=[("toy", toy_plugin)])
    runner = CliRunner()
    first = runner.invoke(cli, ["train", "--plugin", "toy", "--steps", "2", "--out", str(tmp_path / "runs")])
    assert first.exit_code == 0, first.output
    (run,) = (tmp_path / "runs").iterdir()
    notes = users_file(tmp_path)
    (run / "run.lock").unlink()
    (run / "run.lock").symlink_to(notes)
    result = runner.invoke(cli, ["train", "--resume", str(run), "--steps", "4"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"{run / 'run.lock'}: {LINK}" in errors[0]
    assert notes.read_text() == "my notes\n"


# -------------------------------------------------------------------------------------------
# metrics.csv and progress.csv


def append(folder: RunFolder, name: str) -> None:
    if name == "metrics.csv":
        folder.append_metrics({"step": 1, "wall_time": 0.0, "critic/loss": 0.5}, ["critic/loss"])
    else:
        folder.append_progress({"step": 1, "wall_time": 0.0, "seconds_per_step": 0.1, "updates": 4,
                                "critic/loss": 0.5}, ["critic/loss"])


@pytest.mark.parametrize("name", ["metrics.csv", "progress.csv"])
def test_a_row_is_never_appended_through_a_link(tmp_path, name):
    notes = users_file(tmp_path)
    run = run_folder(tmp_path)
    (run / name).symlink_to(notes)
    with pytest.raises(OutputError) as info:
        append(RunFolder(run), name)
    assert str(info.value).startswith(f"{run / name}: {LINK}")
    assert notes.read_text() == "my notes\n" and (run / name).is_symlink()


@pytest.mark.parametrize("name", ["metrics.csv", "progress.csv"])
def test_resume_never_reads_rows_through_a_link(tmp_path, name):
    notes = users_file(tmp_path, "step,wall_time\n1,0\n5,1\n")
    run = run_folder(tmp_path)
    (run / name).symlink_to(notes)
    with pytest.raises(OutputError) as info:
        RunFolder(run).forget_metrics_after(1)
    assert str(info.value).startswith(f"{run / name}: {LINK}")
    assert notes.read_text() == "step,wall_time\n1,0\n5,1\n" and (run / name).is_symlink()


def test_resume_refuses_a_metrics_csv_above_the_bound_without_reading_it(tmp_path):
    run = run_folder(tmp_path)
    limit = curves.CSV_LIMIT
    with open(run / "metrics.csv", "wb") as handle:  # sparse: takes no disk space
        handle.truncate(limit + 1)
    with pytest.raises(OutputError) as info:
        RunFolder(run).forget_metrics_after(1)
    assert str(info.value) == (f"{run / 'metrics.csv'}: is {limit + 1:,} bytes, more than the {limit:,} "
                               "crossmodal reads from it; refusing to read it")


BOUNDED_FORGET = """
import resource, sys
from pathlib import Path
from crossmodal.errors import OutputError
from crossmodal.callbacks.run_folder import RunFolder

status = Path("/proc/self/status").read_text().splitlines()
size = int(next(line for line in status if line.startswith("VmSize:")).split()[1]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + 2**30, size + 2**30))  # unbounded reads end here
try:
    RunFolder(Path(sys.argv[1])).forget_metrics_after(0)
    print("read it")
except OutputError as err:
    print(err)
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/zero").exists() or not Path("/proc/self/status").exists(),
                    reason="needs /dev/zero and /proc")
@pytest.mark.parametrize("plant", ["link-to-dev-zero", "named-pipe"])
def test_resume_never_reads_a_metrics_csv_that_has_no_end(tmp_path, plant):
    """In a child process whose memory is capped and which is killed if it hangs, so that the
    unbounded read this guards against ends the test instead of the machine."""
    run = run_folder(tmp_path)
    if plant == "named-pipe":
        os.mkfifo(run / "metrics.csv")
        expected = f"{run / 'metrics.csv'}: is a named pipe, not a regular file; refusing to use it"
    else:
        (run / "metrics.csv").symlink_to("/dev/zero")
        expected = f"{run / 'metrics.csv'}: {LINK}"
    child = subprocess.run([sys.executable, "-c", BOUNDED_FORGET, str(run)], capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == 0 and child.stdout.startswith(expected), child.stdout + child.stderr


# -------------------------------------------------------------------------------------------
# The run's folders


@pytest.mark.parametrize("name", ["checkpoints", "curves", "samples", "tensorboard"])
def test_opening_a_run_refuses_a_linked_folder_and_lets_the_lock_go(tmp_path, name):
    folder, before = users_folder(tmp_path)
    run = run_folder(tmp_path)
    (run / name).symlink_to(folder, target_is_directory=True)
    written = []
    lock = RunLock(run)
    with pytest.raises(OutputError) as info:
        RunFolder(run, lock).open(1, lambda: written.append("config.json"))
    assert str(info.value).startswith(f"{run / name}: {LINK}")
    assert written == [] and not lock.held and contents(folder) == before


def test_samples_are_never_written_into_a_linked_step_folder(tmp_path):
    folder, before = users_folder(tmp_path)
    run = run_folder(tmp_path)
    (run / "samples").mkdir()
    (run / "samples" / "step-000002").symlink_to(folder, target_is_directory=True)

    def write(samples, where):
        (where / "sample.txt").write_text("generated")
        return [where / "sample.txt"]

    with pytest.raises(OutputError) as info:
        RunFolder(run).write_samples(2, torch.zeros(1, 3), write, lambda: ["condition 0"])
    assert str(info.value).startswith(f"{run / 'samples' / 'step-000002'}: {LINK}")
    assert contents(folder) == before


def test_samples_are_never_written_into_a_linked_samples_folder(tmp_path):
    folder, before = users_folder(tmp_path)
    run = run_folder(tmp_path)
    (run / "samples").symlink_to(folder, target_is_directory=True)
    with pytest.raises(OutputError) as info:
        RunFolder(run).write_samples(2, torch.zeros(1, 3), lambda samples, where: [], lambda: ["condition 0"])
    assert str(info.value).startswith(f"{run / 'samples'}: {LINK}")
    assert contents(folder) == before


def test_curves_are_never_drawn_into_a_linked_folder(tmp_path):
    folder, before = users_folder(tmp_path)
    run = run_folder(tmp_path)
    (run / "metrics.csv").write_text("step,wall_time,critic/loss,toy\n1,0,0.5,0.2\n2,1,0.4,0.25\n")
    (run / "curves").symlink_to(folder, target_is_directory=True)
    with pytest.raises(OutputError) as info:
        RunFolder(run).draw_curves()
    assert str(info.value).startswith(f"{run / 'curves'}: {LINK}")
    assert contents(folder) == before


def test_a_link_at_a_temporary_name_is_never_written_through(tmp_path):
    notes = users_file(tmp_path)
    run = run_folder(tmp_path)
    config = run / "config.json"
    leftover_name(config).symlink_to(notes)  # this process's own temporary name
    atomic_write_text(config, "{}\n")
    assert notes.read_text() == "my notes\n"
    assert config.read_text() == "{}\n" and not config.is_symlink() and not leftover_name(config).exists()


# -------------------------------------------------------------------------------------------
# Checkpoints and latest


def test_a_linked_checkpoint_folder_is_neither_written_nor_pruned(tmp_path):
    others = tmp_path / "other-run" / "checkpoints"
    ckpt.save_checkpoint(minimal_state(1), others, keep=1)
    before = contents(others)
    run = run_folder(tmp_path)
    (run / "checkpoints").symlink_to(others, target_is_directory=True)
    with pytest.raises(OutputError) as info:
        ckpt.save_checkpoint(minimal_state(5), run / "checkpoints", keep=1)
    assert str(info.value).startswith(f"{run / 'checkpoints'}: {LINK}")
    assert contents(others) == before


def test_a_run_whose_checkpoint_folder_is_a_link_is_not_resumed_from_it(tmp_path):
    others = tmp_path / "other-run" / "checkpoints"
    ckpt.save_checkpoint(minimal_state(1), others, keep=1)
    run = run_folder(tmp_path)
    (run / "checkpoints").symlink_to(others, target_is_directory=True)
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(run)
    assert str(info.value).startswith(f"checkpoint folder {run / 'checkpoints'}: {LINK}")


def test_a_linked_latest_pointer_is_refused(tmp_path):
    checkpoints = run_folder(tmp_path) / "checkpoints"
    ckpt.save_checkpoint(minimal_state(1), checkpoints, keep=3)
    pointer = users_file(tmp_path, "checkpoint-00000001.pt\n")
    (checkpoints / "latest").unlink()
    (checkpoints / "latest").symlink_to(pointer)
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(checkpoints)
    assert str(info.value).startswith(f"checkpoint pointer {checkpoints / 'latest'}: {LINK}")


def test_a_latest_pointer_above_its_bound_is_refused_unread(tmp_path):
    checkpoints = run_folder(tmp_path) / "checkpoints"
    ckpt.save_checkpoint(minimal_state(1), checkpoints, keep=3)
    (checkpoints / "latest").write_text("checkpoint-00000001.pt" + " " * ckpt.POINTER_LIMIT)
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(checkpoints)
    assert f"{checkpoints / 'latest'}: is {ckpt.POINTER_LIMIT + 22:,} bytes, more than the" in str(info.value)


def test_a_checkpoint_that_is_a_link_is_refused(tmp_path):
    elsewhere = ckpt.save_checkpoint(minimal_state(1), tmp_path / "elsewhere", keep=1)
    checkpoints = run_folder(tmp_path) / "checkpoints"
    ckpt.save_checkpoint(minimal_state(1), checkpoints, keep=3)
    planted = checkpoints / "checkpoint-00000001.pt"
    planted.unlink()
    planted.symlink_to(elsewhere)
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(checkpoints)
    assert str(info.value).startswith(f"checkpoint {planted}: {LINK}")
