"""Pairings that see the data: the core's registered descriptor pairs at every temperature, the
deprecated four-argument functions and DataAwarePairing, and how a run records and resumes its pairing."""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import pytest
import torch

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import (  # noqa: E402
    API_VERSION,
    CheckpointError,
    ComponentSpec,
    Descriptor,
    RecipeError,
    TrainingData,
    hookimpl,
    load_plugins,
)
from crossmodal.contract.recipe import RANDOM_PAIRS, random_pairs  # noqa: E402
from crossmodal.job.build import build_job  # noqa: E402
from crossmodal.data.pairing import pairing_record, prepare_pairing, rank_scores, recorded_pairing  # noqa: E402
from crossmodal.training.launch import resume_training, start_training  # noqa: E402


# -------------------------------------------------------------------------------------------
# Hand-built data: one descriptor value per item, read from the item itself
# -------------------------------------------------------------------------------------------


class Items:
    """A sample set whose item ``i`` is ``values[i]`` (shape ``(1,)``)."""

    def __init__(self, values, kind):
        self.data = torch.tensor(values, dtype=torch.float32)[:, None]
        self.sample_kind, self.sample_shape = kind, (1,)

    def __len__(self):
        return len(self.data)

    def batch(self, indices):
        return self.data[indices]

    def sources(self):
        return [f"#{i}" for i in range(len(self))]


class Brightness(Descriptor):
    name, sample_kind = "light", "painting"

    def describe(self, items):
        return {"brightness": items[:, 0].double(), "darkness": -items[:, 0].double()}


class Pitch(Descriptor):
    name, sample_kind = "pitch", "phrase"

    def describe(self, items):
        return {"mean-pitch": items[:, 0].double()}


def hand_built(conditions=(0.1, 0.9, 0.5), pitches=(60.0, 72.0, 48.0, 66.0)):
    return TrainingData(Items(conditions, "painting"), Items(pitches, "phrase"), Brightness(), Pitch(), "recipe 'hand'")


def draw(pairing, data, count, seed=0):
    return pairing(len(data.conditions), len(data.targets), count, torch.Generator().manual_seed(seed))


def descriptor_pairs(couplings, temperature=0.5):
    """The core's registered ``descriptor-pairs``, as a recipe names it (the couplings as JSON records them)."""
    return ComponentSpec("descriptor-pairs", {"couplings": [list(c) for c in couplings], "temperature": temperature})


# -------------------------------------------------------------------------------------------
# Rank scores and the pairing functions themselves
# -------------------------------------------------------------------------------------------


def test_rank_scores_are_standardised_ranks_with_shared_ties_and_nan_in_the_middle():
    scores = rank_scores(torch.tensor([10.0, 30.0, 20.0, float("nan"), 20.0]))
    # finite ranks 1, 4, 2.5, 2.5 -> centred -1.5, 1.5, 0, 0 -> divided by their sd sqrt(4.5 / 4)
    assert scores.tolist() == pytest.approx([-1.5 / 1.125 ** 0.5, 1.5 / 1.125 ** 0.5, 0.0, 0.0, 0.0])
    assert rank_scores(torch.tensor([3.0, 3.0])).tolist() == [0.0, 0.0]


def test_at_temperature_zero_the_brightest_condition_gets_the_highest_pitch():
    data = hand_built()
    pairing = prepare_pairing(descriptor_pairs([("brightness", "mean-pitch", +1)], temperature=0), data)
    conditions, targets = draw(pairing, data, 600)
    by_condition = {c: set(targets[conditions == c].tolist()) for c in range(3)}
    assert by_condition[1] == {1}  # brightest (0.9) -> highest (72)
    assert by_condition[0] == {2}  # darkest (0.1) -> lowest (48)
    assert by_condition[2] == {0, 3}  # the middle one: the two middle pitches tie, both drawn
    share = (targets[conditions == 2] == 0).double().mean().item()
    assert 0.4 < share < 0.6  # tied targets equally likely


def test_a_negative_sign_turns_the_ranking_round():
    data = hand_built()
    pairing = prepare_pairing(descriptor_pairs([("brightness", "mean-pitch", -1)], temperature=0), data)
    conditions, targets = draw(pairing, data, 300)
    assert set(targets[conditions == 1].tolist()) == {2}  # brightest -> lowest


def test_at_a_huge_temperature_the_targets_are_uniform():
    targets_values = [float(v) for v in range(10)]
    data = hand_built(conditions=(0.1, 0.9, 0.5), pitches=targets_values)
    pairing = prepare_pairing(descriptor_pairs([("brightness", "mean-pitch", +1)], temperature=1e6), data)
    conditions, targets = draw(pairing, data, 20_000, seed=3)
    for condition in range(3):
        counts = torch.bincount(targets[conditions == condition], minlength=10).double()
        expected = counts.sum() / 10
        chi_square = ((counts - expected) ** 2 / expected).sum().item()
        assert chi_square < 27.88  # 9 degrees of freedom, p = 0.001
    # and at temperature 0.1 the same draw is far from uniform
    sharp = prepare_pairing(descriptor_pairs([("brightness", "mean-pitch", +1)], temperature=0.1), data)
    conditions, targets = draw(sharp, data, 2_000, seed=3)
    assert targets[conditions == 1].double().mean() > 7.5  # brightest: high pitches


def test_an_infinite_temperature_draws_exactly_the_random_pairs():
    data = hand_built()
    pairing = prepare_pairing(descriptor_pairs([("brightness", "mean-pitch", +1)], temperature=math.inf), data)
    random = prepare_pairing(RANDOM_PAIRS, data)
    for got, expected in zip(draw(pairing, data, 50, seed=7), draw(random, data, 50, seed=7)):
        assert torch.equal(got, expected)


def test_descriptor_pairs_draw_only_from_the_rng_they_are_given():
    data = hand_built(pitches=tuple(float(v) for v in range(20)))
    pairing = prepare_pairing(descriptor_pairs([("brightness", "mean-pitch", 1), ("darkness", "mean-pitch", -1)],
                                               temperature=0.5), data)
    global_state = torch.get_rng_state()
    first, second = draw(pairing, data, 100, seed=11), draw(pairing, data, 100, seed=11)
    assert torch.equal(torch.get_rng_state(), global_state)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    rng = torch.Generator().manual_seed(11)
    pairing(3, 20, 100, rng)
    state = rng.get_state()
    again = pairing(3, 20, 100, rng)
    rng.set_state(state)
    assert all(torch.equal(a, b) for a, b in zip(again, pairing(3, 20, 100, rng)))


@pytest.mark.parametrize("temperature", [0, 0.3])
def test_without_the_table_the_draws_are_the_same(monkeypatch, temperature):
    data = hand_built(conditions=(0.1, 0.9, 0.5, 0.7), pitches=tuple(float(v % 7) for v in range(30)))
    pairing = descriptor_pairs([("brightness", "mean-pitch", 1)], temperature=temperature)
    with_table = prepare_pairing(pairing, data)
    monkeypatch.setattr("crossmodal.data.pairing.TABLE_LIMIT", 0)
    without = prepare_pairing(pairing, data)
    assert with_table.table is not None and without.table is None
    for a, b in zip(draw(with_table, data, 500, seed=5), draw(without, data, 500, seed=5)):
        assert torch.equal(a, b)


def test_the_descriptors_are_computed_once_and_shared():
    calls = []

    class Counting(Pitch):
        def describe(self, items):
            calls.append(len(items))
            return super().describe(items)

    data = TrainingData(Items((0.1, 0.9), "painting"), Items((1.0, 2.0, 3.0), "phrase"), Brightness(), Counting())
    prepare_pairing(descriptor_pairs([("brightness", "mean-pitch", 1)]), data)
    prepare_pairing(descriptor_pairs([("brightness", "mean-pitch", 1)], temperature=0), data)
    assert calls == [3] and set(data.seconds) == {"conditions", "targets"}


@pytest.mark.parametrize("couplings, temperature, message", [
    ([], 0.5, "at least one"),
    ([("brightness",)], 0.5, "is not \\(condition descriptor, sample descriptor, sign\\)"),
    ([("brightness", "mean-pitch", 2)], 0.5, "sign \\+1 or -1"),
    ([("brightness", "mean-pitch")], -1, "temperature must be a number >= 0"),
])
def test_malformed_descriptor_pairs_are_refused(couplings, temperature, message):
    with pytest.raises(RecipeError, match=message):
        prepare_pairing(descriptor_pairs(couplings, temperature), hand_built())


def test_unknown_descriptors_and_missing_descriptors_are_named():
    with pytest.raises(RecipeError, match="couples 'loudness', which the recipe's condition_descriptor does not "
                                          "describe; it describes 'brightness', 'darkness'"):
        prepare_pairing(descriptor_pairs([("loudness", "mean-pitch")]), hand_built())
    bare = TrainingData(Items((0.1,), "painting"), Items((1.0,), "phrase"), None, None, "recipe 'bare'")
    with pytest.raises(RecipeError, match="recipe 'bare' names no condition_descriptor"):
        prepare_pairing(descriptor_pairs([("brightness", "mean-pitch")]), bare)


def test_a_four_argument_function_is_still_a_pairing_and_warns():
    def first_with_last(n_conditions, n_targets, batch_size, rng):
        conditions = torch.randint(n_conditions, (batch_size,), generator=rng)
        return conditions, torch.full((batch_size,), n_targets - 1)

    data = hand_built()
    assert prepare_pairing(first_with_last, data) is first_with_last
    assert pairing_record(first_with_last)["name"].endswith(":test_a_four_argument_function_is_still_a_pairing_and_"
                                                            "warns.<locals>.first_with_last")
    recipe = dataclasses.replace(toy_plugin.toy_recipe(), pairing=first_with_last)
    with pytest.warns(DeprecationWarning, match=r"pairing=first_with_last, a function, is deprecated since crossmodal "
                                                r"0.2.1: register it as a pairing, .*; removed in crossmodal 0.4"):
        job = build_job(toy_plugin.toy_registry(), recipe)
    from crossmodal import TrainConfig, Trainer

    trainer = Trainer(job, TrainConfig().merged(recipe.training, "toy"))
    assert trainer.draws.batch().target_indices.tolist() == [len(job.targets) - 1] * 8
    trainer.critic_step()


def test_a_data_aware_pairing_of_ones_own_sees_the_data_and_warns():
    with pytest.warns(DeprecationWarning, match="crossmodal.DataAwarePairing is deprecated since crossmodal 0.2.1"):
        from crossmodal import DataAwarePairing

    class EvenTargets(DataAwarePairing):
        def prepare(self, data):
            even = torch.arange(0, len(data.targets), 2)

            def pairing(n_conditions, n_targets, batch_size, rng):
                return (torch.randint(n_conditions, (batch_size,), generator=rng),
                        even[torch.randint(len(even), (batch_size,), generator=rng)])
            return pairing

    with pytest.warns(DeprecationWarning, match=r"pairing=EvenTargets\(...\), a DataAwarePairing, is deprecated"):
        job = build_job(toy_plugin.toy_registry(), dataclasses.replace(toy_plugin.toy_recipe(), pairing=EvenTargets()))
    _, targets = job.pairing(len(job.conditions), len(job.targets), 64, torch.Generator().manual_seed(0))
    assert (targets % 2 == 0).all()
    assert job.spec.pairing["name"].endswith(
        ":test_a_data_aware_pairing_of_ones_own_sees_the_data_and_warns.<locals>.EvenTargets")


def test_something_else_is_refused_as_a_pairing():
    with pytest.raises(RecipeError, match="pairing must be a ComponentSpec naming a registered pairing .* not a str"):
        build_job(toy_plugin.toy_registry(), dataclasses.replace(toy_plugin.toy_recipe(), pairing="random"))


# -------------------------------------------------------------------------------------------
# Recipes: building, recording, resuming
# -------------------------------------------------------------------------------------------


class Level(Descriptor):
    """Toy conditions: the first value; toy targets: their mean level."""

    name, sample_kind = "toy-first", "vector"

    def describe(self, items):
        return {"first": items[:, 0].double()}


class SequenceLevel(Descriptor):
    name, sample_kind = "toy-level", "sequence"

    def describe(self, items):
        return {"level": items.double().reshape(items.shape[0], -1).mean(dim=1)}


MATCHED = descriptor_pairs([("first", "level", +1)], temperature=0.25)


def matched_recipe(pairing=MATCHED):
    return dataclasses.replace(toy_plugin.toy_recipe(), name="toy-matched", pairing=pairing,
                               condition_descriptor="toy-first", sample_descriptor="toy-level")


def matched_registry(pairing=MATCHED, recipe=None, plugins=()):
    class Matched:
        @staticmethod
        @hookimpl
        def crossmodal_api_version():
            return API_VERSION

        @staticmethod
        @hookimpl
        def crossmodal_register_components(register):
            register("descriptor", "toy-first", Level)
            register("descriptor", "toy-level", SequenceLevel)
            register("recipe", "toy-matched", recipe or (lambda: matched_recipe(pairing)))

    return load_plugins(extra=[("toy", toy_plugin), ("matched", Matched()), *plugins], allow=[], strict=True).registry


def test_a_recipe_with_descriptor_pairs_records_them_and_pairs_like_the_descriptors(tmp_path):
    job = build_job(matched_registry(), matched_recipe(descriptor_pairs([("first", "level", 1)], temperature=0)))
    assert job.spec.to_dict()["pairing"] == {
        "name": "descriptor-pairs", "options": {"couplings": [["first", "level", 1]], "temperature": 0.0}}
    assert job.spec.descriptors == {"condition_descriptor": "toy-first", "sample_descriptor": "toy-level"}
    conditions, targets = job.pairing(len(job.conditions), len(job.targets), 400, torch.Generator().manual_seed(0))
    first = job.data.condition_descriptors["first"][conditions]
    level = job.data.target_descriptors["level"][targets]
    from crossmodal.evaluation.conditioning import spearman

    assert spearman(first, level) > 0.9


def test_a_recipe_naming_no_descriptor_is_refused_before_training():
    recipe = dataclasses.replace(matched_recipe(), condition_descriptor=None)
    with pytest.raises(RecipeError, match="recipe 'toy-matched' names no condition_descriptor, but its pairing"):
        build_job(matched_registry(), recipe)


@pytest.mark.slow  # trains
def test_resume_rebuilds_the_recorded_pairing_and_continues_exactly(tmp_path):
    options = {"out_dir": str(tmp_path), "checkpoint_every": 0, "keep_checkpoints": 5}
    whole = start_training(matched_registry(), "toy-matched", overrides={**options, "steps": 4})
    whole.train()
    half = start_training(matched_registry(), "toy-matched", overrides={**options, "steps": 2})
    half.train()
    # the recipe now pairs at random: the run keeps what it was trained with
    changed = matched_registry(RANDOM_PAIRS)
    resumed = resume_training(changed, half.run_dir, overrides={"steps": 4})
    assert resumed.job.spec.pairing == pairing_record(MATCHED)
    assert resumed.job.pairing.temperature == MATCHED.options["temperature"]  # rebuilt from the record, not the recipe
    resumed.train()
    for module in ("generator", "critic"):
        a, b = getattr(whole, module).state_dict(), getattr(resumed, module).state_dict()
        assert all(torch.equal(a[key], b[key]) for key in a), module


def test_a_pairing_of_ones_own_must_not_change_on_resume():
    def mine(n_conditions, n_targets, batch_size, rng):
        return random_pairs(n_conditions, n_targets, batch_size, rng)

    record = pairing_record(mine)
    assert recorded_pairing(record, mine, "checkpoint c") is mine
    assert recorded_pairing({}, mine, "checkpoint c") is mine  # older checkpoints recorded none
    with pytest.raises(CheckpointError, match=r"checkpoint c: the run was trained with pairing '.*mine', but the "
                                              r"recipe now pairs with 'random-pairs'; a resumed run keeps its pairing"):
        recorded_pairing(record, RANDOM_PAIRS, "checkpoint c", CheckpointError)
    rebuilt = recorded_pairing(pairing_record(MATCHED), RANDOM_PAIRS, "checkpoint c")
    assert rebuilt == MATCHED


@pytest.mark.slow  # subprocess
def test_naming_a_pairing_or_a_loss_term_in_a_recipe_imports_no_torch():
    import subprocess

    code = ("import sys; from crossmodal import ComponentSpec, Recipe; import crossmodal.data.pairing, "
            "crossmodal.losses.terms, crossmodal.losses.information; "
            "ComponentSpec('descriptor-pairs', {'couplings': [('a', 'b', 1)]}); ComponentSpec('information'); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow  # trains
def test_the_conditioning_report_draws_its_training_pairs_with_the_runs_pairing(tmp_path):
    import numpy as np

    from crossmodal.storage.checkpoint import load_checkpoint
    from crossmodal.evaluation.conditioning import conditioning_report

    strict = descriptor_pairs([("first", "level", +1)], temperature=0)
    trainer = start_training(matched_registry(strict), "toy-matched",
                             overrides={"out_dir": str(tmp_path / "runs"), "steps": 1})
    trainer.train()
    held_out = tmp_path / "held-out"
    held_out.mkdir()
    for index in range(4):
        np.save(held_out / f"c{index}.npy", np.random.default_rng(index).uniform(-1, 1, 8).astype(np.float32))
    # the recipe pairs at random now: the report still uses the pairing the run was trained with
    report = conditioning_report(matched_registry(RANDOM_PAIRS), load_checkpoint(trainer.run_dir), held_out,
                                 seeds=16, permutations=5)
    assert report.columns["training pairs"].agreement["first"]["level"] > 0.9
