"""``crossmodal train`` and ``crossmodal generate`` through CliRunner, with the toy plugin."""

import importlib
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


@pytest.mark.slow  # trains
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


@pytest.mark.slow  # trains
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


@pytest.mark.slow  # trains
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


@pytest.mark.slow  # trains
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


@pytest.mark.slow  # trains
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
@pytest.mark.slow  # trains
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


@pytest.mark.slow  # trains
def test_resume_accepts_what_the_run_already_has_and_resumable_changes(invoke, tmp_path):
    run = run_dir_of(invoke("train", "--plugin", "toy", "--steps", 1, "--out", tmp_path, "-c", "n=12"))
    result = invoke("train", "--resume", run, "--plugin", "toy", "-c", "n=12", "--batch-size", 8, "--steps", 3,
                    "--eval-every", 3, "--sample-every", 0, "--checkpoint-every", 1, "--device", "cpu")
    assert result.exit_code == 0, result.output
    training = json.loads((run / "config.json").read_text())["training"]
    assert (training["steps"], training["eval_every"], training["checkpoint_every"]) == (3, 3, 1)
    with open(run / "metrics.csv") as handle:
        assert [row[0] for row in list(__import__("csv").reader(handle))[1:]] == ["1", "3"]


@pytest.mark.slow  # trains
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


# -------------------------------------------------------------------------------------------
# The first hour: progress, the end table, skipped files, --recipe alone, help texts


def _other_plugin():
    """An in-process plugin ``other`` that provides the recipe ``other`` (the toy's, renamed)."""
    import types

    module = types.ModuleType("other_plugin")
    module.crossmodal_api_version = toy_plugin.crossmodal_api_version

    @toy_plugin.hookimpl
    def crossmodal_register_components(register):
        register("recipe", "other", toy_plugin.toy_recipe)

    module.crossmodal_register_components = crossmodal_register_components
    return module


@pytest.fixture
def invoke_two(monkeypatch):
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")

    def run(*args):
        cli = make_cli(extra_plugins=[("toy", toy_plugin), ("other", _other_plugin())])
        return CliRunner().invoke(cli, [str(a) for a in args])

    return run


@pytest.mark.slow  # trains
def test_progress_without_a_terminal_is_one_plain_line_per_log_interval(invoke, tmp_path):
    from crossmodal.training.config import TrainConfig, updates_through

    result = invoke("train", "--plugin", "toy", "--steps", 4, "--out", tmp_path)  # CliRunner: not a terminal
    assert result.exit_code == 0, result.output
    total = updates_through(4, TrainConfig().merged(toy_plugin.TOY_TRAINING, "toy"))
    assert total == 2 * (3 + 1) + 2 * (2 + 1)  # warm-up steps count their critic updates
    lines = [line for line in result.stderr.splitlines() if line.startswith("step ")]
    assert [line.split("  ")[0] for line in lines] == ["step 1/4", "step 2/4", "step 3/4", "step 4/4"]  # log_every 1
    assert lines[0].startswith("step 1/4  updates 4/14  ") and lines[-1].startswith(f"step 4/4  updates {total}/{total}  ")
    assert all(" s/step  ETA " in line and "c:wasserstein=" in line for line in lines)
    run = run_dir_of(result)
    with open(run / "progress.csv") as handle:
        rows = list(__import__("csv").DictReader(handle))
    assert [(r["step"], r["updates"]) for r in rows] == [("1", "4"), ("2", "8"), ("3", "11"), ("4", "14")]
    assert all(float(r["seconds_per_step"]) > 0 and r["critic/gp"] for r in rows)
    assert (run / "metrics.csv").read_text().count("\n") == 3  # evaluations only: header + steps 2 and 4


@pytest.mark.slow  # trains
def test_progress_prints_a_line_during_long_runs_of_critic_updates(invoke, tmp_path, monkeypatch):
    monkeypatch.setattr(importlib.import_module("crossmodal.cli.train"), "LOG_SECONDS", 0.0)  # a line after every update
    config = tmp_path / "slow.toml"
    config.write_text("log_every = 10\n")
    result = invoke("train", "--plugin", "toy", "--steps", 2, "--config", config, "--out", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("step ")]
    assert lines[0].startswith("step 0/2  updates 1/8  ? s/step  ETA ")  # inside the first warm-up step
    assert any(line.startswith("step 0/2  updates 3/8") for line in lines)


@pytest.mark.slow  # trains
def test_resume_drops_the_progress_rows_past_its_checkpoint(invoke, tmp_path):
    run = run_dir_of(invoke("train", "--plugin", "toy", "--steps", 4, "--out", tmp_path))
    result = invoke("train", "--resume", run / "checkpoints" / "checkpoint-00000002.pt", "--steps", 3)
    assert result.exit_code == 0, result.output
    with open(run / "progress.csv") as handle:
        assert [row["step"] for row in __import__("csv").DictReader(handle)] == ["1", "2", "3"]
    assert "step 3/3  updates 11/11  " in result.stderr  # counted from the run's start


@pytest.mark.slow  # trains
def test_final_metrics_are_one_table_of_generated_and_real(invoke, tmp_path):
    result = invoke("train", "--plugin", "toy", "--steps", 2, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = lines.index("metric\tgenerated\treal")
    table = [line.split("\t") for line in lines[start + 1:] if not line.startswith("checkpoint: ")]
    assert [row[0] for row in table] == ["mean/track0", "mean/track1", "spread"]
    with open(run_dir_of(result) / "metrics.csv") as handle:
        last = list(__import__("csv").DictReader(handle))[-1]
    for name, generated, real in table:
        assert float(generated) == pytest.approx(float(last[name]), rel=1e-5)
        assert float(real) == pytest.approx(float(last[f"real/{name}"]), rel=1e-5)


@pytest.mark.slow  # trains
def test_train_sums_up_skipped_files_in_one_line_and_lists_them_with_verbose(invoke, tmp_path):
    folder = tmp_path / "conditions"
    folder.mkdir()
    np.savetxt(folder / "good.txt", np.linspace(-1, 1, 8))
    for name in ("a.txt", "b.txt", "c.txt"):
        (folder / name).write_text("1 2 3\n")
    result = invoke("train", "--plugin", "toy", "--steps", 1, "--conditions", folder, "--out", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert not [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    (summary,) = [line for line in result.stderr.splitlines() if "file(s) skipped" in line]
    assert summary == "3 file(s) skipped: 3 holds 3 numbers, expected 8; conditions; --verbose lists them"
    result = invoke("train", "--plugin", "toy", "--steps", 1, "--conditions", folder, "--out", tmp_path / "runs",
                    "--verbose")
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 3 and f"skipped {folder / 'a.txt'}: holds 3 numbers" in skipped[0]
    assert "3 file(s) skipped: 3 holds 3 numbers, expected 8; conditions" in result.stderr


@pytest.mark.slow  # trains
def test_recipe_alone_trains_the_recipe_of_whichever_plugin_provides_it(invoke_two, tmp_path):
    result = invoke_two("train", "--recipe", "other", "--steps", 1, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert json.loads((run_dir_of(result) / "config.json").read_text())["recipe"] == "other"
    result = invoke_two("train", "--plugin", "other", "--recipe", "other", "--steps", 1, "--out", tmp_path)
    assert result.exit_code == 0, result.output


def test_plugin_and_recipe_that_disagree_are_one_error_line(invoke_two, tmp_path):
    result = invoke_two("train", "--plugin", "toy", "--recipe", "other", "--out", tmp_path)
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert errors == ["Error: recipe 'other' comes from plugin 'other', not 'toy': give --recipe other alone "
                      "(or --plugin other)"]
    assert not list(tmp_path.iterdir())


def test_unknown_recipe_alone_lists_the_recipes(invoke_two, tmp_path):
    result = invoke_two("train", "--recipe", "nope", "--out", tmp_path)
    assert result.exit_code == 1
    assert "no recipe named 'nope' is registered" in result.stderr
    assert "toy (from toy)" in result.stderr and "other (from other)" in result.stderr


def test_help_texts_show_defaults_and_plain_text(invoke):
    result = invoke("train", "--help")
    assert result.exit_code == 0, result.output
    assert "default: the recipe's" in result.stdout and "--verbose" in result.stdout
    from crossmodal.training.config import TrainConfig

    config = TrainConfig().merged(toy_plugin.TOY_TRAINING, "toy")
    assert f"toy (from toy): steps {config.steps}, batch size {config.batch_size}" in result.stdout
    result = invoke("generate", "--help")
    device = result.stdout[result.stdout.index("--device"):]
    assert "Where to run the generator" in device.split("--", 2)[1]
    for args in ([], ["train"], ["generate"], ["list-components"]):
        assert "``" not in invoke(*args, "--help").stdout, args
