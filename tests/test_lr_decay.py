"""The learning rate's linear decay (``TrainConfig.lr_decay_from`` / ``lr_decay_to``)."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal.callbacks.base import Callback  # noqa: E402
from crossmodal.errors import RecipeError  # noqa: E402
from crossmodal.job.build import build_job  # noqa: E402
from crossmodal.training.config import TrainConfig, learning_rate_for  # noqa: E402
from crossmodal.training.launch import resume_training, start_training  # noqa: E402
from crossmodal.training.trainer import Trainer  # noqa: E402


def test_the_rate_falls_linearly_to_a_tenth_and_stays():
    config = TrainConfig(lr=1e-3, lr_decay_from=100, lr_decay_to=250)
    rates = [learning_rate_for(step, config) for step in (0, 99, 100, 175, 249, 250, 10_000)]
    expected = [1e-3, 1e-3, 1e-3, 0.55e-3, 1e-3 * (1 - 0.9 * 149 / 150), 1e-4, 1e-4]
    assert rates == pytest.approx(expected, rel=1e-12)


def test_without_a_decay_the_rate_is_lr_throughout():
    config = TrainConfig(lr=3e-4)
    assert {learning_rate_for(step, config) for step in (0, 100, 10**6)} == {3e-4}


@pytest.mark.parametrize("start, end", [(100, 100), (100, 50), (-1, 10), (0, -5)])
def test_a_decay_that_ends_before_it_starts_is_refused(start, end):
    with pytest.raises(ValueError, match="lr_decay"):
        TrainConfig(lr_decay_from=start, lr_decay_to=end)


class LearningRates(Callback):
    """Records, at each update, the learning rate of every parameter group of both optimisers."""

    def __init__(self):
        self.seen = []

    def on_update(self, trainer):
        state = trainer.state
        self.seen.append([g["lr"] for o in (state.generator_optimizer, state.critic_optimizer) for g in o.param_groups])


def test_every_update_of_a_step_trains_at_that_steps_rate():
    recipe = toy_plugin.toy_recipe()
    config = TrainConfig().merged(recipe.training, "toy").merged(
        {"steps": 5, "lr": 0.01, "lr_decay_from": 1, "lr_decay_to": 3, "critic_updates_warmup": 2,
         "warmup_generator_steps": 5, "eval_every": 0, "sample_every": 0, "checkpoint_every": 0, "device": "cpu"}, "test")
    rates = LearningRates()
    trainer = Trainer(build_job(toy_plugin.toy_registry(), recipe), config, None, callbacks=[rates],
                      plugin_versions={"toy": "0.0"})
    trainer.train()
    per_step = [0.01, 0.01, 0.0055, 0.001, 0.001]  # updates of step 0, 1, 2, 3, 4
    expected = [rate for rate in per_step for _ in range(3)]  # 2 critic updates and the generator's
    assert len(rates.seen) == len(expected)
    for groups, rate in zip(rates.seen, expected):
        assert groups == pytest.approx([rate] * len(groups), rel=1e-12)


def train_toy(out, **options):
    options = {"out_dir": str(out), "device": "cpu", "eval_every": 0, "sample_every": 0, "checkpoint_every": 0,
               "lr_decay_from": 1, "lr_decay_to": 4, **options}
    trainer = start_training(toy_plugin.toy_registry(), "toy", overrides=options)
    trainer.train()
    trainer.close()
    return trainer


@pytest.mark.slow  # trains
def test_a_resumed_run_continues_the_decay_exactly(tmp_path):
    whole = train_toy(tmp_path / "a", steps=6)
    first_half = train_toy(tmp_path / "b", steps=3)
    resumed = resume_training(toy_plugin.toy_registry(), first_half.run_dir, overrides={"steps": 6})
    resumed.train()
    resumed.close()
    a, b = whole.generator.state_dict(), resumed.generator.state_dict()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs after resuming"
    with pytest.raises(RecipeError, match="lr_decay_to"):
        resume_training(toy_plugin.toy_registry(), first_half.run_dir, overrides={"steps": 8, "lr_decay_to": 9})
