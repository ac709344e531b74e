"""Pairings and loss terms are registered kinds: built from ``(data, **options)``, named by a
recipe like the networks, recorded by name and options, rebuilt from the record on resume (the
records of crossmodal 0.2.0 included); the forms of 0.2.0 still work, with a DeprecationWarning."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402
from test_pairing import MATCHED, matched_recipe, matched_registry  # noqa: E402

from crossmodal import (  # noqa: E402
    ComponentSpec,
    DuplicateComponentError,
    RecipeError,
    TrainConfig,
    Trainer,
    UnknownComponentError,
    build_job,
    hookimpl,
    load_plugins,
)
from crossmodal.contract.plugins import CORE_PLUGIN  # noqa: E402
from crossmodal.contract.recipe import RANDOM_PAIRS  # noqa: E402
from crossmodal.data.pairing import recorded_pairing  # noqa: E402
from crossmodal.storage.checkpoint import load_checkpoint  # noqa: E402
from crossmodal.storage.runs import seed_everything  # noqa: E402
from crossmodal.training.launch import resume_training, start_training  # noqa: E402

# -------------------------------------------------------------------------------------------
# A plugin's own pairing and loss terms, each built from (data, **options)
# -------------------------------------------------------------------------------------------


def every_nth_target(data, step=2):
    """Pairing: conditions at random, targets among every ``step``-th one."""
    chosen = torch.arange(0, len(data.targets), step)

    def pairing(n_conditions, n_targets, batch_size, rng):
        return (torch.randint(n_conditions, (batch_size,), generator=rng),
                chosen[torch.randint(len(chosen), (batch_size,), generator=rng)])
    return pairing


class Scale(nn.Module):
    """Loss term with a parameter: ``scale * mean(fake)``."""

    def __init__(self, data, start=0.5):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(start)))
        self.n_targets = len(data.targets)

    def forward(self, context):
        return self.scale * context["fake"].float().mean()


class Constant(nn.Module):
    """Loss term without parameters: ``value`` (times nothing the networks hold)."""

    def __init__(self, data, value=2.0):
        super().__init__()
        self.value = value

    def forward(self, context):
        return context["fake"].float().sum() * 0.0 + self.value


def kinds_recipe(**changes):
    recipe = dataclasses.replace(
        toy_plugin.toy_recipe(), name="toy-kinds", pairing=ComponentSpec("every-nth", {"step": 3}),
        generator_losses=(ComponentSpec("scale", {"weight": 0.5, "start": 1.0}), ComponentSpec("constant")),
        critic_losses=(ComponentSpec("critic-scale", {"start": 0.1}),),
    )
    return dataclasses.replace(recipe, **changes)


def kinds_registry(recipe=kinds_recipe):
    class Kinds:
        @staticmethod
        @hookimpl
        def crossmodal_register_components(register):
            register("pairing", "every-nth", every_nth_target)
            register("pairing", "not-a-function", lambda data: 3)
            register("loss-term", "scale", Scale)
            register("loss-term", "critic-scale", Scale)
            register("loss-term", "constant", Constant)
            register("recipe", "toy-kinds", recipe)

    return load_plugins(extra=[("toy", toy_plugin), ("kinds", Kinds())], allow=[], strict=True).registry


def kinds_trainer(recipe=None):
    seed_everything(0)
    recipe = recipe or kinds_recipe()
    return Trainer(build_job(kinds_registry(), recipe), TrainConfig().merged(recipe.training, "toy"))


def test_the_core_registers_its_pairings_in_every_registry():
    registry = load_plugins(allow=[], strict=True).registry
    entries = registry.entries("pairing")
    assert [(e.name, e.plugin) for e in entries] == [("descriptor-pairs", CORE_PLUGIN), ("random-pairs", CORE_PLUGIN)]
    assert all(e.import_path and e.description for e in entries)

    class Impostor:
        @staticmethod
        @hookimpl
        def crossmodal_register_components(register):
            register("pairing", "random-pairs", every_nth_target)

    plugins = load_plugins(extra=[("impostor", Impostor())], allow=[])
    (broken,) = plugins.broken
    assert isinstance(broken.error, DuplicateComponentError) and "by crossmodal (crossmodal==" in str(broken.error)


def test_a_registered_pairing_is_built_from_the_data_and_its_options_and_recorded():
    job = build_job(kinds_registry(), kinds_recipe())
    _, targets = job.pairing(len(job.conditions), len(job.targets), 64, torch.Generator().manual_seed(0))
    assert (targets % 3 == 0).all() and len(set(targets.tolist())) > 1
    assert job.spec.to_dict()["pairing"] == {"name": "every-nth", "options": {"step": 3}}
    assert job.recipe.pairing == ComponentSpec("every-nth", {"step": 3})
    default = build_job(kinds_registry(), toy_plugin.toy_recipe())
    assert default.spec.pairing == {"name": "random-pairs", "options": {}}


def test_a_pairing_is_checked_before_anything_is_built():
    with pytest.raises(RecipeError, match="recipe 'toy-kinds': pairing 'every-nth' from kinds has no option 'stride'; "
                                          "it accepts: step"):
        build_job(kinds_registry(), kinds_recipe(pairing=ComponentSpec("every-nth", {"stride": 2})))
    with pytest.raises(UnknownComponentError, match="recipe 'toy-kinds'.*no pairing named 'every-other'.*"
                                                    "Did you mean 'every-nth'"):
        build_job(kinds_registry(), kinds_recipe(pairing=ComponentSpec("every-other")))
    with pytest.raises(RecipeError, match="pairing 'not-a-function' from kinds built a int, not a pairing function"):
        build_job(kinds_registry(), kinds_recipe(pairing=ComponentSpec("not-a-function")))


def test_loss_terms_with_and_without_parameters_are_weighed_logged_and_trained():
    trainer = kinds_trainer()
    generator_terms, critic_terms = trainer.job.recipe.generator_losses, trainer.job.recipe.critic_losses
    assert [(t.name, t.weight) for t in generator_terms] == [("scale", 0.5), ("constant", 1.0)]
    assert [(t.name, t.weight) for t in critic_terms] == [("critic-scale", 1.0)]
    assert set(trainer.loss_modules) == {"scale", "critic-scale"}  # the constant holds nothing to train or save
    scale, critic_scale = trainer.loss_modules["scale"], trainer.loss_modules["critic-scale"]
    assert scale.n_targets == len(trainer.job.targets)  # built from the data
    generator_parameters = {p for group in trainer.generator_optimizer.param_groups for p in group["params"]}
    critic_parameters = {p for group in trainer.critic_optimizer.param_groups for p in group["params"]}
    assert scale.scale in generator_parameters and scale.scale not in critic_parameters
    assert critic_scale.scale in critic_parameters and critic_scale.scale not in generator_parameters

    losses = trainer.generator_step()
    assert list(losses) == ["adversarial", "scale", "constant", "total"]
    assert losses["constant"] == 2.0  # weight 1 (the default) times the term
    assert 0 < losses["scale"] <= 0.5  # weight 0.5 times 1.0 times a mean in [0, 1]
    assert losses["total"] == pytest.approx(losses["adversarial"] + losses["scale"] + losses["constant"], rel=1e-5)
    assert scale.scale.item() != 1.0  # trained with the generator
    assert list(trainer.critic_step()) == ["wasserstein", "gp", "critic-scale", "total"]
    assert critic_scale.scale.item() != 0.1


def test_the_weight_is_the_cores_option():
    heavy = kinds_recipe(generator_losses=(ComponentSpec("constant", {"weight": 0.25, "value": 4.0}),))
    assert kinds_trainer(heavy).generator_step()["constant"] == 1.0
    for weight in ("heavy", math.inf, True):
        recipe = kinds_recipe(generator_losses=(ComponentSpec("constant", {"weight": weight}),))
        with pytest.raises(RecipeError, match=f"loss-term 'constant' has weight {weight!r}; a weight is a finite"):
            build_job(kinds_registry(), recipe)


def test_loss_terms_are_checked_before_anything_is_built_and_named_once():
    with pytest.raises(RecipeError, match="loss-term 'constant' from kinds has no option 'level'; it accepts: value"):
        build_job(kinds_registry(), kinds_recipe(generator_losses=(ComponentSpec("constant", {"level": 1}),)))
    with pytest.raises(UnknownComponentError, match="no loss-term named 'scales'"):
        build_job(kinds_registry(), kinds_recipe(critic_losses=(ComponentSpec("scales"),)))
    with pytest.raises(RecipeError, match="two extra loss terms are named 'constant'"):
        build_job(kinds_registry(), kinds_recipe(critic_losses=(ComponentSpec("constant"),)))
    with pytest.raises(RecipeError, match="generator_losses must be a tuple of ComponentSpecs naming registered loss "
                                          "terms"):
        build_job(kinds_registry(), kinds_recipe(generator_losses=("constant",)))


def test_the_record_names_the_terms_with_their_options():
    job = build_job(kinds_registry(), kinds_recipe())
    assert job.spec.to_dict()["losses"] == {
        "generator_losses": [{"name": "scale", "options": {"weight": 0.5, "start": 1.0}},
                             {"name": "constant", "options": {}}],
        "critic_losses": [{"name": "critic-scale", "options": {"start": 0.1}}],
    }


def test_a_record_of_crossmodal_0_2_0_names_the_shipped_pairings_in_its_own_words():
    old = {"name": "descriptor_pairs", "options": {"couplings": [["first", "level", 1]], "temperature": "inf"}}
    assert recorded_pairing(old, RANDOM_PAIRS, "checkpoint c") == ComponentSpec("descriptor-pairs", old["options"])
    assert recorded_pairing({"name": "random_pairs", "options": {}}, MATCHED, "checkpoint c") == RANDOM_PAIRS


def whole_and_half(registry, recipe, tmp_path):
    """Two runs of ``recipe``: 4 steps, and the first 2 of them (its checkpoint to resume)."""
    options = {"out_dir": str(tmp_path), "checkpoint_every": 0, "keep_checkpoints": 5}
    runs = []
    for steps in (4, 2):
        trainer = start_training(registry(), recipe, overrides={**options, "steps": steps})
        trainer.train()
        runs.append(trainer)
    return runs


@pytest.mark.slow  # trains
def test_a_checkpoint_records_the_pairing_and_terms_and_a_resume_rebuilds_them(tmp_path):
    whole, half = whole_and_half(kinds_registry, "toy-kinds", tmp_path)
    document = load_checkpoint(half.run_dir)
    assert document["job"]["pairing"] == {"name": "every-nth", "options": {"step": 3}}
    assert document["job"]["losses"]["critic_losses"] == [{"name": "critic-scale", "options": {"start": 0.1}}]
    assert set(document["loss_terms"]) == {"scale", "critic-scale"}
    # the recipe now pairs at random with no extra term: the run keeps what it was trained with
    changed = kinds_registry(recipe=lambda: kinds_recipe(pairing=RANDOM_PAIRS, generator_losses=(), critic_losses=()))
    resumed = resume_training(changed, half.run_dir, overrides={"steps": 4})
    assert resumed.job.recipe.pairing == ComponentSpec("every-nth", {"step": 3})
    assert [t.name for t in resumed.job.recipe.generator_losses] == ["scale", "constant"]
    resumed.train()
    for a, b in ((whole.generator, resumed.generator), (whole.loss_modules["scale"], resumed.loss_modules["scale"]),
                 (whole.loss_modules["critic-scale"], resumed.loss_modules["critic-scale"])):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert whole.last_losses == resumed.last_losses


@pytest.mark.slow  # trains
def test_a_checkpoint_of_crossmodal_0_2_0_still_resumes(tmp_path):
    whole, half = whole_and_half(matched_registry, "toy-matched", tmp_path)
    path = load_checkpoint(half.run_dir)["path"]
    document = torch.load(path, weights_only=True)
    job = json.loads(document["job"])
    del job["losses"]  # 0.2.0 recorded no loss terms, and named its pairings with underscores
    job["pairing"] = {"name": "descriptor_pairs", "options": {"couplings": [["first", "level", 1]], "temperature": 0.25}}
    document["job"] = json.dumps(job)
    torch.save(document, path)
    resumed = resume_training(matched_registry(RANDOM_PAIRS), half.run_dir, overrides={"steps": 4})
    assert resumed.job.recipe.pairing == ComponentSpec("descriptor-pairs", job["pairing"]["options"])
    resumed.train()
    for module in ("generator", "critic"):
        a, b = getattr(whole, module).state_dict(), getattr(resumed, module).state_dict()
        assert all(torch.equal(a[key], b[key]) for key in a), module


# -------------------------------------------------------------------------------------------
# The forms of crossmodal 0.2.0: still working until 0.4, each with its porting note
# -------------------------------------------------------------------------------------------


def test_random_pairs_is_deprecated_and_still_pairs():
    with pytest.warns(DeprecationWarning, match=r"crossmodal.random_pairs is deprecated since crossmodal 0.2.1: .*"
                                                r"pairing=ComponentSpec\('random-pairs'\); removed in crossmodal 0.4"):
        from crossmodal import random_pairs
    with pytest.warns(DeprecationWarning, match="pairing=random_pairs is deprecated since crossmodal 0.2.1"):
        job = build_job(toy_plugin.toy_registry(), dataclasses.replace(toy_plugin.toy_recipe(), pairing=random_pairs))
    assert job.spec.pairing == {"name": "random-pairs", "options": {}}
    conditions, targets = job.pairing(5, 7, 3, torch.Generator().manual_seed(0))
    assert conditions.shape == targets.shape == (3,)


def test_descriptor_pairs_is_deprecated_and_names_the_registered_pairing():
    with pytest.warns(DeprecationWarning, match=r"pairing=descriptor_pairs\(\[...\]\) is deprecated since crossmodal "
                                                r"0.2.1: name the registered pairing, pairing=ComponentSpec\("
                                                r"'descriptor-pairs', \{'couplings': \[...\], 'temperature': 0.5\}\); "
                                                r"removed in crossmodal 0.4"):
        from crossmodal import descriptor_pairs
    spec = descriptor_pairs([("first", "level")], temperature=math.inf)
    assert spec == ComponentSpec("descriptor-pairs", {"couplings": [["first", "level", 1]], "temperature": "inf"})
    job = build_job(matched_registry(), matched_recipe(spec))
    assert math.isinf(job.pairing.temperature)
    with pytest.raises(RecipeError, match="sign \\+1 or -1"):
        descriptor_pairs([("first", "level", 2)])


def test_loss_term_objects_are_deprecated_and_still_trained():
    with pytest.warns(DeprecationWarning, match=r"crossmodal.LossTerm is deprecated since crossmodal 0.2.1: register "
                                                r"the term, register\('loss-term', 'my-term', factory\)"):
        from crossmodal import LossTerm
    recipe = kinds_recipe(generator_losses=(LossTerm("half_fake", lambda context: context["fake"].mean(), 0.5),),
                          critic_losses=())
    with pytest.warns(DeprecationWarning, match=r"generator_losses=\(LossTerm\('half_fake', ...\),\) is deprecated "
                                                r"since crossmodal 0.2.1: .* generator_losses=\(ComponentSpec\("
                                                r"'half_fake', \{'weight': 0.5\}\),\); removed in crossmodal 0.4"):
        trainer = kinds_trainer(recipe)
    assert trainer.job.spec.losses == {}  # not recorded: a resume takes the recipe's, as in 0.2.0
    assert list(trainer.generator_step()) == ["adversarial", "half_fake", "total"]
