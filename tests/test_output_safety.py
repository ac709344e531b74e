"""Outputs are never overwritten silently, a full disk is one line, names are shown escaped."""

import errno
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import OutputError  # noqa: E402
from crossmodal.cli import make_cli  # noqa: E402
from crossmodal.storage.skips import report_skipped  # noqa: E402
from crossmodal.training.launch import start_training  # noqa: E402


@pytest.fixture
def invoke(monkeypatch):
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")  # only the toy plugin
    runner = CliRunner()

    def run(*args):
        return runner.invoke(make_cli(extra_plugins=[("toy", toy_plugin)]), [str(a) for a in args])

    return run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A one-step toy run (its checkpoint is what ``generate`` reads)."""
    out = tmp_path_factory.mktemp("runs")
    trainer = start_training(toy_plugin.toy_registry(), "toy",
                             overrides={"steps": 1, "out_dir": str(out), "checkpoint_every": 1})
    trainer.train()
    return trainer.run_dir


def condition_file(path, values=np.linspace(-1, 1, 8)):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, values)
    return path


def written_paths(result):
    return [Path(line) for line in result.stdout.splitlines()]


# -------------------------------------------------------------------------------------------
# generate never overwrites


def test_generate_never_writes_through_a_linked_generated_folder(invoke, run_dir, tmp_path):
    elsewhere = tmp_path / "users-folder"
    elsewhere.mkdir()
    (run_dir / "generated").symlink_to(elsewhere, target_is_directory=True)
    try:
        result = invoke("generate", "--checkpoint", run_dir, "--condition", condition_file(tmp_path / "c.txt"))
    finally:
        (run_dir / "generated").unlink()
    assert result.exit_code == 1
    assert [line for line in result.stderr.splitlines() if line.startswith("Error:")] == [
        line for line in result.stderr.splitlines() if "generated" in line and "symbolic link" in line]
    assert list(elsewhere.iterdir()) == []


def test_two_generate_runs_into_one_folder_keep_both_outputs(invoke, run_dir, tmp_path):
    good = condition_file(tmp_path / "good.txt")
    out = tmp_path / "out"
    first = invoke("generate", "--checkpoint", run_dir, "--condition", good, "--out", out, "--seed", 1)
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    second = invoke("generate", "--checkpoint", run_dir, "--condition", good, "--out", out, "--seed", 2)
    assert second.exit_code == 0, second.output
    assert sorted(p.name for p in written_paths(first)) == ["good-0.npy", "good-0.txt"]
    assert sorted(p.name for p in written_paths(second)) == ["good-0-2.npy", "good-0-2.txt"]
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name in before} == before  # untouched
    assert sorted(p.name for p in out.iterdir()) == ["good-0-2.npy", "good-0-2.txt", "good-0.npy", "good-0.txt"]
    assert not np.array_equal(np.load(out / "good-0.npy"), np.load(out / "good-0-2.npy"))
    notes = [line for line in second.stderr.splitlines() if "already exists" in line]
    assert len(notes) == 1 and "good-0.npy" in notes[0] and "-2" in notes[0]


def test_two_condition_files_with_the_same_stem_in_one_run_keep_both(invoke, run_dir, tmp_path):
    one = condition_file(tmp_path / "a" / "same.txt", np.full(8, 0.9))
    two = condition_file(tmp_path / "b" / "same.txt", np.full(8, -0.9))
    out = tmp_path / "out"
    result = invoke("generate", "--checkpoint", run_dir, "--condition", one, "--condition", two, "--samples", 2,
                    "--out", out)
    assert result.exit_code == 0, result.output
    names = [p.name for p in written_paths(result)]
    assert sorted(names) == sorted(["same-0.npy", "same-0.txt", "same-1.npy", "same-1.txt",
                                    "same-0-2.npy", "same-0-2.txt", "same-1-2.npy", "same-1-2.txt"])
    assert sorted(p.name for p in out.iterdir()) == sorted(names)  # no staging folder left behind
    assert all(p.is_file() for p in written_paths(result))


# -------------------------------------------------------------------------------------------
# the core primitive


def test_write_new_numbers_taken_names_and_keeps_a_group_on_one_number(tmp_path):
    from crossmodal.storage.outputs import write_new, write_new_group

    (tmp_path / "x.mid").write_bytes(b"old")
    assert write_new(tmp_path / "x.mid", lambda h: h.write(b"new")) == tmp_path / "x-2.mid"
    assert (tmp_path / "x.mid").read_bytes() == b"old" and (tmp_path / "x-2.mid").read_bytes() == b"new"
    (tmp_path / "y-2.png").write_bytes(b"old")  # only the PNG of number 2 is taken: both move to 3
    paths = write_new_group([(tmp_path / "y.mid", lambda h: h.write(b"m")), (tmp_path / "y.png", lambda h: h.write(b"p"))])
    assert [p.name for p in paths] == ["y.mid", "y.png"]
    paths = write_new_group([(tmp_path / "y.mid", lambda h: h.write(b"m")), (tmp_path / "y.png", lambda h: h.write(b"p"))])
    assert [p.name for p in paths] == ["y-3.mid", "y-3.png"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_concurrent_writers_of_one_name_never_collide(tmp_path):
    from crossmodal.storage.outputs import write_new

    results, start = [], threading.Barrier(8)

    def worker(k):
        start.wait()
        results.append((k, write_new(tmp_path / "same.bin", lambda h: h.write(bytes([k]) * 100_000))))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({path for _, path in results}) == 8
    for k, path in results:
        assert path.read_bytes() == bytes([k]) * 100_000
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(path.name for _, path in results)


def test_a_full_disk_in_write_new_is_one_output_error_and_leaves_nothing(tmp_path):
    from crossmodal.storage.outputs import write_new_group

    def full(handle):
        handle.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError) as info:
        write_new_group([(tmp_path / "a.mid", lambda h: h.write(b"ok")), (tmp_path / "a.png", full)])
    assert "a.png" in str(info.value) and "No space left" in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


# -------------------------------------------------------------------------------------------
# names in messages


def test_a_condition_file_name_with_a_newline_is_shown_escaped_on_one_line(invoke, run_dir, tmp_path):
    good = condition_file(tmp_path / "good.txt")
    bad = tmp_path / "bad\nskipped fake.txt"
    bad.write_text("1 2 3\n")
    result = invoke("generate", "--checkpoint", run_dir, "--condition", good, "--condition", bad,
                    "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "skipped" in line]
    assert len(lines) == 1, lines
    assert "bad\\nskipped fake.txt" in lines[0] and lines[0].count("bad\\n") == 1


def test_report_skipped_escapes_names_and_names_each_file_once(capsys):
    class Data:
        skipped = [("evil\nskipped other.mid: forged", "unreadable: cannot open evil\nskipped other.mid: forged")]

    report_skipped(Data())
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("skipped evil\\nskipped other.mid")
    assert lines[0].count("evil") == 1 and lines[1] == "1 file(s) skipped: 1 unreadable"


# -------------------------------------------------------------------------------------------
# curves


def test_a_full_disk_while_drawing_curves_is_one_output_error(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from crossmodal.callbacks.curves import plot_curves

    csv = tmp_path / "metrics.csv"
    csv.write_text("step,wall_time,critic/loss,toy/track0,real/toy/track0\n1,0,0.5,0.2,0.3\n2,1,0.4,0.25,0.3\n")
    out = tmp_path / "curves"
    plot_curves(csv, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full(self, destination, **kwargs):
        if hasattr(destination, "write"):
            destination.write(b"\x89PNG partial")
        else:
            Path(destination).write_bytes(b"\x89PNG partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full)
    with pytest.raises(OutputError) as info:
        plot_curves(csv, out)
    assert "toy.png" in str(info.value) and "No space left on device" in str(info.value)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # old PNGs kept, no temporary left

