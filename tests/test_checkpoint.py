"""Checkpoints: atomic writes, pruning, exact resume, and refusal of corrupt or unsafe files."""

import errno
import json
import os
import pickle
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import CheckpointError, CrossmodalError, OutputError  # noqa: E402
from crossmodal.storage import checkpoint as ckpt  # noqa: E402
from crossmodal.training.launch import resume_training, start_training  # noqa: E402


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


def test_keeps_the_newest_n_and_points_latest_at_the_newest(tmp_path):
    for step in (1, 2, 3, 10, 11):
        path = ckpt.save_checkpoint(minimal_state(step), tmp_path, keep=2)
    assert path.name == "checkpoint-00000011.pt"
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["checkpoint-00000010.pt", "checkpoint-00000011.pt"]
    assert (tmp_path / "latest").read_text().strip() == "checkpoint-00000011.pt"
    assert ckpt.find_checkpoint(tmp_path) == path
    assert not list(tmp_path.glob("*.tmp"))
    loaded = ckpt.load_checkpoint(tmp_path)
    assert loaded["generator_step"] == 11 and torch.equal(loaded["generator"]["w"], torch.full((2,), 11.0))


def test_a_crash_while_writing_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    ckpt.save_checkpoint(minimal_state(1), tmp_path, keep=3)

    def crash(obj, handle):
        handle.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save_checkpoint(minimal_state(2), tmp_path, keep=3)
    assert [p.name for p in tmp_path.iterdir()] != [] and not list(tmp_path.glob("*.tmp"))
    assert not (tmp_path / "checkpoint-00000002.pt").exists()
    assert (tmp_path / "latest").read_text().strip() == "checkpoint-00000001.pt"
    assert ckpt.load_checkpoint(tmp_path)["generator_step"] == 1


def test_rng_states_round_trip():
    generator = torch.Generator().manual_seed(5)
    state = ckpt.capture_rng_state(generator)
    before = (torch.rand(3), np.random.rand(3), random.random(), torch.rand(3, generator=generator))
    ckpt.restore_rng_state(state, generator)
    after = (torch.rand(3), np.random.rand(3), random.random(), torch.rand(3, generator=generator))
    assert torch.equal(before[0], after[0]) and np.array_equal(before[1], after[1])
    assert before[2] == after[2] and torch.equal(before[3], after[3])


def train_toy(out, steps, **overrides):
    registry = toy_plugin.toy_registry()
    options = {"steps": steps, "out_dir": str(out), "checkpoint_every": 0, "keep_checkpoints": 5, **overrides}
    trainer = start_training(registry, "toy", overrides=options)
    trainer.train()
    return trainer


@pytest.mark.slow  # trains
def test_resume_continues_bitwise_like_an_uninterrupted_run(tmp_path):
    # The warm-up ends at step 2 and evaluations/samples run every 2 steps, so both cross the cut.
    whole = train_toy(tmp_path / "a", steps=6)
    first_half = train_toy(tmp_path / "b", steps=3)
    resumed = resume_training(toy_plugin.toy_registry(), first_half.run_dir, overrides={"steps": 6})
    assert resumed.step == 3 and resumed.run_dir == first_half.run_dir
    resumed.train()
    assert resumed.step == whole.step == 6
    assert resumed.critic_updates_done == whole.critic_updates_done
    for module in ("generator", "critic"):
        a, b = getattr(whole, module).state_dict(), getattr(resumed, module).state_dict()
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{module}.{key} differs after resuming"
    for name in ("generator_optimizer", "critic_optimizer"):
        a, b = getattr(whole, name).state_dict()["state"], getattr(resumed, name).state_dict()["state"]
        for index in a:
            for key in a[index]:
                assert torch.equal(a[index][key], b[index][key])
    assert whole.last_metrics == resumed.last_metrics


@pytest.mark.slow  # trains
def test_checkpoint_records_recipe_components_config_and_plugins(tmp_path):
    trainer = train_toy(tmp_path, steps=1)
    document = ckpt.load_checkpoint(trainer.run_dir)
    assert document["job"]["recipe"] == "toy"
    assert document["job"]["components"]["critic"]["name"] == "toy-critic"
    assert document["config"]["steps"] == 1 and document["generator_step"] == 1
    assert document["critic_step"] == toy_plugin.TOY_TRAINING["critic_updates_warmup"]
    assert isinstance(document["rng"]["trainer"], torch.Tensor)


def test_truncated_and_garbage_files_are_refused_naming_the_file(tmp_path):
    good = ckpt.save_checkpoint(minimal_state(1), tmp_path / "good", keep=1)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(3000))
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    for path in (truncated, garbage, empty):
        with pytest.raises(CheckpointError, match=path.name):
            ckpt.load_checkpoint(path)


def test_a_tensor_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a crossmodal checkpoint"):
        ckpt.load_checkpoint(path)


def test_missing_path_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        ckpt.load_checkpoint(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        ckpt.load_checkpoint(tmp_path)


class Payload:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_a_malicious_pickle_is_refused_and_does_not_run(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    state = {**minimal_state(1), "extra": Payload(marker)}
    if writer == "torch":
        torch.save(state, path)
    else:
        with open(path, "wb") as handle:
            pickle.dump(state, handle)
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(path)
    assert "evil.pt" in str(info.value)
    assert not marker.exists()
    if writer == "torch":
        assert "refused" in str(info.value)


# -------------------------------------------------------------------------------------------
# Hardening: full disk, the latest pointer, refused pickles, leftovers, non-finite weights


def _partial_then(error):
    def save(obj, handle):
        handle.write(b"PK\x03\x04 partial")
        raise error

    return save


@pytest.mark.parametrize("error", [
    OSError(errno.ENOSPC, "No space left on device"),
    RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 1536 vs 1472\n"
                 "frame #0: c10::ThrowEnforceNotMet(...)"),
], ids=["oserror", "torch-zip-writer"])
def test_a_full_disk_while_saving_is_one_line_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch, error):
    ckpt.save_checkpoint(minimal_state(1), tmp_path, keep=3)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    monkeypatch.setattr(ckpt.torch, "save", _partial_then(error))
    with pytest.raises(OutputError) as info:
        ckpt.save_checkpoint(minimal_state(2), tmp_path, keep=3)
    message = str(info.value)
    assert "\n" not in message and isinstance(info.value, CrossmodalError)
    assert "checkpoint-00000002.pt" in message and "checkpoint-00000001.pt and latest are unchanged" in message
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temporary, latest untouched
    monkeypatch.undo()
    assert ckpt.load_checkpoint(tmp_path)["generator_step"] == 1


@pytest.mark.parametrize("pointer", ["../../etc/passwd", "../elsewhere/checkpoint-00000001.pt", "ABSOLUTE",
                                     "checkpoint-00000001.pt/../../elsewhere/checkpoint-00000001.pt", "notes.txt"])
def test_a_latest_pointer_naming_a_file_elsewhere_is_refused(tmp_path, pointer):
    elsewhere = ckpt.save_checkpoint(minimal_state(1), tmp_path / "elsewhere", keep=1)
    run = tmp_path / "run" / "checkpoints"
    ckpt.save_checkpoint(minimal_state(2), run, keep=1)
    (run / "notes.txt").write_text("not a checkpoint")
    text = str(elsewhere) if pointer == "ABSOLUTE" else pointer
    (run / "latest").write_text(text + "\n")
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(tmp_path / "run")
    message = str(info.value)
    assert "latest" in message and "not a checkpoint-*.pt file in the same folder" in message and "\n" not in message


def test_a_plain_latest_pointer_still_works_and_a_stale_one_falls_back(tmp_path):
    run = tmp_path / "checkpoints"
    ckpt.save_checkpoint(minimal_state(1), run, keep=3)
    ckpt.save_checkpoint(minimal_state(2), run, keep=3)
    (run / "latest").write_text("checkpoint-00000001.pt\n")
    assert ckpt.find_checkpoint(tmp_path).name == "checkpoint-00000001.pt"
    (run / "latest").write_text("checkpoint-00000009.pt\n")  # a pruned file: the newest is used
    assert ckpt.find_checkpoint(tmp_path).name == "checkpoint-00000002.pt"


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_a_refused_pickle_is_one_line_that_never_suggests_turning_weights_only_off(tmp_path, writer):
    path = tmp_path / "evil.pt"
    state = {**minimal_state(1), "extra": Payload(tmp_path / "pwned")}
    if writer == "torch":
        torch.save(state, path)
    else:
        with open(path, "wb") as handle:
            pickle.dump(state, handle)
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and "weights_only" not in message and "trusted source" not in message
    assert message.startswith(f"checkpoint {path}: refused: holds pickled objects other than tensors and plain values")
    if writer == "torch":
        assert message.endswith(f"(a {os.system.__module__}.system)")


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.slow  # subprocess (for a dead pid)
def test_leftovers_of_killed_saves_are_removed_at_the_next_save(tmp_path):
    dead = _dead_pid()
    old_style = ["checkpoint-00000001.pt.tmp", "latest.tmp"]
    dead_ones = [f".checkpoint-00000003.pt.tmp-{dead}", f".latest.tmp-{dead}"]
    kept = [f".checkpoint-00000004.pt.tmp-{os.getpid()}", "notes.tmp", "mine.pt.tmp"]  # a live writer, user files
    for name in old_style + dead_ones + kept:
        (tmp_path / name).write_bytes(b"x")
    ckpt.save_checkpoint(minimal_state(5), tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept + ["checkpoint-00000005.pt", "latest"])


@pytest.mark.slow  # trains
def test_generate_refuses_a_checkpoint_with_non_finite_generator_weights(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from crossmodal.cli import make_cli

    trainer = train_toy(tmp_path / "run", steps=1, checkpoint_every=1)
    document = torch.load(ckpt.find_checkpoint(trainer.run_dir), weights_only=True)
    name = sorted(document["generator"])[1]
    document["generator"][name] = document["generator"][name].clone().fill_(float("nan"))
    bad = tmp_path / "checkpoint-00000001.pt"
    torch.save(document, bad)
    condition = tmp_path / "c.txt"
    np.savetxt(condition, np.zeros(8))
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")
    result = CliRunner().invoke(make_cli(extra_plugins=[("toy", toy_plugin)]),
                                ["generate", "--checkpoint", str(bad), "--condition", str(condition),
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and str(bad) in errors[0] and repr(name) in errors[0] and "NaN" in errors[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # trains
def test_resume_refuses_bad_recorded_options_naming_the_checkpoint(tmp_path):
    registry = toy_plugin.toy_registry()
    trainer = start_training(registry, "toy", overrides={"steps": 1, "out_dir": str(tmp_path)})
    trainer.train()
    trainer.close()
    path = ckpt.find_checkpoint(trainer.run_dir)
    document = torch.load(path, weights_only=True)
    job = json.loads(document["job"])
    role = next(iter(job["components"]))
    job["components"][role]["options"]["no_such_option"] = 1
    document["job"] = json.dumps(job)
    torch.save(document, path)
    with pytest.raises(CheckpointError, match=r"checkpoint .*no_such_option"):
        resume_training(registry, trainer.run_dir, overrides={"steps": 2})
