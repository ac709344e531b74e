"""The generator's exponential moving average (``TrainConfig.generator_average``)."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal.job.build import build_job  # noqa: E402
from crossmodal.job.restore import restore  # noqa: E402
from crossmodal.storage.checkpoint import load_checkpoint  # noqa: E402
from crossmodal.training.config import TrainConfig  # noqa: E402
from crossmodal.errors import RecipeError  # noqa: E402
from crossmodal.training.trainer import Trainer  # noqa: E402
from crossmodal.training.launch import resume_training, start_training  # noqa: E402
from crossmodal.storage.runs import seed_everything  # noqa: E402

DECAY = 0.2  # small, so that the cap min(decay, (1 + t) / (10 + t)) applies from the second update on


def make_trainer(**changes):
    seed_everything(0)
    recipe = toy_plugin.toy_recipe()
    job = build_job(toy_plugin.toy_registry(), recipe)
    config = TrainConfig().merged(recipe.training, "toy").merged(changes, "test")
    return Trainer(job, config, None, plugin_versions={"toy": "0.0"})


def weights(module):
    return {name: p.detach().clone() for name, p in module.named_parameters()}


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, float("nan")])
def test_a_decay_outside_0_to_1_is_refused(value):
    with pytest.raises(ValueError, match="generator_average"):
        TrainConfig(generator_average=value)


def test_the_average_follows_its_definition_step_by_step():
    trainer = make_trainer(generator_average=DECAY, lr=0.1)  # large steps: a wrong decay shows
    trained = []
    for _ in range(4):
        trainer.generator_step()
        trained.append(weights(trainer.generator))
    averaged = weights(trainer.state.sampling_generator)
    for name, value in averaged.items():
        # first update copies, then average <- d_t * average + (1 - d_t) * weights, d_t = min(decay, (1+t)/(10+t))
        expected = trained[0][name]
        for t, later in enumerate(trained[1:], start=1):
            kept = min(DECAY, (1 + t) / (10 + t))
            expected = kept * expected + (1 - kept) * later[name]
        assert torch.allclose(value, expected, atol=1e-6), name


def test_without_an_average_samples_come_from_the_trained_generator():
    trainer = make_trainer()
    assert trainer.state.average is None and trainer.state.sampling_generator is trainer.generator


def test_evaluations_and_samples_use_the_averaged_weights():
    trainer = make_trainer(generator_average=DECAY)
    for _ in range(3):
        trainer.generator_step()
    from_average = trainer.fixed.generate(4)
    trained_copy = make_trainer()
    trained_copy.generator.load_state_dict(trainer.generator.state_dict())
    from_trained = trained_copy.fixed.generate(4)
    averaged_copy = make_trainer()
    averaged_copy.generator.load_state_dict(trainer.state.sampling_generator.state_dict())
    assert torch.equal(from_average, averaged_copy.fixed.generate(4))
    assert not torch.equal(from_average, from_trained)


def train_toy(out, steps, **overrides):
    options = {"steps": steps, "out_dir": str(out), "checkpoint_every": 0, "keep_checkpoints": 5,
               "generator_average": DECAY, **overrides}
    trainer = start_training(toy_plugin.toy_registry(), "toy", overrides=options)
    trainer.train()
    trainer.close()
    return trainer


@pytest.mark.slow  # trains
def test_checkpoints_keep_the_average_and_resuming_continues_it_exactly(tmp_path):
    whole = train_toy(tmp_path / "a", steps=6)
    first_half = train_toy(tmp_path / "b", steps=3)
    resumed = resume_training(toy_plugin.toy_registry(), first_half.run_dir, overrides={"steps": 6})
    resumed.train()
    resumed.close()
    a, b = whole.state.sampling_generator.state_dict(), resumed.state.sampling_generator.state_dict()
    for key in a:
        assert torch.equal(a[key], b[key]), f"averaged {key} differs after resuming"
    assert int(whole.state.average.n_averaged) == int(resumed.state.average.n_averaged) == 6
    assert whole.last_metrics == resumed.last_metrics


@pytest.mark.slow  # trains
def test_the_restored_generator_has_the_averaged_weights(tmp_path):
    trainer = train_toy(tmp_path, steps=3)
    document = load_checkpoint(trainer.run_dir)
    generator = restore(toy_plugin.toy_registry(), document).generator
    for name, value in generator.state_dict().items():
        assert torch.equal(value, document["generator_average"][name])
        assert torch.equal(value, trainer.state.sampling_generator.state_dict()[name])
    assert any(not torch.equal(document["generator"][k], document["generator_average"][k])
               for k in document["generator"])


@pytest.mark.slow  # trains
def test_the_decay_cannot_change_when_resuming(tmp_path):
    trainer = train_toy(tmp_path, steps=2)
    with pytest.raises(RecipeError, match="generator_average"):
        resume_training(toy_plugin.toy_registry(), trainer.run_dir, overrides={"steps": 4, "generator_average": 0.5})


def test_batchnorm_statistics_are_averaged_with_the_weights_and_counters_copied():
    from torch.optim.swa_utils import AveragedModel

    from crossmodal.training.state import _moving_average

    torch.manual_seed(0)
    network = torch.nn.BatchNorm1d(3)
    average = AveragedModel(network, multi_avg_fn=_moving_average(0.9), use_buffers=True)
    means = []
    for shift in (0.0, 5.0):
        network(torch.randn(16, 3) + shift)  # training mode: moves running_mean, counts a batch
        means.append(network.running_mean.clone())
        average.update_parameters(network)
    kept = min(0.9, 2 / 11)  # the second update (t = 1)
    torch.testing.assert_close(average.module.running_mean, kept * means[0] + (1 - kept) * means[1])
    assert int(average.module.num_batches_tracked) == int(network.num_batches_tracked) == 2
