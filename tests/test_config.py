"""TrainConfig: merge order, files, validation, and the critic schedule (counted on real calls)."""

import dataclasses
import json
import sys
from pathlib import Path

import pytest
import torch

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import DataError, RecipeError  # noqa: E402
from crossmodal.job.build import build_job  # noqa: E402
from crossmodal.training.config import TrainConfig, critic_updates_for, resolve_config, resolve_device  # noqa: E402
from crossmodal.training.trainer import Trainer  # noqa: E402


def test_defaults_follow_the_paper():
    config = TrainConfig()
    assert (config.batch_size, config.lr, config.beta1, config.beta2, config.gp_weight) == (64, 1e-4, 0.5, 0.9, 10.0)
    assert (config.critic_updates_warmup, config.warmup_generator_steps, config.critic_updates) == (50, 100, 5)


def test_merge_order_defaults_recipe_file_cli(tmp_path):
    recipe = {"steps": 10, "batch_size": 8, "lr": 0.001, "seed": 1}
    file = tmp_path / "train.json"
    file.write_text(json.dumps({"batch_size": 16, "lr": 0.002}))
    config = resolve_config(recipe, file, {"lr": 0.003, "seed": None})
    assert config.steps == 10  # recipe over default
    assert config.batch_size == 16  # file over recipe
    assert config.lr == 0.003  # command line over file
    assert config.seed == 1  # None means "not given"
    assert config.gp_weight == 10.0  # default


def test_toml_file_top_level_or_training_table(tmp_path):
    flat = tmp_path / "a.toml"
    flat.write_text("steps = 7\nbf16 = true\n")
    table = tmp_path / "b.toml"
    table.write_text("[training]\nsteps = 9\ndevice = \"cpu\"\n")
    assert TrainConfig.from_file(flat).steps == 7 and TrainConfig.from_file(flat).bf16 is True
    assert TrainConfig.from_file(table).steps == 9


def _written(config: TrainConfig, path: Path) -> Path:
    """``config`` written as a ``.json`` or ``.toml`` file of options (by suffix)."""
    options = config.to_dict()
    if path.suffix == ".toml":
        shown = {key: ("inf" if value == float("inf") else json.dumps(value)) for key, value in options.items()}
        path.write_text("[training]\n" + "".join(f"{key} = {value}\n" for key, value in shown.items()))
    else:
        path.write_text(json.dumps(options))
    return path


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_round_trip_through_a_file(tmp_path, suffix):
    config = TrainConfig(steps=123, lr=3e-4, bf16=True, out_dir="x/y")
    assert TrainConfig.from_file(_written(config, tmp_path / f"c{suffix}")) == config


def test_a_retired_option_at_the_value_that_changed_nothing_is_ignored():
    assert TrainConfig().merged({"channels_last": False}, "checkpoint c") == TrainConfig()  # older checkpoints
    with pytest.raises(RecipeError, match="checkpoint c: unknown training option 'channels_last'"):
        TrainConfig().merged({"channels_last": True}, "checkpoint c")


def test_int_given_for_a_float_field_is_accepted():
    assert TrainConfig().merged({"lr": 1}, "test").lr == 1.0


def test_unknown_option_names_the_layer_and_the_known_options(tmp_path):
    with pytest.raises(RecipeError, match=r"recipe 'toy' training: unknown training option 'stpes'.*steps"):
        resolve_config({"stpes": 3}, recipe_name="toy")
    file = tmp_path / "bad.json"
    file.write_text('{"batch_size": 0}')
    with pytest.raises(RecipeError, match=r"config file .*bad.json: batch_size must be >= 1"):
        resolve_config({}, file)


def test_unreadable_config_file_is_a_data_error(tmp_path):
    file = tmp_path / "broken.toml"
    file.write_text("steps = = 3")
    with pytest.raises(DataError, match="broken.toml"):
        TrainConfig.from_file(file)


@pytest.mark.parametrize("change", [{"lr": -1.0}, {"beta1": 1.0}, {"device": "tpu"}, {"steps": 1.5}, {"bf16": "yes"}])
def test_bad_values_are_refused(change):
    with pytest.raises(ValueError):
        dataclasses.replace(TrainConfig(), **change)


def test_device_auto_resolves_without_cuda():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu").type == "cpu"


def test_schedule_function():
    config = TrainConfig()
    assert [critic_updates_for(s, config) for s in (0, 1, 99, 100, 101, 5000)] == [50, 50, 50, 5, 5, 5]


def test_first_102_generator_steps_make_100x50_plus_2x5_critic_updates():
    registry = toy_plugin.toy_registry()
    job = build_job(registry, "toy")
    config = TrainConfig(steps=102, device="cpu", batch_size=4, eval_every=0, sample_every=0, checkpoint_every=0)
    trainer = Trainer(job, config)  # no run folder: nothing written
    calls = {"critic": 0, "generator": 0}
    per_step = []

    def critic_update():
        calls["critic"] += 1
        return torch.zeros(len(trainer._critic_names))

    def generator_update():
        per_step.append(calls["critic"])
        calls["generator"] += 1
        return torch.zeros(len(trainer._generator_names))

    trainer._critic_update = critic_update
    trainer._generator_update = generator_update
    trainer.train()
    assert calls == {"critic": 100 * 50 + 2 * 5, "generator": 102}
    assert per_step[0] == 50 and per_step[99] == 5000 and per_step[100] == 5005
    assert trainer.step == 102


def test_divergence_bound_is_a_positive_number_and_inf_turns_it_off(tmp_path):
    assert TrainConfig().divergence_bound == 1e6
    assert TrainConfig().merged({"divergence_bound": 100}, "test").divergence_bound == 100.0
    for bad in (0, -1.0, float("nan"), "big", True):
        with pytest.raises(RecipeError, match="divergence_bound must be a number > 0"):
            TrainConfig().merged({"divergence_bound": bad}, "test")
    unbounded = TrainConfig(divergence_bound=float("inf"))
    for name in ("train.toml", "train.json"):
        assert TrainConfig.from_file(_written(unbounded, tmp_path / name)) == unbounded


def test_resume_config_lets_only_resumable_options_change(tmp_path):
    from crossmodal.training.config import RESUMABLE_OPTIONS, resume_config

    recorded = TrainConfig(steps=10, batch_size=8, device="cpu")
    later = resume_config(recorded, None, {"steps": 20, "eval_every": 5, "keep_checkpoints": 1,
                                           "batch_size": 8, "seed": None})
    assert (later.steps, later.eval_every, later.keep_checkpoints, later.batch_size) == (20, 5, 1, 8)
    assert {"steps", "eval_every", "sample_every", "checkpoint_every", "log_every", "keep_checkpoints",
            "device", "divergence_bound"} == RESUMABLE_OPTIONS
    with pytest.raises(RecipeError, match=r"command-line options: training option 'seed' cannot change when "
                                          r"resuming \(the run has 0, 1 was given\): it changes the updates"):
        resume_config(recorded, None, {"seed": 1})
    with pytest.raises(RecipeError, match="'eval_samples'.*fixed \\(condition, noise\\) pairs"):
        resume_config(recorded, None, {"eval_samples": 8})
    file = tmp_path / "more.json"
    file.write_text(json.dumps({"steps": 30, "gp_weight": 1.0}))
    with pytest.raises(RecipeError, match=f"config file {file}: training option 'gp_weight'"):
        resume_config(recorded, file, {})
    file.write_text(json.dumps({"steps": 30, "checkpoint_every": 3}))
    assert resume_config(recorded, file, {"steps": 40}).steps == 40  # the command line still wins
