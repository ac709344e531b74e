"""The WGAN-GP trainer on the toy modality: updates, extra losses, divergence, metrics and files."""

import csv
import dataclasses
import json
import math
import sys
from pathlib import Path

import pytest
import torch

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import ComponentSpec, TrainingDivergedError, hookimpl, load_plugins  # noqa: E402
from crossmodal.callbacks.base import Callback, ProgressFunctions  # noqa: E402
from crossmodal.job.build import build_job  # noqa: E402
from crossmodal.storage.checkpoint import list_checkpoints  # noqa: E402
from crossmodal.training.config import TrainConfig  # noqa: E402
from crossmodal.training.trainer import Trainer  # noqa: E402
from crossmodal.storage.runs import seed_everything  # noqa: E402


class Term(torch.nn.Module):
    """A loss-term module that returns ``fn(context)``."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, context):
        return self.fn(context)


def with_terms(**fns):
    """The toy registry and a plugin registering each ``name=fn`` as a loss term built from ``(data)``."""

    class Terms:
        @staticmethod
        @hookimpl
        def crossmodal_register_components(register):
            for name, fn in fns.items():
                register("loss-term", name, lambda data, fn=fn: Term(fn))

    return load_plugins(extra=[("toy", toy_plugin), ("terms", Terms())], allow=[], strict=True).registry


def make_trainer(run_dir=None, recipe=None, registry=None, **changes):
    seed_everything(0)
    recipe = recipe or toy_plugin.toy_recipe()
    job = build_job(registry or toy_plugin.toy_registry(), recipe)
    config = TrainConfig().merged(recipe.training, "toy").merged(changes, "test")
    return Trainer(job, config, run_dir, plugin_versions={"toy": "0.0"})


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(before, module):
    """Whether the weights moved (a WGAN critic's output bias gets no gradient, so not every tensor)."""
    moved = [not torch.equal(a, b) for a, b in zip(before, module.parameters())]
    return sum(moved) >= len(moved) - 1


def test_one_critic_step_changes_only_the_critic():
    trainer = make_trainer()
    critic, generator = snapshot(trainer.critic), snapshot(trainer.generator)
    losses = trainer.critic_step()
    assert list(losses) == ["wasserstein", "gp", "total"]
    assert all(isinstance(v, float) and math.isfinite(v) for v in losses.values())
    assert losses["total"] == pytest.approx(losses["wasserstein"] + losses["gp"], rel=1e-5)
    assert changed(critic, trainer.critic)
    assert all(torch.equal(a, b) for a, b in zip(generator, trainer.generator.parameters()))
    assert trainer.critic_updates_done == 1 and trainer.step == 0


def test_one_generator_step_changes_only_the_generator():
    trainer = make_trainer()
    critic, generator = snapshot(trainer.critic), snapshot(trainer.generator)
    losses = trainer.generator_step()
    assert list(losses) == ["adversarial", "total"]
    assert changed(generator, trainer.generator)
    assert all(torch.equal(a, b) for a, b in zip(critic, trainer.critic.parameters()))
    assert all(p.requires_grad for p in trainer.critic.parameters())  # restored after the update
    assert trainer.step == 1


def test_one_training_step_updates_both_networks():
    trainer = make_trainer(steps=1)
    critic, generator = snapshot(trainer.critic), snapshot(trainer.generator)
    trainer.train()
    assert changed(critic, trainer.critic) and changed(generator, trainer.generator)
    assert trainer.critic_updates_done == toy_plugin.TOY_TRAINING["critic_updates_warmup"]


def test_extra_loss_terms_are_called_weighted_and_logged(tmp_path):
    seen = []

    def mean_fake(context):
        seen.append(set(context))
        return context["fake"].mean()

    def zero(context):
        return context["real"].sum() * 0.0

    recipe = dataclasses.replace(
        toy_plugin.toy_recipe(),
        generator_losses=(ComponentSpec("mean_fake", {"weight": 0.5}),),
        critic_losses=(ComponentSpec("zero"),),
    )
    trainer = make_trainer(tmp_path / "run", recipe=recipe, registry=with_terms(mean_fake=mean_fake, zero=zero),
                           steps=2)
    losses = trainer.generator_step()
    assert list(losses) == ["adversarial", "mean_fake", "total"]
    assert seen[0] >= {"conditions", "real", "fake", "generator", "critic"}
    assert 0 < losses["mean_fake"] <= 0.5  # weight 0.5 times a mean in [0, 1]
    assert losses["total"] == pytest.approx(losses["adversarial"] + losses["mean_fake"], rel=1e-5)
    assert list(trainer.critic_step()) == ["wasserstein", "gp", "zero", "total"]
    trainer.train()
    with open(tmp_path / "run" / "metrics.csv") as handle:
        header = next(csv.reader(handle))
    assert "generator/mean_fake" in header and "critic/zero" in header


@pytest.mark.slow  # trains
def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = None

    def explodes_at_step_3(context):
        value = context["fake"].mean() * 0.0
        return value + float("nan") if trainer.step >= 3 else value

    recipe = dataclasses.replace(toy_plugin.toy_recipe(), generator_losses=(ComponentSpec("explodes"),))
    trainer = make_trainer(tmp_path / "run", recipe=recipe, registry=with_terms(explodes=explodes_at_step_3), steps=8,
                           checkpoint_every=2, log_every=4)
    with pytest.raises(TrainingDivergedError) as info:
        trainer.train()
    message = str(info.value)
    assert "'generator/explodes'" in message and "generator step 3" in message
    assert "checkpoint-00000002.pt" in message
    checkpoints = list_checkpoints(tmp_path / "run" / "checkpoints")
    assert [p.name for p in checkpoints] == ["checkpoint-00000002.pt"]
    assert (tmp_path / "run" / "checkpoints" / "latest").read_text().strip() == "checkpoint-00000002.pt"


def test_single_steps_raise_on_a_non_finite_loss():
    recipe = dataclasses.replace(toy_plugin.toy_recipe(), critic_losses=(ComponentSpec("inf"),))
    registry = with_terms(inf=lambda c: torch.tensor(float("inf")))
    with pytest.raises(TrainingDivergedError, match="critic loss 'inf' became inf"):
        make_trainer(recipe=recipe, registry=registry).critic_step()


@pytest.mark.slow  # trains
def test_run_writes_config_metrics_curves_samples_and_checkpoints(tmp_path):
    run = tmp_path / "run"
    reports = []
    trainer = make_trainer(run, steps=4)
    trainer.callbacks.append(ProgressFunctions(lambda step, total, losses: reports.append((step, total, dict(losses)))))
    metrics = trainer.train()
    assert set(metrics) == {"mean/track0", "mean/track1", "spread"}
    assert [r[0] for r in reports] == [1, 2, 3, 4] and reports[-1][1] == 4
    assert set(reports[-1][2]) == {"critic/wasserstein", "critic/gp", "critic/total",
                                   "generator/adversarial", "generator/total"}

    config = json.loads((run / "config.json").read_text())
    assert config["recipe"] == "toy" and config["training"]["steps"] == 4
    assert config["job"]["components"]["decoder"] == {"name": "toy-decoder", "options": {}}
    assert config["plugins"] == {"toy": "0.0"}

    with open(run / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == [2, 4]
    for column in ("wall_time", "critic/gp", "generator/total", "mean/track0", "mean/track1", "spread",
                   "real/mean/track0", "real/mean/track1", "real/spread"):
        assert rows[-1][column] != ""
    # The toy's real tracks are a rising and a falling ramp: both means near 0.5, spread wide.
    assert float(rows[0]["real/spread"]) == float(rows[1]["real/spread"]) > 0.2

    for name in ("mean.png", "spread.png", "losses.png"):
        png = run / "curves" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    first = run / "samples" / "step-000002" / "sample-0.npy"
    assert first.exists() and (run / "samples" / "step-000004" / "sample-1.txt").exists()
    assert (run / "samples" / "conditions.txt").read_text().startswith("sample 0: synthetic #")
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == [
        "checkpoint-00000002.pt", "checkpoint-00000004.pt"]


@pytest.mark.slow  # trains
def test_written_samples_use_fixed_conditions_and_noise(tmp_path):
    import numpy as np

    trainer = make_trainer(tmp_path / "run", steps=2, lr=1e-12)  # the generator barely moves
    trainer.train()
    a = np.load(tmp_path / "run" / "samples" / "step-000002" / "sample-1.npy")
    b = trainer.fixed.generate(trainer.config.write_samples).numpy()[1]
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_nothing_is_written_without_a_run_folder_or_off_the_main_process(tmp_path):
    seed_everything(0)
    recipe = toy_plugin.toy_recipe()
    job = build_job(toy_plugin.toy_registry(), recipe)
    config = TrainConfig().merged(recipe.training, "toy").merged({"steps": 2}, "test")
    trainer = Trainer(job, config, tmp_path / "run", is_main_process=False)
    trainer.train()
    assert not (tmp_path / "run").exists()


def test_bf16_autocast_trains_with_finite_losses():
    trainer = make_trainer(bf16=True)
    assert all(math.isfinite(v) for v in trainer.critic_step().values())
    assert all(math.isfinite(v) for v in trainer.generator_step().values())


def test_non_finite_weights_are_not_checkpointed(tmp_path):
    trainer = make_trainer(tmp_path / "run", steps=2)
    trainer.train()
    with torch.no_grad():
        trainer.generator.decoders[1].net[0].weight[0, 0] = float("nan")
    with pytest.raises(TrainingDivergedError, match=r"generator weight 'decoders.1.net.0.weight'.*checkpoint-00000002"):
        trainer.save_checkpoint()


def test_tensorboard_gets_losses_and_metrics_when_it_imports(tmp_path, monkeypatch):
    import types

    scalars = []

    class FakeWriter:
        def __init__(self, log_dir):
            self.log_dir = log_dir

        def add_scalar(self, tag, value, step):
            scalars.append((tag, step))

        def close(self):
            scalars.append(("closed", None))

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=FakeWriter))
    trainer = make_trainer(tmp_path / "run", steps=2)
    assert trainer.open_tensorboard()
    trainer.train()
    trainer.close()
    assert ("loss/critic/gp", 2) in scalars and ("metric/mean/track1", 2) in scalars
    assert scalars[-1] == ("closed", None)


@pytest.mark.slow  # trains
def test_an_exploding_loss_stops_training_like_a_nan(tmp_path):
    trainer = None

    def explodes_at_step_3(context):  # a finite 3e25: the weights stay finite, the run is lost
        return context["real"].sum() * 0.0 + (3e25 if trainer.step >= 3 else 0.0)

    recipe = dataclasses.replace(toy_plugin.toy_recipe(), critic_losses=(ComponentSpec("huge"),))
    trainer = make_trainer(tmp_path / "run", recipe=recipe, registry=with_terms(huge=explodes_at_step_3), steps=8,
                           checkpoint_every=2, log_every=4)
    with pytest.raises(TrainingDivergedError) as info:
        trainer.train()
    message = str(info.value)
    assert "'critic/huge' reached 3e+25, beyond divergence_bound 1e+06 at generator step 3" in message
    assert "the last good checkpoint is" in message and "checkpoint-00000002.pt" in message
    assert [p.name for p in list_checkpoints(tmp_path / "run" / "checkpoints")] == ["checkpoint-00000002.pt"]


def test_an_exploding_gradient_penalty_stops_training_at_once(tmp_path):
    trainer = make_trainer(tmp_path / "run", steps=4, gp_weight=1e12)
    with pytest.raises(TrainingDivergedError, match=r"'critic/gp' reached .*beyond divergence_bound 1e\+06 at "
                                                    r"generator step 0.*no checkpoint had been written yet"):
        trainer.train()
    assert not (tmp_path / "run" / "checkpoints").exists()
    bounded = make_trainer(steps=1, gp_weight=1e12, divergence_bound=float("inf"))
    assert bounded.critic_step()["gp"] > 1e6  # the bound turned off: only NaN/inf stop it
    with pytest.raises(TrainingDivergedError, match="critic loss 'gp' reached"):
        make_trainer(steps=1, gp_weight=1e12).critic_step()


@pytest.mark.slow  # trains
def test_a_checkpoint_with_nan_weights_is_never_resumed_from_or_called_good(tmp_path):
    from crossmodal import CheckpointError
    from crossmodal.storage.checkpoint import save_checkpoint
    from crossmodal.callbacks.divergence import last_good
    from crossmodal.training.launch import resume_training

    trainer = make_trainer(tmp_path / "run", steps=2)
    trainer.train()
    trainer.close()
    state = trainer.state_dict()
    state["critic"] = {k: v.clone() for k, v in state["critic"].items()}
    next(iter(state["critic"].values())).fill_(float("nan"))
    state["generator_step"] = 3
    save_checkpoint(state, tmp_path / "run" / "checkpoints", keep=5)
    with pytest.raises(CheckpointError, match=r"checkpoint-00000003\.pt: critic weight '.*' holds NaN or inf"):
        resume_training(toy_plugin.toy_registry(), tmp_path / "run")
    resumed = resume_training(toy_plugin.toy_registry(), tmp_path / "run" / "checkpoints" / "checkpoint-00000002.pt")
    assert "checkpoint-00000002.pt" in last_good(resumed.last_checkpoint)


@pytest.mark.slow  # trains
def test_resuming_on_another_kind_of_device_warns_instead_of_failing(tmp_path):
    """A CPU checkpoint's generator state does not fit a CUDA generator (simulated here on the CPU
    with a separate device generator and a state of a CUDA generator's size)."""
    trainer = make_trainer(tmp_path / "run", steps=1)
    trainer.train()
    trainer.close()
    document = trainer.state_dict()
    document["rng"]["trainer_device"] = torch.zeros(16, dtype=torch.uint8)  # a CUDA generator's state
    other = make_trainer(steps=2)
    other.draws.device_rng = torch.Generator()
    other.load_state_dict(document)
    assert other.step == 1 and "written on another kind of device" in other.warnings[0]
    other.train()


@pytest.mark.slow  # trains
def test_every_update_is_reported_and_steps_are_timed(tmp_path):
    from crossmodal.training.config import updates_through

    trainer = make_trainer(tmp_path / "run", steps=3, log_every=3)
    seen = []
    trainer.callbacks.append(ProgressFunctions(on_update=lambda done, total: seen.append((done, total))))
    trainer.train()
    total = updates_through(3, trainer.config)
    assert total == trainer.critic_updates_done + 3 == 3 + 1 + 3 + 1 + 2 + 1
    assert seen == [(done, total) for done in range(1, total + 1)]  # critic and generator updates alike
    assert trainer.seconds_per_step is not None and trainer.seconds_per_step > 0
    with open(tmp_path / "run" / "progress.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["step"], r["updates"]) for r in rows] == [("2", "8"), ("3", str(total))]  # eval_every 2 flushes too
    assert float(rows[-1]["seconds_per_step"]) == pytest.approx(trainer.seconds_per_step, rel=1e-3)


# -------------------------------------------------------------------------------------------
# The callback protocol (crossmodal.callbacks.base)


class Recording(Callback):
    """Records every hook call as ``(hook, step, updates_done)``, and what a flush and a step end see."""

    def __init__(self):
        self.calls, self.flushed, self.metrics_at_end = [], [], []

    def on_train_start(self, trainer, last):
        self.calls.append(("train_start", trainer.step, last))

    def on_update(self, trainer):
        self.calls.append(("update", trainer.step, trainer.updates_done))

    def on_flush(self, trainer, losses):
        self.calls.append(("flush", trainer.step, trainer.updates_done))
        self.flushed.append(dict(losses) == trainer.last_losses and list(losses) == trainer.loss_names)

    def on_step_end(self, trainer, last):
        self.calls.append(("step_end", trainer.step, trainer.updates_done))
        self.metrics_at_end.append(dict(trainer.last_metrics))


@pytest.mark.slow  # trains
def test_a_callback_sees_the_hooks_in_the_documented_order_and_changes_no_update():
    from crossmodal.training.config import critic_updates_for

    recording = Recording()
    only_at_the_end = {"eval_every": 0, "sample_every": 0, "checkpoint_every": 0}
    trainer = make_trainer(steps=3, log_every=2, **only_at_the_end)
    trainer.callbacks.append(recording)
    trainer.train()
    expected, done = [("train_start", 0, 3)], 0
    for step in range(3):
        for _ in range(critic_updates_for(step, trainer.config)):
            done += 1
            expected.append(("update", step, done))
        done += 1
        expected.append(("update", step + 1, done))
        if step + 1 in (2, 3):  # log_every, and the last step's evaluation, samples and checkpoint
            expected.append(("flush", step + 1, done))
        expected.append(("step_end", step + 1, done))
    assert recording.calls == expected
    assert recording.flushed == [True, True]
    assert recording.metrics_at_end[-1] == trainer.last_metrics != {}  # the trainer's own callbacks come first
    assert recording.metrics_at_end[:-1] == [{}, {}]

    plain = make_trainer(steps=3, log_every=2, **only_at_the_end)
    plain.train()
    assert all(torch.equal(a, b) for a, b in zip(plain.generator.state_dict().values(),
                                                 trainer.generator.state_dict().values()))


def test_the_progress_and_on_update_arguments_are_deprecated_and_still_called():
    seed_everything(0)
    recipe = toy_plugin.toy_recipe()
    job = build_job(toy_plugin.toy_registry(), recipe)
    config = TrainConfig().merged(recipe.training, "toy").merged({"steps": 1}, "test")
    reports, updates = [], []
    with pytest.warns(DeprecationWarning, match=r"Trainer\(progress=\.\.\., on_update=\.\.\.\) is deprecated"):
        trainer = Trainer(job, config, progress=lambda step, total, losses: reports.append((step, total)),
                          on_update=lambda done, total: updates.append((done, total)))
    trainer.train()
    assert reports == [(1, 1)]
    assert updates == [(done, trainer.updates_done) for done in range(1, trainer.updates_done + 1)]
