"""Pretrained models: ``crossmodal export-model`` writes one, a plugin ships it, ``generate`` uses it.

On the toy plugin: a one-step run is exported; the file holds float16 weights and the job only,
loads with ``weights_only``, and is refused when its SHA-256 is not the recorded one or when it
holds a pickled object. ``generate`` without ``--checkpoint`` takes the one installed model and
writes what the checkpoint's generator writes, to float16 precision.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import API_VERSION, CheckpointError, RecipeError, hookimpl, load_plugins  # noqa: E402
from crossmodal.storage.checkpoint import load_checkpoint  # noqa: E402
from crossmodal.cli import make_cli  # noqa: E402
from crossmodal.generation.session import default_model_name, open_generation  # noqa: E402
from crossmodal.storage.model_file import MODEL_FORMAT, PretrainedModel, file_sha256, load_model  # noqa: E402
from crossmodal.training.launch import start_training  # noqa: E402


class ShippedModels:
    """A plugin shipping the given ``{name: (file, sha256)}`` models."""

    def __init__(self, models: dict[str, tuple[Path, str]]) -> None:
        self.models = models

    @hookimpl
    def crossmodal_api_version(self) -> int:
        return API_VERSION

    @hookimpl
    def crossmodal_register_components(self, register) -> None:
        for name, (file, sha256) in self.models.items():
            register("pretrained-model", name, lambda file=file, sha256=sha256: PretrainedModel(file, sha256),
                     f"the toy model {name}")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    registry = load_plugins(extra=[("toy", toy_plugin)], allow=[]).registry
    trainer = start_training(registry, "toy", overrides={"steps": 1, "checkpoint_every": 1,
                                                         "out_dir": str(tmp_path_factory.mktemp("runs"))})
    trainer.train()
    return trainer.run_dir


def _invoke(*args, models: dict[str, tuple[Path, str]] | None = None):
    cli = make_cli(extra_plugins=[("toy", toy_plugin), ("shipped", ShippedModels(models or {}))])
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def exported(run, tmp_path, monkeypatch) -> tuple[Path, str]:
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")  # only the in-process plugins
    out = tmp_path / "toy-model.pt"
    result = _invoke("export-model", "--checkpoint", run, "--out", out)
    assert result.exit_code == 0, result.output
    return out, result.stdout.split("sha256 ")[1].strip()


def _condition(path: Path) -> Path:
    np.savetxt(path, np.linspace(-1, 1, toy_plugin.CONDITION_DIM))
    return path


def test_export_writes_float16_weights_and_the_job_and_prints_the_files_sha256(exported, run):
    path, printed = exported
    assert printed == file_sha256(path) and len(printed) == 64
    document = torch.load(path, weights_only=True)
    assert document["format"] == MODEL_FORMAT
    assert sorted(document) == ["format", "generator", "generator_step", "job", "plugins", "source"]
    checkpoint = load_checkpoint(run)
    assert document["generator"].keys() == checkpoint["generator"].keys()
    for name, tensor in document["generator"].items():
        trained = checkpoint["generator"][name]
        if trained.is_floating_point():
            assert tensor.dtype == torch.float16 and torch.equal(tensor, trained.half())
        else:
            assert torch.equal(tensor, trained)


def test_export_never_replaces_a_file(exported, run):
    path, _ = exported
    before = path.read_bytes()
    result = _invoke("export-model", "--checkpoint", run, "--out", path)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "already exists; nothing was written" in result.stderr
    assert path.read_bytes() == before


def test_generate_without_a_checkpoint_uses_the_installed_model(exported, run, tmp_path):
    path, sha256 = exported
    condition = _condition(tmp_path / "c.txt")
    from_model = _invoke("generate", "--condition", condition, "--out", tmp_path / "model", "--seed", 3,
                         models={"toy-model": (path, sha256)})
    assert from_model.exit_code == 0, from_model.output
    assert "generator: model 'toy-model' (recipe toy)" in from_model.stderr
    from_run = _invoke("generate", "--checkpoint", run, "--condition", condition, "--out", tmp_path / "run",
                       "--seed", 3)
    assert from_run.exit_code == 0, from_run.output
    model_sample = np.load(tmp_path / "model" / "c-0.npy")
    run_sample = np.load(tmp_path / "run" / "c-0.npy")
    assert model_sample.shape == run_sample.shape
    np.testing.assert_allclose(model_sample, run_sample, atol=5e-3)  # float16 weights


def test_a_changed_model_file_is_refused_before_it_is_read(exported, tmp_path):
    path, sha256 = exported
    damaged = tmp_path / "damaged.pt"
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    damaged.write_bytes(bytes(content))
    result = _invoke("generate", "--condition", _condition(tmp_path / "c.txt"), "--out", tmp_path / "out",
                     models={"toy-model": (damaged, sha256)})
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: model 'toy-model'") and f"is not the recorded {sha256[:16]}" in line
    assert not (tmp_path / "out").exists()


class Payload:
    """Any class: unpickling it could run code, so weights_only refuses it."""


def test_a_model_file_holding_a_pickled_object_is_refused_even_with_its_own_sha256(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"format": MODEL_FORMAT, "generator": {}, "job": "{}", "plugins": {}, "generator_step": 0,
                "payload": Payload()}, evil)
    with pytest.raises(CheckpointError, match=r"model 'evil' .*refused: holds pickled objects other than tensors and plain values \(a \S+\)"):
        load_model(PretrainedModel(evil, file_sha256(evil)), "evil")


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"format": 1, "generator": {}}, other)
    with pytest.raises(CheckpointError, match="not a crossmodal model file"):
        load_model(PretrainedModel(other, file_sha256(other)), "other")


def test_the_default_model_is_the_one_installed(exported, monkeypatch):
    path, sha256 = exported

    def registry(models):
        return load_plugins(extra=[("toy", toy_plugin), ("shipped", ShippedModels(models))], allow=[]).registry

    assert default_model_name(registry({"only": (path, sha256)})) == "only"
    with pytest.raises(RecipeError, match=r"no installed plugin ships a pretrained model: give --checkpoint"):
        default_model_name(registry({}))
    with pytest.raises(RecipeError, match=r"several pretrained models are installed \(a, b\): choose one with --model"):
        default_model_name(registry({"a": (path, sha256), "b": (path, sha256)}))
    generation = open_generation(registry({"a": (path, sha256), "b": (path, sha256)}), model="b")
    assert generation.source == "model 'b'" and generation.run_dir is None and generation.recipe == "toy"


def test_checkpoint_and_model_together_are_a_usage_error(exported, run, tmp_path):
    path, sha256 = exported
    result = _invoke("generate", "--checkpoint", run, "--model", "toy-model", "--condition",
                     _condition(tmp_path / "c.txt"), models={"toy-model": (path, sha256)})
    assert result.exit_code == 2 and "give --checkpoint or --model, not both" in result.stderr


def test_list_components_shows_a_shipped_model(exported):
    path, sha256 = exported
    result = _invoke("list-components", "--kind", "pretrained-model", models={"toy-model": (path, sha256)})
    assert result.exit_code == 0, result.output
    assert "toy-model" in result.stdout and "the toy model toy-model" in result.stdout
