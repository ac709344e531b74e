"""``crossmodal train`` and ``crossmodal generate`` through CliRunner, with the toy plugin."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal.cli import make_cli  # noqa: E402


class NotAPlugin:
    """A class where a module is expected: the loader reports it as broken."""


@pytest.fixture
def invoke(monkeypatch):
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")  # only the in-process plugins below
    runner = CliRunner()

    def run(*args):
        cli = make_cli(extra_plugins=[("toy", toy_plugin), ("broken", NotAPlugin)])
        return runner.invoke(cli, [str(a) for a in args])

    return run


def run_dir_of(result):
    line = next(line for line in result.stdout.splitlines() if line.startswith("run: "))
    return Path(line[len("run: "):])


def test_train_writes_a_run(invoke, tmp_path):
    result = invoke("train", "--plugin", "toy", "--steps", 3, "--out", tmp_path, "--batch-size", 4, "--seed", 7)
    assert result.exit_code == 0, result.output
    run = run_dir_of(result)
    assert run.parent == tmp_path and run.name.startswith("toy-")
    config = json.loads((run / "config.json").read_text())
    assert config["training"]["steps"] == 3 and config["training"]["batch_size"] == 4
    assert config["training"]["seed"] == 7 and config["training"]["eval_every"] == 2  # from the recipe
    assert (run / "metrics.csv").read_text().count("\n") == 3  # header + steps 2 and 3
    assert (run / "checkpoints" / "latest").read_text().strip() == "checkpoint-00000003.pt"
    assert "mean/track0\t" in result.stdout and "critic/gp\t" in result.stdout
    assert "training toy on cpu" in result.stderr  # progress and notes go to stderr


def test_config_file_sits_between_recipe_and_options(invoke, tmp_path):
    file = tmp_path / "train.toml"
    file.write_text("[training]\nsteps = 2\nbatch_size = 5\neval_every = 0\n")
    result = invoke("train", "--plugin", "toy", "--config", file, "--steps", 1, "--out", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    training = json.loads((run_dir_of(result) / "config.json").read_text())["training"]
    assert (training["steps"], training["batch_size"], training["eval_every"]) == (1, 5, 0)


def test_dataset_options_are_parsed_and_recorded(invoke, tmp_path):
    result = invoke("train", "--plugin", "toy", "--steps", 1, "--out", tmp_path, "-c", "n=12", "-c", "seed=3")
    assert result.exit_code == 0, result.output
    job = json.loads((run_dir_of(result) / "config.json").read_text())["job"]
    assert job["components"]["conditions"]["options"] == {"n": 12, "seed": 3}


def test_bad_option_syntax_is_a_usage_error(invoke, tmp_path):
    result = invoke("train", "--plugin", "toy", "--out", tmp_path, "-t", "novalue")
    assert result.exit_code == 2 and "KEY=VALUE" in result.stderr


def test_resume_continues_the_run(invoke, tmp_path):
    first = invoke("train", "--plugin", "toy", "--steps", 2, "--out", tmp_path)
    run = run_dir_of(first)
    result = invoke("train", "--resume", run, "--steps", 4)
    assert result.exit_code == 0, result.output
    assert run_dir_of(result) == run
    assert "from step 2 to 4" in result.stderr
    assert (run / "checkpoints" / "latest").read_text().strip() == "checkpoint-00000004.pt"
    older = run / "checkpoints" / "checkpoint-00000002.pt"  # a file: resume from that step
    result = invoke("train", "--resume", older, "--steps", 3)
    assert result.exit_code == 0, result.output
    assert "from step 2 to 3" in result.stderr and run_dir_of(result) == run


def test_generate_writes_samples_and_skips_bad_files(invoke, tmp_path):
    run = run_dir_of(invoke("train", "--plugin", "toy", "--steps", 1, "--out", tmp_path))
    good = tmp_path / "good.txt"
    np.savetxt(good, np.linspace(-1, 1, 8))
    short = tmp_path / "short.txt"
    short.write_text("1 2 3\n")
    out = tmp_path / "generated"
    result = invoke("generate", "--checkpoint", run, "--condition", good, "--condition", short,
                    "--samples", 2, "--out", out, "--seed", 1)
    assert result.exit_code == 0, result.output
    written = [Path(line) for line in result.stdout.splitlines()]
    assert sorted(p.name for p in written) == ["good-0.npy", "good-0.txt", "good-1.npy", "good-1.txt"]
    assert all(p.exists() for p in written)
    assert np.load(out / "good-0.npy").shape == (2, 6, 2)
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 1 and "short.txt" in skipped[0] and "expected 8" in skipped[0]
    invoke("generate", "--checkpoint", run, "--condition", good, "--samples", 2, "--out", tmp_path / "b",
                   "--seed", 1)
    assert np.array_equal(np.load(out / "good-1.npy"), np.load(tmp_path / "b" / "good-1.npy"))


def test_generate_with_only_bad_files_fails(invoke, tmp_path):
    run = run_dir_of(invoke("train", "--plugin", "toy", "--steps", 1, "--out", tmp_path))
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not numpy")
    result = invoke("generate", "--checkpoint", run, "--condition", bad)
    assert result.exit_code == 1 and "skipped" in result.stderr and "nothing was generated" in result.stderr


def test_generate_refuses_a_corrupt_checkpoint(invoke, tmp_path):
    bad = tmp_path / "checkpoint-00000001.pt"
    bad.write_bytes(b"garbage")
    result = invoke("generate", "--checkpoint", bad, "--condition", bad)
    assert result.exit_code == 1 and "checkpoint-00000001.pt" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_plugin_lists_recipes_without_a_traceback(invoke, tmp_path):
    result = invoke("train", "--plugin", "nope", "--out", tmp_path)
    assert result.exit_code == 1
    assert "no plugin named 'nope'" in result.stderr and "toy (from toy)" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_recipe_lists_recipes(invoke, tmp_path):
    result = invoke("train", "--plugin", "toy", "--recipe", "toi", "--out", tmp_path)
    assert result.exit_code == 1
    assert "'toi'" in result.stderr and "Available recipes: toy" in result.stderr


def test_broken_plugin_is_a_hard_error_with_its_message(invoke, tmp_path):
    result = invoke("train", "--plugin", "broken", "--out", tmp_path)
    assert result.exit_code == 1
    assert "plugin 'broken'" in result.stderr and "failed to load" in result.stderr


def test_plugin_or_resume_is_required(invoke):
    result = invoke("train")
    assert result.exit_code == 2 and "--plugin" in result.stderr


def test_core_errors_become_one_line_messages(invoke, tmp_path):
    result = invoke("train", "--plugin", "toy", "--out", tmp_path, "-c", "dim=7")
    assert result.exit_code == 1
    assert "conditions dataset 'toy-conditions'" in result.stderr and "Traceback" not in result.output


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_a_one_line_error(invoke, tmp_path):
    result = invoke("train", "--plugin", "toy", "--device", "cuda", "--out", tmp_path)
    assert result.exit_code == 1 and "CUDA is not available" in result.stderr
    assert not list(tmp_path.iterdir())  # refused before a run folder was made


def test_resume_does_not_depend_on_the_working_directory(invoke, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    for k in range(3):
        np.savetxt(data / f"c{k}.txt", np.linspace(-1, 1, 8) * (k + 1) / 3)
    monkeypatch.chdir(tmp_path)
    first = invoke("train", "--plugin", "toy", "--conditions", "data", "--steps", 1, "--out", "runs")
    assert first.exit_code == 0, first.output
    run = (tmp_path / run_dir_of(first)).resolve()
    sources = json.loads((run / "config.json").read_text())["job"]["sources"]
    assert sources == {"conditions": str(data.resolve()), "targets": None}  # a name-less default stays None
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = invoke("train", "--resume", run, "--steps", 2)
    assert result.exit_code == 0, result.output
    assert "from step 1 to 2" in result.stderr


@pytest.mark.parametrize("args, named", [
    (["--conditions", "OTHER"], "conditions source"),
    (["-c", "n=12"], "conditions option n=12"),
    (["-t", "seed=5"], "targets option seed=5"),
    (["--recipe", "toy2"], "recipe 'toy2'"),
    (["--batch-size", 5], "training option 'batch_size' cannot change when resuming (the run has 8, 5 was given)"),
    (["--seed", 3], "training option 'seed'"),
    (["--bf16"], "training option 'bf16'"),
    (["--out", "elsewhere"], "a resumed run continues in its own run folder"),
])
def test_resume_refuses_options_that_would_change_the_run(invoke, tmp_path, args, named):
    run = run_dir_of(invoke("train", "--plugin", "toy", "--steps", 1, "--out", tmp_path))
    args = [str(tmp_path / "other.txt") if a == "OTHER" else a for a in args]
    (tmp_path / "other.txt").write_text(" ".join(["0.5"] * 8))
    result = invoke("train", "--resume", run, "--steps", 2, *args)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if not line.startswith("Warning: ")]
    assert len(errors) == 1 and errors[0].startswith("Error: ") and named in errors[0]
    assert "Traceback" not in result.output
    assert (run / "checkpoints" / "latest").read_text().strip() == "checkpoint-00000001.pt"  # nothing trained


def test_resume_accepts_what_the_run_already_has_and_resumable_changes(invoke, tmp_path):
    run = run_dir_of(invoke("train", "--plugin", "toy", "--steps", 1, "--out", tmp_path, "-c", "n=12"))
    result = invoke("train", "--resume", run, "--plugin", "toy", "-c", "n=12", "--batch-size", 8, "--steps", 3,
                    "--eval-every", 3, "--sample-every", 0, "--checkpoint-every", 1, "--device", "cpu")
    assert result.exit_code == 0, result.output
    training = json.loads((run / "config.json").read_text())["training"]
    assert (training["steps"], training["eval_every"], training["checkpoint_every"]) == (3, 3, 1)
    with open(run / "metrics.csv") as handle:
        assert [row[0] for row in list(__import__("csv").reader(handle))[1:]] == ["1", "3"]


def test_resume_reads_a_config_file_and_refuses_what_may_not_change_in_it(invoke, tmp_path):
    run = run_dir_of(invoke("train", "--plugin", "toy", "--steps", 1, "--out", tmp_path))
    longer = tmp_path / "longer.toml"
    longer.write_text("[training]\nsteps = 3\nlog_every = 2\n")
    result = invoke("train", "--resume", run, "--config", longer)
    assert result.exit_code == 0, result.output
    assert "from step 1 to 3" in result.stderr
    faster = tmp_path / "faster.toml"
    faster.write_text("lr = 0.5\nsteps = 4\n")
    result = invoke("train", "--resume", run, "--config", faster)
    assert result.exit_code == 1
    assert f"config file {faster}: training option 'lr' cannot change when resuming" in result.stderr
    assert "Options that may change: checkpoint_every, device" in result.stderr
