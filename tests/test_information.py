"""The information term: a registered loss term whose head is trained with the generator, reads
the condition back from the sample, and is saved and resumed with the run. The core ships its
generic part (``information_module``); the test plugin here registers it as ``information`` with a
flat head, as a plugin registers its own."""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402
from test_pairing import Items, Level, SequenceLevel, matched_registry  # noqa: E402

from crossmodal import (  # noqa: E402
    CheckpointError,
    ComponentSpec,
    Descriptor,
    RecipeError,
    TrainConfig,
    Trainer,
    TrainingData,
    hookimpl,
)
from crossmodal.contract.recipe import RANDOM_PAIRS  # noqa: E402
from crossmodal.job.build import build_job  # noqa: E402
from crossmodal.losses.information import information_module  # noqa: E402
from crossmodal.storage.checkpoint import load_checkpoint  # noqa: E402
from crossmodal.losses.wasserstein import InformationLoss  # noqa: E402
from crossmodal.training.launch import resume_training, start_training  # noqa: E402
from crossmodal.storage.runs import seed_everything  # noqa: E402


def flat_head(sample_shape, n_outputs, hidden=64):
    """The flattened sample through a small MLP (the core's former default head)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(sample_shape), hidden), nn.LeakyReLU(0.2),
                         nn.Linear(hidden, n_outputs))


def information(data, descriptors=None, hidden=64):
    """The test plugin's information term: the core's generic part around a flat head."""
    return information_module(data, flat_head, descriptors, {"hidden": hidden})


def narrow_information(data, width):
    return information_module(
        data, lambda sample_shape, n_outputs, width: nn.Sequential(nn.Flatten(), nn.Linear(24, width),
                                                                   nn.Linear(width, n_outputs)),
        head_options={"width": width})


def wrong_information(data):
    return information_module(data, lambda sample_shape, n_outputs: nn.Flatten())


class Terms:
    """A plugin registering the information terms above (and one whose factory builds no module)."""

    @staticmethod
    @hookimpl
    def crossmodal_register_components(register):
        register("loss-term", "information", information)
        register("loss-term", "narrow-information", narrow_information)
        register("loss-term", "wrong-information", wrong_information)
        register("loss-term", "bad", lambda data: "not a module")


def informed_registry(recipe=None):
    return matched_registry(recipe=recipe, plugins=[("terms", Terms())])


INFORMATION = ComponentSpec("information", {"weight": 0.5})


def informed_recipe(term=INFORMATION):
    return dataclasses.replace(toy_plugin.toy_recipe(), name="toy-matched", pairing=RANDOM_PAIRS,
                               condition_descriptor="toy-first", sample_descriptor="toy-level",
                               generator_losses=(term,))


def informed_trainer(term=INFORMATION):
    seed_everything(0)
    recipe = informed_recipe(term)
    job = build_job(informed_registry(), recipe)
    return Trainer(job, TrainConfig().merged(recipe.training, "toy"))


def test_the_term_builds_a_head_over_the_standardised_condition_descriptors():
    trainer = informed_trainer()
    module = trainer.loss_modules["information"]
    assert isinstance(module, InformationLoss) and module.names == ("first",)
    first = trainer.job.data.condition_descriptors["first"]
    expected = (first - first.mean()) / first.std(unbiased=False)
    assert torch.allclose(module.targets[:, 0].double(), expected, atol=1e-6)
    assert "targets" not in module.state_dict()  # rebuilt from the data, not saved


def test_the_head_is_trained_with_the_generator_and_the_gradient_reaches_the_generator():
    trainer = informed_trainer()
    head = list(trainer.loss_modules["information"].parameters())
    optimised = {p for group in trainer.generator_optimizer.param_groups for p in group["params"]}
    assert set(head) <= optimised
    assert not set(head) & {p for group in trainer.critic_optimizer.param_groups for p in group["params"]}

    batch = trainer.draws.batch()
    fake = trainer.generator(batch.conditions, batch.noise)
    (term,) = trainer.job.recipe.generator_losses  # the record the trainer runs
    assert (term.name, term.weight) == ("information", 0.5)
    loss = term.fn({"fake": fake, "condition_indices": batch.condition_indices,
                    "module": trainer.loss_modules["information"]})
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in trainer.generator.encoder.parameters())
    assert all(p.grad is not None for p in head)

    before = [p.detach().clone() for p in head]
    losses = trainer.generator_step()
    assert list(losses) == ["adversarial", "information", "total"]
    assert losses["information"] > 0
    assert all(not torch.equal(a, b) for a, b in zip(before, head))


def test_a_head_learns_to_read_a_condition_that_the_sample_encodes():
    """Samples that spell out the condition's first value: the head's loss falls from about 1."""
    torch.manual_seed(0)
    values = torch.linspace(-1, 1, 40)
    conditions = torch.cat([values[:, None], torch.rand(40, 7)], dim=1)  # (40, 8)
    targets = toy_plugin.ToyTargets()
    data = TrainingData(Items(conditions[:, 0].tolist(), "vector"), targets, Level(), SequenceLevel())
    module = information(data)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    losses = []
    for _ in range(150):
        indices = torch.randint(40, (16,))
        samples = (0.5 + 0.4 * values[indices]).reshape(16, 1, 1, 1).expand(16, *targets.sample_shape)
        loss = module({"fake": samples, "condition_indices": indices})
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[:10]) / 10 > 0.5
    assert sum(losses[-10:]) / 10 < 0.05


def test_a_head_with_options():
    module = informed_trainer(ComponentSpec("narrow-information", {"width": 3})).loss_modules["narrow-information"]
    assert module.head[1].out_features == 3


def test_the_deprecated_information_term_takes_a_head_by_import_path_and_warns():
    with pytest.warns(DeprecationWarning, match=r"information_term\(head, ...\) is deprecated since crossmodal 0.2.1: "
                                                r"register a loss term .*; removed in crossmodal 0.4"):
        from crossmodal import information_term
    term = information_term("torch.nn:Identity", descriptors=("first",), name="echo")
    assert term.module.head == "torch.nn:Identity"
    with pytest.raises(RecipeError, match="head 'no colon' is not an import path"):
        information_term("no colon")
    with pytest.raises(RecipeError, match="the default head, flat_information_head, was retired in crossmodal 0.2.1"):
        information_term()
    with pytest.warns(DeprecationWarning, match=r"generator_losses=\(LossTerm\('information', ...\),\) is deprecated"):
        trainer = informed_trainer(information_term(flat_head, weight=0.5))
    assert isinstance(trainer.loss_modules["information"], InformationLoss)
    assert list(trainer.generator_step()) == ["adversarial", "information", "total"]


def test_unknown_descriptors_and_wrong_heads_are_refused():
    with pytest.raises(RecipeError, match="predicts 'loudness', but the recipe's condition_descriptor describes "
                                          "'first'"):
        informed_trainer(ComponentSpec("information", {"descriptors": ["loudness"]}))
    with pytest.raises(RecipeError, match="names no condition_descriptor"):
        build_job(informed_registry(), dataclasses.replace(informed_recipe(), condition_descriptor=None))
    trainer = informed_trainer(ComponentSpec("wrong-information"))
    with pytest.raises(Exception, match=r"expected predictions of shape \(8, 1\)"):
        trainer.generator_step()
    twice = dataclasses.replace(informed_recipe(), critic_losses=(INFORMATION,))
    with pytest.raises(RecipeError, match="two extra loss terms are named 'information'"):
        build_job(informed_registry(), twice)
    bad = ComponentSpec("bad")
    with pytest.raises(RecipeError, match="loss-term 'bad' from terms built a str, not a torch.nn.Module"):
        build_job(informed_registry(), dataclasses.replace(informed_recipe(), generator_losses=(bad,)))


@pytest.mark.slow  # trains
def test_the_head_is_saved_and_a_run_resumes_exactly(tmp_path):
    registry = informed_registry(recipe=informed_recipe)
    options = {"out_dir": str(tmp_path), "checkpoint_every": 0, "keep_checkpoints": 5}
    whole = start_training(registry, "toy-matched", overrides={**options, "steps": 4})
    whole.train()
    half = start_training(registry, "toy-matched", overrides={**options, "steps": 2})
    half.train()
    assert set(load_checkpoint(half.run_dir)["loss_terms"]) == {"information"}
    resumed = resume_training(registry, half.run_dir, overrides={"steps": 4})
    resumed.train()
    for a, b in ((whole.generator, resumed.generator), (whole.loss_modules["information"],
                                                        resumed.loss_modules["information"])):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert whole.last_losses == resumed.last_losses
    # a run trained without the term keeps training without it, as its checkpoint records
    plain = start_training(informed_registry(), "toy-matched", overrides={**options, "steps": 1})
    plain.train()
    assert load_checkpoint(plain.run_dir)["job"]["losses"] == {"generator_losses": [], "critic_losses": []}
    again = resume_training(registry, plain.run_dir, overrides={"steps": 2})
    again.close()
    assert again.job.recipe.generator_losses == () and not again.loss_modules
    # one of crossmodal 0.2.0 records no terms: it takes the recipe's, and it holds no weights for this one
    checkpoint = plain.run_dir / "checkpoints" / "checkpoint-00000001.pt"
    document = torch.load(checkpoint, weights_only=True)
    document["job"] = document["job"].replace(', "losses": {"generator_losses": [], "critic_losses": []}', "")
    torch.save(document, checkpoint)
    with pytest.raises(CheckpointError, match="holds no weights for the loss term 'information' that the recipe now "
                                              "trains"):
        resume_training(registry, plain.run_dir, overrides={"steps": 2})


class Constant(Descriptor):
    name, sample_kind = "constant", "vector"

    def describe(self, items):
        return {"same": torch.ones(items.shape[0], dtype=torch.float64)}


def test_a_constant_descriptor_gives_zero_targets():
    data = TrainingData(Items([0.0, 1.0, 2.0], "vector"), toy_plugin.ToyTargets(), Constant(), None)
    assert information(data).targets.abs().sum() == 0


def _ddp_worker(rank: int, tmp: str) -> None:
    """One of two gloo processes training the informed toy recipe; saves its replicas."""
    from crossmodal.training import distributed

    tmp_path = Path(tmp)
    distributed.init("cpu", init_method=f"file://{tmp_path / 'store'}", world_size=2, rank=rank)
    try:
        registry = informed_registry(recipe=informed_recipe)
        trainer = start_training(registry, "toy-matched", overrides={"steps": 3, "batch_size": 8,
                                                                     "out_dir": str(tmp_path / "runs")})
        trainer.train()
        torch.save({"generator": trainer.generator.state_dict(), "losses": trainer.last_losses,
                    "head": trainer.loss_modules["information"].state_dict()}, tmp_path / f"rank{rank}.pt")
    finally:
        distributed.teardown()


@pytest.mark.slow  # spawns two processes that train
def test_two_processes_keep_identical_heads(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_ddp_worker, args=(str(tmp_path),), nprocs=2, join=True)
    first, second = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2))
    for part in ("generator", "head"):
        assert all(torch.equal(first[part][key], second[part][key]) for key in first[part]), part
    assert first["losses"]["generator/information"] > 0
