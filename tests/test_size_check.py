"""restore refuses absurd recorded sizes before the real build allocates them.

The generator is first built on the meta device. Crossmodal's own refusal there (the recorded
sizes do not fit each other) is final; where a component cannot be built on the meta device,
the recorded sizes are held to ``MAX_UNCHECKED_SIZE`` before the real build.

Two hand-made encoders note the device of every build, so each test sees whether memory was
allocated (a build off the meta device) before the refusal: ``watched-encoder`` is the toy
encoder, ``meta-shy-encoder`` also reads one of its weights, which the meta device cannot give.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
import torch

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import CheckpointError, ComponentSpec  # noqa: E402
from crossmodal.job.build import build_job  # noqa: E402
from crossmodal.job.restore import MAX_UNCHECKED_SIZE, restore  # noqa: E402

HUGE = 2 ** 17
"""A recorded ``feature_dim`` above MAX_UNCHECKED_SIZE, yet small enough (a 4 MB layer) that the
code before the fix built it without harm."""

BUILDS: list[str] = []
"""Device type of every encoder build, in order ('meta' or 'cpu')."""


def watched_encoder(feature_dim: int = toy_plugin.FEATURE_DIM) -> toy_plugin.ToyEncoder:
    BUILDS.append(torch.empty(0).device.type)
    return toy_plugin.ToyEncoder(feature_dim=feature_dim)


def meta_shy_encoder(feature_dim: int = toy_plugin.FEATURE_DIM) -> toy_plugin.ToyEncoder:
    encoder = watched_encoder(feature_dim)
    encoder.largest_weight = float(encoder.net[0].weight.detach().abs().max())  # Tensor.item(): not on the meta device
    return encoder


@pytest.fixture
def registry():
    registry = toy_plugin.toy_registry()
    registry.add("encoder", "watched-encoder", watched_encoder, plugin="test")
    registry.add("encoder", "meta-shy-encoder", meta_shy_encoder, plugin="test")
    return registry


def _document(registry, encoder: str, tmp_path: Path) -> dict:
    """What load_checkpoint returns for the toy recipe built with ``encoder`` (untrained weights)."""
    job = build_job(registry, dataclasses.replace(toy_plugin.toy_recipe(), encoder=ComponentSpec(encoder)))
    BUILDS.clear()
    return {"job": job.spec.to_dict(), "generator": job.generator.state_dict(), "path": tmp_path / "hand-made.pt"}


def test_recorded_sizes_that_do_not_fit_are_refused_from_the_meta_build_alone(registry, tmp_path):
    document = _document(registry, "watched-encoder", tmp_path)
    document["job"]["components"]["encoder"]["options"] = {"feature_dim": HUGE}
    with pytest.raises(CheckpointError, match=rf"^checkpoint \S+hand-made.pt \(recipe 'toy'\) .*: decoder ToyDecoder "
                                              rf"\(track 0\) takes input_dim=6, but encoder ToyEncoder gives "
                                              rf"feature_dim={HUGE}"):
        restore(registry, document)
    assert BUILDS == ["meta"]  # nothing was allocated


def test_components_the_meta_device_cannot_build_have_their_recorded_sizes_bounded(registry, tmp_path):
    document = _document(registry, "meta-shy-encoder", tmp_path)
    document["job"]["components"]["encoder"]["options"] = {"feature_dim": HUGE}
    with pytest.raises(CheckpointError, match=rf"^checkpoint \S+hand-made.pt \(recipe 'toy'\): encoder "
                                              rf"'meta-shy-encoder' option 'feature_dim' records {HUGE}; .* sizes "
                                              rf"above {MAX_UNCHECKED_SIZE} are refused rather than allocated$"):
        restore(registry, document)
    assert BUILDS == ["meta"]  # the meta build failed, and no real one was tried

    document["job"]["components"]["encoder"]["options"] = {}  # recorded sizes within the bound: built for real
    generator = restore(registry, document).generator
    assert BUILDS == ["meta", "meta", "cpu"] and generator.feature_dim == toy_plugin.FEATURE_DIM
