"""``crossmodal export-model`` writes exactly ``--out`` or nothing; a model file's pickled object is named.

The checkpoint is hand-made (the toy recipe's untrained generator saved with save_checkpoint).
Two exports at once are reproduced without timing: the ``rival-encoder`` of the checkpoint
writes ``--out`` itself when it is built for real, as a second export finishing while this one
reads its checkpoint would.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import API_VERSION, CheckpointError, ComponentSpec, hookimpl  # noqa: E402
from crossmodal.job.build import build_job  # noqa: E402
from crossmodal.storage.checkpoint import save_checkpoint  # noqa: E402
from crossmodal.cli import make_cli  # noqa: E402
from crossmodal.storage.model_file import MODEL_FORMAT, PretrainedModel, file_sha256, load_model  # noqa: E402

RIVAL_FILE = b"the model file another export wrote"
RIVAL_OUT: list[Path] = []
"""Where the rival export writes (empty: nowhere)."""


def rival_encoder() -> toy_plugin.ToyEncoder:
    if RIVAL_OUT and torch.empty(0).device.type != "meta":
        RIVAL_OUT[0].write_bytes(RIVAL_FILE)
    return toy_plugin.ToyEncoder()


class Rival:
    """A plugin registering ``rival-encoder``."""

    @hookimpl
    def crossmodal_api_version(self) -> int:
        return API_VERSION

    @hookimpl
    def crossmodal_register_components(self, register) -> None:
        register("encoder", "rival-encoder", rival_encoder)


@pytest.fixture
def checkpoint(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")  # only the in-process plugins
    registry = toy_plugin.toy_registry()
    registry.add("encoder", "rival-encoder", rival_encoder, plugin="rival")
    job = build_job(registry, dataclasses.replace(toy_plugin.toy_recipe(), encoder=ComponentSpec("rival-encoder")))
    state = {"generator": job.generator.state_dict(), "critic": {}, "generator_optimizer": {},
             "critic_optimizer": {}, "generator_step": 0, "critic_step": 0, "config": "{}",
             "job": json.dumps(job.spec.to_dict()), "plugins": {}, "rng": {}}
    yield save_checkpoint(state, tmp_path / "run" / "checkpoints", keep=1)
    RIVAL_OUT.clear()


def _export(checkpoint: Path, out: Path):
    cli = make_cli(extra_plugins=[("toy", toy_plugin), ("rival", Rival())])
    return CliRunner().invoke(cli, ["export-model", "--checkpoint", str(checkpoint), "--out", str(out)])


def _refused(result, out: Path) -> None:
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.splitlines()
    assert line == f"Error: {out} already exists; nothing was written (choose another name)"
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no NAME-2.pt, no temporary file


def test_a_dangling_symlink_at_out_is_refused_and_left_as_it_was(checkpoint, tmp_path):
    out = tmp_path / "models" / "toy.pt"
    out.parent.mkdir()
    out.symlink_to(tmp_path / "nowhere.pt")
    _refused(_export(checkpoint, out), out)
    assert os.readlink(out) == str(tmp_path / "nowhere.pt") and not out.exists()


def test_out_written_by_another_export_meanwhile_is_refused_and_kept(checkpoint, tmp_path):
    out = tmp_path / "models" / "toy.pt"
    out.parent.mkdir()
    RIVAL_OUT.append(out)
    _refused(_export(checkpoint, out), out)
    assert out.read_bytes() == RIVAL_FILE


class Payload:
    """Any class: unpickling it could run code, so weights_only refuses it."""


def test_a_model_file_holding_a_pickled_object_is_refused_naming_the_object(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"format": MODEL_FORMAT, "generator": {}, "job": "{}", "plugins": {}, "generator_step": 0,
                "payload": Payload()}, evil)
    with pytest.raises(CheckpointError) as info:
        load_model(PretrainedModel(evil, file_sha256(evil)), "evil")
    assert str(info.value) == (f"model 'evil' ({evil}): refused: holds pickled objects other than tensors and "
                               f"plain values (a {Payload.__module__}.Payload)")
