"""build_job: components, data and evaluators are checked against each other before training."""

import dataclasses
import sys
from pathlib import Path

import pytest

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import ComponentSpec, RecipeError, UnknownComponentError  # noqa: E402
from crossmodal.build import JobSpec, build_job  # noqa: E402


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
    registry.add("temporal", "not-a-module", lambda: object(), plugin="test")
    with pytest.raises(RecipeError, match=r"temporal 'not-a-module' from test built a object.*TemporalSource"):
        build_job(registry, toy(temporal=ComponentSpec("not-a-module")))


def test_unknown_recipe_lists_the_known_ones(registry):
    with pytest.raises(UnknownComponentError, match="toy"):
        build_job(registry, "toi")


def test_recipe_factory_must_return_a_recipe(registry):
    registry.add("recipe", "bad", lambda: {"name": "bad"}, plugin="test")
    with pytest.raises(RecipeError, match=r"recipe 'bad' from test: its factory returned dict"):
        build_job(registry, "bad")
