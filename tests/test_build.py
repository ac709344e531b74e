"""build_job: components, data and evaluators are checked against each other before training."""

import dataclasses
import sys
from pathlib import Path

import pytest
import torch

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import ComponentSpec, RecipeError, UnknownComponentError  # noqa: E402
from crossmodal.job.build import JobSpec, build_job  # noqa: E402


@pytest.fixture
def registry():
    return toy_plugin.toy_registry()


def toy(**changes):
    return dataclasses.replace(toy_plugin.toy_recipe(), **changes)


def test_the_toy_recipe_builds_and_fits(registry):
    job = build_job(registry, "toy")
    assert job.generator.sample_shape == job.critic.sample_shape == job.targets.sample_shape == (2, 6, 2)
    assert job.generator.condition_shape == job.conditions.sample_shape == (8,)
    assert list(job.evaluators) == ["toy-mean"] and job.writer is not None
    assert job.spec.sources == {"conditions": None, "targets": None}
    assert JobSpec.from_dict(job.spec.to_dict()) == job.spec


def test_dataset_options_from_the_command_line_are_merged_and_recorded(registry):
    job = build_job(registry, "toy", condition_options={"n": 12})
    assert len(job.conditions) == 12
    assert job.spec.components["conditions"]["options"] == {"n": 12}


def test_generator_output_that_the_critic_cannot_score(registry):
    recipe = toy(decoder=ComponentSpec("toy-decoder", {"steps": 5}))
    with pytest.raises(RecipeError) as info:
        build_job(registry, recipe)
    message = str(info.value)
    for part in ("recipe 'toy'", "critic 'toy-critic'", "(2, 6, 2)", "(2, 5, 2)", "decoder 'toy-decoder'"):
        assert part in message


def test_decoder_input_that_does_not_match_encoder_plus_temporal(registry):
    recipe = toy(encoder=ComponentSpec("toy-encoder", {"feature_dim": 5}))
    with pytest.raises(RecipeError, match=r"recipe 'toy' \(encoder 'toy-encoder'.*input_dim=6.*feature_dim=5"):
        build_job(registry, recipe)


def test_conditions_that_the_encoder_cannot_read(registry):
    with pytest.raises(RecipeError) as info:
        build_job(registry, "toy", condition_options={"dim": 7})
    message = str(info.value)
    assert "conditions dataset 'toy-conditions'" in message and "(7,)" in message and "(8,)" in message
    assert "encoder 'toy-encoder'" in message


def test_critic_condition_shape_must_match_the_encoder(registry):
    recipe = toy(critic=ComponentSpec("toy-critic", {"condition_dim": 9}))
    with pytest.raises(RecipeError, match=r"critic 'toy-critic' takes conditions of shape \(9,\).*\(8,\)"):
        build_job(registry, recipe)


def test_targets_that_do_not_match_the_samples(registry):
    recipe = toy(targets=ComponentSpec("toy-targets", {"sample_shape": (2, 6, 3)}))
    with pytest.raises(RecipeError, match=r"targets dataset 'toy-targets'.*\(2, 6, 3\).*\(2, 6, 2\)"):
        build_job(registry, recipe)


def test_evaluator_of_another_sample_kind(registry):
    with pytest.raises(RecipeError, match=r"evaluator 'toy-other-kind'.*'something-else'.*'sequence'"):
        build_job(registry, toy(evaluators=("toy-other-kind",)))


def test_a_factory_returning_the_wrong_type(registry):
    recipe = toy(temporal=ComponentSpec("toy-encoder"))
    with pytest.raises(UnknownComponentError):
        build_job(registry, recipe)  # 'toy-encoder' is not a registered temporal source
    registry.add("temporal-source", "not-a-module", lambda: object(), plugin="test")
    with pytest.raises(RecipeError, match=r"temporal-source 'not-a-module' from test built a object.*TemporalSource"):
        build_job(registry, toy(temporal=ComponentSpec("not-a-module")))


def test_a_conditioned_temporal_source_builds_and_uses_the_condition(registry):
    job = build_job(registry, toy(temporal=ComponentSpec("toy-conditioned-temporal")))
    assert job.generator.temporal.uses_feature and job.spec.components["temporal"]["name"] == "toy-conditioned-temporal"
    conditions = job.conditions.batch(torch.arange(2))  # (2, 8), two different conditions
    noise = job.generator.sample_noise(1).expand(2, -1)  # (2, 3), the same noise for both
    temporal = job.generator.temporal(noise, job.generator.encoder(conditions))  # (2, S, T)
    assert not torch.allclose(temporal[0], temporal[1])


def test_a_conditioned_temporal_source_of_the_wrong_feature_size_is_refused_at_build(registry):
    recipe = toy(temporal=ComponentSpec("toy-conditioned-temporal", {"feature_dim": 5}))
    with pytest.raises(RecipeError) as info:
        build_job(registry, recipe)
    message = str(info.value)
    assert "recipe 'toy'" in message and "temporal-source 'toy-conditioned-temporal'" in message
    assert "ToyConditionedTemporal uses the feature and takes feature_dim=5" in message
    assert "encoder ToyEncoder gives feature_dim=4" in message


def test_unknown_recipe_lists_the_known_ones(registry):
    with pytest.raises(UnknownComponentError, match="toy"):
        build_job(registry, "toi")


def test_recipe_factory_must_return_a_recipe(registry):
    registry.add("recipe", "bad", lambda: {"name": "bad"}, plugin="test")
    with pytest.raises(RecipeError, match=r"recipe 'bad' from test: its factory returned dict"):
        build_job(registry, "bad")


# -------------------------------------------------------------------------------------------
# Options are checked against the factories' signatures before anything is built


def test_an_unknown_component_option_is_refused_before_anything_is_built(registry):
    built = []

    def counting_encoder(**options):  # takes anything: the core cannot check it, so it is built
        built.append(options)
        return toy_plugin.ToyEncoder()

    registry.add("encoder", "counting", counting_encoder, plugin="test")
    recipe = toy(encoder=ComponentSpec("counting"), writer=ComponentSpec("toy-writer", {"colour": "red"}),
                 decoder=ComponentSpec("toy-decoder", {"stepz": 6}))
    with pytest.raises(RecipeError) as info:
        build_job(registry, recipe)
    message = str(info.value)
    assert message == ("recipe 'toy': decoder 'toy-decoder' from toy has no option 'stepz'; "
                       "it accepts: input_dim, steps")
    assert built == []  # nothing was built before the options were checked
    with pytest.raises(RecipeError, match=r"recipe 'toy': sample-writer 'toy-writer' from toy has no option 'colour'; "
                                          r"it takes no options"):
        build_job(registry, toy(writer=ComponentSpec("toy-writer", {"colour": "red"})))


def test_an_unknown_dataset_option_from_the_command_line_is_named(registry):
    with pytest.raises(RecipeError) as info:
        build_job(registry, "toy", condition_options={"foo": 1})
    assert str(info.value) == ("recipe 'toy': conditions dataset 'toy-conditions' from toy has no option 'foo' "
                               "(given on the command line); it accepts: n, dim, seed")
    with pytest.raises(RecipeError, match=r"targets dataset 'toy-targets' from toy: option 'source' \(given on "
                                          r"the command line\) is set by crossmodal itself"):
        build_job(registry, "toy", target_options={"source": "x"})


def test_train_with_an_unknown_dataset_option_is_one_error_line(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from crossmodal.cli import make_cli

    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")
    result = CliRunner().invoke(make_cli(extra_plugins=[("toy", toy_plugin)]),
                                ["train", "--plugin", "toy", "-c", "foo=1", "--steps", "1", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "'foo'" in errors[0] and "conditions dataset 'toy-conditions'" in errors[0]
    assert "n, dim, seed" in errors[0]


def test_a_factory_that_fails_on_absurd_values_is_one_line(registry):
    recipe = toy(decoder=ComponentSpec("toy-decoder", {"steps": -5}))  # torch: negative dimension
    with pytest.raises(RecipeError) as info:
        build_job(registry, recipe)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("recipe 'toy': decoder 'toy-decoder' from toy could not be built with steps=-5 "
                              "(RuntimeError: ")

    def greedy():
        raise MemoryError()

    registry.add("critic", "greedy", greedy, plugin="test")
    with pytest.raises(RecipeError, match=r"^recipe 'toy': critic 'greedy' from test could not be built with "
                                          r"no options \(MemoryError: MemoryError\)$"):
        build_job(registry, toy(critic=ComponentSpec("greedy")))


def _saved_toy(tmp_path):
    from crossmodal.storage.checkpoint import load_checkpoint
    from crossmodal.training.launch import start_training

    trainer = start_training(toy_plugin.toy_registry(), "toy",
                             overrides={"steps": 1, "out_dir": str(tmp_path), "checkpoint_every": 1})
    trainer.train()
    return load_checkpoint(trainer.run_dir)


@pytest.mark.parametrize("options, expected", [
    ({"steps": 6, "bogus": 1}, r"^checkpoint \S+ \(recipe 'toy'\): decoder 'toy-decoder' from toy has no option "
                               r"'bogus'; it accepts: input_dim, steps$"),
    # 2**40 steps would be a 70 TB layer: refused from the saved shapes, before anything is allocated
    ({"steps": 2 ** 40}, r"^checkpoint \S+ \(recipe 'toy'\): the saved generator does not fit .* weight "
                         r"'decoders.0.net.2.weight' is \(6, 16\) in the file, but the recorded options build "
                         r"\(1099511627776, 16\)$"),
    ({"steps": -3}, r"^checkpoint \S+ \(recipe 'toy'\): decoder 'toy-decoder' from toy could not be built with "
                    r"steps=-3 \(RuntimeError: "),
], ids=["unknown", "absurd-size", "negative"])
@pytest.mark.slow  # trains a toy run for its checkpoint
def test_restore_refuses_bad_recorded_options_naming_the_checkpoint(registry, tmp_path, options, expected):
    from crossmodal import CheckpointError
    from crossmodal.job.restore import restore

    document = _saved_toy(tmp_path)
    document["job"]["components"]["decoder"]["options"] = options
    with pytest.raises(CheckpointError, match=expected):
        restore(registry, document)


@pytest.mark.slow  # trains a toy run for its checkpoint
def test_restore_refuses_non_finite_weights_naming_the_tensor(registry, tmp_path):
    from crossmodal import CheckpointError
    from crossmodal.job.restore import restore

    document = _saved_toy(tmp_path)
    document["generator"]["decoders.1.net.0.bias"][3] = float("inf")
    with pytest.raises(CheckpointError, match=r"^checkpoint \S+checkpoint-00000001.pt: generator weight "
                                              r"'decoders.1.net.0.bias' holds NaN or infinite values"):
        restore(registry, document)
    document["generator"]["decoders.1.net.0.bias"][3] = 0.0
    restored = restore(registry, document)
    generator, spec = restored.generator, restored.spec
    assert spec.recipe == "toy" and not generator.training
