"""Progress that tells the truth: seconds per step and the ETA from the recent rate of each kind
of step (warm-up steps run more critic updates), a rate after the first step, and a resumed run
that is already complete says so.

The estimator (:class:`~crossmodal.cli.train.RecentRates`) is fed hand-made step timings, so
every expected number is exact; no clock is read.
"""

import importlib
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

TESTS = Path(__file__).parent
if str(TESTS) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(TESTS))
import toy_plugin  # noqa: E402

from crossmodal.cli import make_cli  # noqa: E402
from crossmodal.cli.train import RecentRates  # noqa: E402
from crossmodal.training.config import TrainConfig, updates_through  # noqa: E402

# The jukepix demo's schedule: 10 warm-up steps of 20 critic updates and one generator update
# (21 updates), then 240 of 5 and one (6 updates).
DEMO = TrainConfig(steps=250, warmup_generator_steps=10, critic_updates_warmup=20, critic_updates=5)


def observed(config, seconds_per_update):
    """A :class:`RecentRates` that saw steps ``0 .. len(seconds_per_update) - 1`` take these
    seconds per update each."""
    rates = RecentRates(config)
    for step, rate in enumerate(seconds_per_update):
        updates = updates_through(step + 1, config) - updates_through(step, config)
        rates.observe(step, updates, rate * updates)
    return rates


def test_the_eta_counts_the_updates_left_of_each_kind_at_its_own_rate():
    # 10 warm-up steps at 1 s per update (21 s each), then 20 later steps at 0.5 s (3 s each)
    rates = observed(DEMO, [1.0] * 10 + [0.5] * 20)
    done = updates_through(30, DEMO)
    assert done == 330
    assert rates.remaining(done, 250) == 220 * 6 * 0.5 == 660.0
    # the average since the start said 270 s / 330 updates * 1320 updates left = 1080 s, 64% too long
    assert rates.seconds_per_step(30) == 3.0 and rates.seconds_per_step(9) == 21.0


def test_after_the_first_step_there_is_a_rate_and_later_steps_cost_their_share():
    rates = RecentRates(DEMO)
    assert rates.seconds_per_step(0) is None and rates.remaining(0, 250) is None
    rates.observe(0, 21, 42.0)  # one warm-up step: 2 s per update
    assert rates.seconds_per_step(1) == 42.0
    assert rates.seconds_per_step(10) == 12.0  # a later step: 6 updates, not a warm-up step's 21
    assert rates.remaining(21, 250) == (9 * 21 + 240 * 6) * 2.0


def test_a_step_resumed_part_way_counts_only_the_updates_it_ran():
    rates = RecentRates(DEMO)
    rates.observe(3, 7, 14.0)  # a warm-up step resumed after 14 of its 20 critic updates
    assert rates.seconds_per_step(4) == 42.0


def test_the_rate_follows_the_recent_steps_not_the_average_since_the_start():
    config = TrainConfig(steps=200, warmup_generator_steps=0, critic_updates=5)
    rates = observed(config, [1.0] * 20 + [0.25] * 40)  # the machine got 4 times faster
    left = updates_through(200, config) - updates_through(60, config)
    assert rates.remaining(updates_through(60, config), 200) == pytest.approx(left * 0.25, rel=1e-3)
    # the average since the start said 0.5 s per update: twice the time left


# -------------------------------------------------------------------------------------------
# The command


@pytest.fixture
def invoke(monkeypatch):
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")
    cli = make_cli(extra_plugins=[("toy", toy_plugin)])

    def run(*args):
        return CliRunner().invoke(cli, [str(a) for a in args])

    return run


@pytest.mark.slow
def test_progress_shows_a_rate_from_the_first_step_on(invoke, tmp_path, monkeypatch):
    train_module = importlib.import_module("crossmodal.cli.train")
    monkeypatch.setattr(train_module, "LOG_SECONDS", 0.0)  # a line after every update
    config = tmp_path / "slow.toml"
    config.write_text("log_every = 10\n")  # the trainer's own timing comes at step 2 (an evaluation)
    result = invoke("train", "--plugin", "toy", "--steps", 2, "--config", config, "--out", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("step 1/2  ")]
    assert lines and all(re.search(r"  [0-9.e-]+ s/step  ETA \d+:\d\d:\d\d", line) for line in lines), lines


@pytest.mark.slow
def test_resuming_a_complete_run_says_so_and_how_to_train_further(invoke, tmp_path):
    result = invoke("train", "--plugin", "toy", "--steps", 2, "--out", tmp_path)
    run = Path(result.stdout.splitlines()[0][len("run: "):])
    result = invoke("train", "--resume", run)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == (
        "Nothing to train: the run is already complete at step 2 of 2. "
        "To train it further, resume with --steps N, N > 2.")
    assert "from step 2 to 2" not in result.stderr
