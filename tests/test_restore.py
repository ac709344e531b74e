"""restore: a checkpoint or a model file back into the live parts a caller asks for.

The records are made by hand from a toy job built in memory (nothing trains): a checkpoint-like
document holds the job and the networks' weights, and a model file is written from it with
``model_document`` and read back through ``load_model``, as ``export-model`` and ``generate`` do.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import CheckpointError  # noqa: E402
from crossmodal.job.build import Job, build_job  # noqa: E402
from crossmodal.job.restore import UNTRAINED_SEED, recorded_spec, restore  # noqa: E402
from crossmodal.storage.model_file import PretrainedModel, file_sha256, load_model, model_document  # noqa: E402


@pytest.fixture(scope="module")
def registry():
    return toy_plugin.toy_registry()


@pytest.fixture
def record(registry, tmp_path) -> dict:
    """What load_checkpoint returns for a toy job, as far as restore reads it."""
    torch.manual_seed(3)
    job = build_job(registry, "toy")
    return {"job": job.spec.to_dict(), "generator": job.generator.state_dict(), "critic": job.critic.state_dict(),
            "plugins": {"toy": ""}, "generator_step": 1, "path": tmp_path / "checkpoint-00000001.pt"}


def _same(module: torch.nn.Module, weights: dict) -> bool:
    return all(torch.equal(value, weights[name]) for name, value in module.state_dict().items())


def test_a_checkpoint_restored_to_its_generator_only(registry, record):
    restored = restore(registry, record)
    assert _same(restored.generator, record["generator"]) and not restored.generator.training
    assert restored.spec == recorded_spec(record) and restored.spec.recipe == "toy"
    assert restored.origin == f"checkpoint {record['path']}" and restored.path == record["path"]
    assert restored.critic is None and restored.data is None and restored.job is None and restored.writer is None


def test_a_checkpoint_restored_to_generator_critic_and_data(registry, record):
    restored = restore(registry, record, parts=("generator", "critic", "data"))
    assert _same(restored.generator, record["generator"]) and _same(restored.critic, record["critic"])
    assert not restored.critic.training
    assert len(restored.data.conditions) == len(toy_plugin.ToyConditions())
    assert tuple(restored.data.targets.sample_shape) == restored.generator.sample_shape
    assert restored.pairing is None and restored.validation is None  # not asked for


def test_data_brings_the_generator_and_pairing_brings_the_data(registry, record):
    restored = restore(registry, record, parts=("pairing",))
    assert restored.generator is not None and restored.data is not None
    conditions, targets = restored.pairing(len(restored.data.conditions), len(restored.data.targets), 5,
                                           torch.Generator().manual_seed(0))
    assert conditions.shape == targets.shape == (5,)


def test_the_untrained_generator_is_drawn_under_its_seed_and_leaves_the_global_rng_alone(registry, record):
    before = torch.get_rng_state()
    first = restore(registry, record, parts=("untrained",))
    assert torch.equal(torch.get_rng_state(), before) and first.generator is None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(UNTRAINED_SEED)
        expected = build_job(registry, "toy").generator.state_dict()
    assert _same(first.untrained, expected) and not _same(first.untrained, record["generator"])


def test_the_job_part_is_what_resuming_trains(registry, record):
    job = restore(registry, record, parts=("job",)).job
    assert isinstance(job, Job) and job.spec == recorded_spec(record) and job.recipe.name == "toy"


def test_a_model_document_is_restored_to_its_generator(registry, record, tmp_path):
    file = tmp_path / "toy.pt"
    torch.save(model_document(record), file)
    document = load_model(PretrainedModel(file, file_sha256(file)), "toy-model")
    restored = restore(registry, document, parts=("generator", "writer", "read_conditions"),
                       origin=f"model 'toy-model' ({file})")
    for name, value in restored.generator.state_dict().items():
        assert torch.allclose(value, record["generator"][name], atol=1e-2)  # float16 in the file
    condition = tmp_path / "condition.txt"
    condition.write_text(" ".join(["0.5"] * toy_plugin.CONDITION_DIM))
    assert restored.writer is not None and len(restored.read_conditions(condition)) == 1
    with pytest.raises(CheckpointError, match=rf"^model 'toy-model' \({file}\): critic weights are missing"):
        restore(registry, document, parts=("critic",), origin=f"model 'toy-model' ({file})")


def test_a_refused_record_is_one_line_naming_the_file_and_the_cause(registry, record):
    record["generator"]["decoders.0.net.0.bias"][0] = float("nan")
    with pytest.raises(CheckpointError, match=r"^checkpoint \S+checkpoint-00000001.pt: generator weight "
                                              r"'decoders.0.net.0.bias' holds NaN or infinite values, so every "
                                              r"sample would be garbage; use an earlier checkpoint of the run$"):
        restore(registry, record)
    record["job"]["components"]["encoder"] = {"options": {}}  # no name
    with pytest.raises(CheckpointError, match=r"^checkpoint \S+: the recorded encoder entry is malformed "
                                              r"\(KeyError: 'name'\)$"):
        restore(registry, record)


def test_every_component_a_part_needs_is_checked_before_any_is_built(registry, record):
    del record["job"]["components"]["targets"]
    del record["generator"]  # the generator would be refused too, but only after the data is found missing
    with pytest.raises(CheckpointError, match=r"^checkpoint \S+: the recorded job names no targets dataset$"):
        restore(registry, record, parts=("data",))
    with pytest.raises(ValueError, match="no part 'weights'"):
        restore(registry, record, parts=("weights",))
