"""Ctrl-C answers at once: one line on the first signal, a stop between critic updates whose
checkpoint resumes bit for bit, and exit status 130 for Ctrl-C during start-up or a second Ctrl-C.

The signals are real (``os.kill`` of this process) and sent from points the tests pick: the
trainer's ``on_update`` callback, or components of a small plugin defined here (this module)
that press Ctrl-C while the job is built or during the first critic update.
"""

import dataclasses
import os
import signal
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

TESTS = Path(__file__).parent
if str(TESTS) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(TESTS))
import toy_plugin  # noqa: E402

from crossmodal import API_VERSION, ComponentSpec, TrainingInterrupted, hookimpl  # noqa: E402
from crossmodal.callbacks.base import ProgressFunctions  # noqa: E402
from crossmodal.cli import make_cli  # noqa: E402
from crossmodal.training.config import updates_through  # noqa: E402
from crossmodal.training.stop_signals import StopSignals  # noqa: E402
from crossmodal.training.launch import resume_training, start_training  # noqa: E402

NOTICE = "stopping after the current update; Ctrl-C again to stop now without saving\n"


def press_ctrl_c() -> None:
    """A real SIGINT to this process (its handler runs before the next line of Python)."""
    os.kill(os.getpid(), signal.SIGINT)


# -------------------------------------------------------------------------------------------
# A plugin whose components press Ctrl-C


class CtrlCAtStart(toy_plugin.ToyConditions):
    """Toy conditions that press Ctrl-C while the job is being built."""

    def __init__(self, **options):
        press_ctrl_c()
        super().__init__(**options)


class CtrlCTwice(toy_plugin.ToyCritic):
    """A toy critic that presses Ctrl-C in its first two calls (both in the first critic update,
    which calls it three times: real, generated and penalty samples)."""

    def __init__(self, **options):
        super().__init__(**options)
        self.calls = 0

    def forward(self, condition, sample):
        self.calls += 1
        if self.calls <= 2:
            press_ctrl_c()
        return super().forward(condition, sample)


@hookimpl
def crossmodal_api_version():
    return API_VERSION


@hookimpl
def crossmodal_register_components(register):
    register("sample-set", "ctrl-c-at-start", CtrlCAtStart)
    register("critic", "ctrl-c-twice", CtrlCTwice)
    toy = toy_plugin.toy_recipe()
    register("recipe", "ctrl-c-at-start", lambda: dataclasses.replace(
        toy, name="ctrl-c-at-start", conditions=ComponentSpec("ctrl-c-at-start")))
    register("recipe", "ctrl-c-twice", lambda: dataclasses.replace(
        toy, name="ctrl-c-twice", critic=ComponentSpec("ctrl-c-twice")))


@pytest.fixture
def invoke(monkeypatch):
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")
    cli = make_cli(extra_plugins=[("toy", toy_plugin), ("ctrl-c", sys.modules[__name__])])

    def run(*args):
        return CliRunner().invoke(cli, [str(a) for a in args])

    return run


# -------------------------------------------------------------------------------------------
# The first signal


def test_the_first_signal_is_answered_at_once_with_one_line(capfd):
    with StopSignals() as stop_signals:
        press_ctrl_c()
        assert stop_signals.received == signal.SIGINT
        assert capfd.readouterr().err == NOTICE  # before training goes on: written by the handler


def train_toy(out, steps):
    return start_training(toy_plugin.toy_registry(), "toy", overrides={
        "steps": steps, "out_dir": str(out), "checkpoint_every": 0, "sample_every": 0})


@pytest.mark.slow
# after critic update 1 or 2 (of 3) of warm-up step 1, or 1 (of 2) of step 2
@pytest.mark.parametrize("signalled_at", [5, 6, 9])
def test_a_signal_between_critic_updates_stops_there_and_resuming_continues_bit_for_bit(tmp_path, signalled_at):
    trainer = train_toy(tmp_path / "cut", 5)
    step = next(s for s in range(5) if updates_through(s + 1, trainer.config) > signalled_at)

    def on_update(done, total):
        if done == signalled_at and callable(signal.getsignal(signal.SIGINT)):
            press_ctrl_c()

    trainer.callbacks.append(ProgressFunctions(on_update=on_update))
    with pytest.raises(TrainingInterrupted) as info:
        trainer.train()
    trainer.close()
    stopped = info.value
    assert (stopped.step, stopped.exit_code, trainer.step) == (step, 130, step)
    assert trainer.updates_done == signalled_at  # no update ran after the one the signal came in
    assert stopped.checkpoint == trainer.run_dir / "checkpoints" / f"checkpoint-{step:08d}.pt"

    resumed = resume_training(toy_plugin.toy_registry(), trainer.run_dir)
    assert (resumed.step, resumed.updates_done) == (step, signalled_at)
    resumed.train()
    resumed.close()
    whole = train_toy(tmp_path / "whole", 5)
    whole.train()
    whole.close()
    assert resumed.critic_updates_done == whole.critic_updates_done
    for module in ("generator", "critic"):  # trained on after the resume: the optimisers' states count too
        a, b = getattr(whole, module).state_dict(), getattr(resumed, module).state_dict()
        assert all(torch.equal(a[key], b[key]) for key in a), module


# -------------------------------------------------------------------------------------------
# Exit status 130


@pytest.mark.slow
def test_ctrl_c_during_start_up_exits_130_with_one_line(invoke, tmp_path):
    result = invoke("train", "--recipe", "ctrl-c-at-start", "--steps", 2, "--out", tmp_path)
    assert result.exit_code == 130, result.output
    assert result.stderr.splitlines()[-1] == "Interrupted"
    assert "Aborted" not in result.output


@pytest.mark.slow
def test_a_second_ctrl_c_stops_at_once_without_saving_and_exits_130(invoke, tmp_path, capfd):
    result = invoke("train", "--recipe", "ctrl-c-twice", "--steps", 2, "--out", tmp_path)
    assert result.exit_code == 130, result.output
    assert "Stopped at once, without saving; no checkpoint had been written yet" in result.stderr
    assert "Aborted" not in result.output
    (run,) = tmp_path.iterdir()
    assert not list(run.glob("checkpoints/*.pt"))
    assert capfd.readouterr().err.count(NOTICE) == 1  # the first Ctrl-C, answered on file descriptor 2
