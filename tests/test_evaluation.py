"""Exact, batched evaluation over a sample set, and the `crossmodal evaluate` command."""

from __future__ import annotations

import json
import types

import pytest
import torch
from click.testing import CliRunner

from crossmodal import DataError, Evaluator, hookimpl, load_plugins
from crossmodal.cli import make_cli
from crossmodal.evaluation.sets import evaluate_set, matching_evaluators
from crossmodal.errors import RecipeError


class OnesRatio(Evaluator):
    """Fraction of cells that are 1, per track: a ratio of totals, so batching cannot change it."""

    name = "ones"
    sample_kind = "grid"

    def totals(self, samples):
        ones = (samples > 0.5).flatten(1, -2).sum(dim=(0, 1)).double()
        cells = torch.full_like(ones, samples[..., 0].numel())
        return {"ones": (ones, cells)}


class OtherKind(OnesRatio):
    name = "other"
    sample_kind = "audio"


class GridSet:
    """A deterministic set of (2, 3, tracks=2) grids whose first file 'bad.grid' is skipped."""

    sample_kind = "grid"
    sample_shape = (2, 3, 2)

    def __init__(self, n: int, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.data = (torch.rand(n, *self.sample_shape, generator=generator) > 0.7).float()
        self.skipped = [("bad.grid", "not a grid: empty file")]

    def __len__(self):
        return len(self.data)

    def batch(self, indices):
        return self.data[indices]

    def sources(self):
        return [f"grid {i}" for i in range(len(self))]


def _grid_dataset(source=None, n=10):
    if source is not None and str(source).endswith("empty"):
        raise DataError(f"{source}: no usable grid")
    return GridSet(int(n), seed=len(str(source)))


def _plugin():
    module = types.ModuleType("grids")

    @hookimpl
    def crossmodal_register_components(register):
        register("evaluator", "ones", OnesRatio)
        register("evaluator", "other", OtherKind)
        register("sample-set", "grids", _grid_dataset, "Synthetic grids")

    module.crossmodal_register_components = crossmodal_register_components
    return module


@pytest.fixture
def no_installed_plugins(monkeypatch):
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")


def test_batched_totals_equal_one_big_batch():
    data = GridSet(37)
    whole = OnesRatio()(data.data)
    for batch_size in (1, 5, 64):
        assert torch.equal(evaluate_set(data, [OnesRatio()], batch_size)["ones"], whole["ones"])
    assert torch.allclose(whole["ones"], data.data.mean(dim=(0, 1, 2)).double())


def test_matching_evaluators_filters_by_kind(no_installed_plugins):
    registry = load_plugins(extra=[("grids", _plugin())]).registry
    assert [e.name for e in matching_evaluators(registry, "grid")] == ["ones"]
    with pytest.raises(RecipeError, match="reads 'audio' samples"):
        matching_evaluators(registry, "grid", ["other"])


def test_evaluate_command_table_json_and_reference(tmp_path, no_installed_plugins):
    cli = make_cli(extra_plugins=[("grids", _plugin())])
    runner = CliRunner()
    result = runner.invoke(cli, ["evaluate", str(tmp_path), "--dataset", "grids", "-o", "n=12", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    expected = GridSet(12, seed=len(str(tmp_path))).data.mean(dim=(0, 1, 2)).tolist()
    assert document["metrics"]["value"]["ones"] == pytest.approx(expected)
    assert document["samples"] == {"value": 12}
    assert "skipped bad.grid: not a grid: empty file" in result.stderr

    result = runner.invoke(cli, ["evaluate", str(tmp_path), "--dataset", "grids", "--reference", str(tmp_path)])
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()[:2]
    assert header.split() == ["METRIC", "track", "1", "track", "2", "ref", "track", "1", "ref", "track", "2"]
    assert row.split()[0] == "ones" and row.split()[1:3] == row.split()[3:5]


def test_evaluate_command_reports_data_errors_without_traceback(tmp_path, no_installed_plugins):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(make_cli(extra_plugins=[("grids", _plugin())]), ["evaluate", str(empty), "--dataset", "grids"])
    assert result.exit_code == 1
    assert "no usable grid" in result.stderr and "Traceback" not in result.stderr


def test_evaluate_command_needs_a_dataset_when_no_recipe_says(tmp_path, no_installed_plugins):
    result = CliRunner().invoke(make_cli(extra_plugins=[("grids", _plugin())]), ["evaluate", str(tmp_path)])
    assert result.exit_code == 1
    assert "pass --dataset NAME (one of: grids)" in result.stderr


def test_an_evaluator_whose_factory_fails_is_one_line_naming_it(no_installed_plugins):
    registry = load_plugins(extra=[("grids", _plugin())]).registry

    def broken():
        raise RuntimeError("CUDA out of memory.\nTried to allocate 40 GiB")

    registry.add("evaluator", "broken", broken, plugin="test")
    with pytest.raises(RecipeError) as info:
        matching_evaluators(registry, "grid", ["broken"])
    assert str(info.value) == ("evaluate: evaluator 'broken' from test could not be built with no options "
                               "(RuntimeError: CUDA out of memory.)")


def test_evaluate_table_says_what_was_evaluated(tmp_path, no_installed_plugins):
    result = CliRunner().invoke(make_cli(extra_plugins=[("grids", _plugin())]),
                                ["evaluate", str(tmp_path), "--dataset", "grids", "-o", "n=12",
                                 "--reference", str(tmp_path)])
    assert result.exit_code == 0, result.output
    footer = result.stdout.splitlines()[-2:]
    assert footer[0].split(None, 2) == ["track", "columns:", f"12 grids read from {tmp_path}"]
    assert footer[1].split(None, 3) == ["ref", "track", "columns:", f"12 grids read from {tmp_path}"]
    assert f"evaluating {tmp_path}" in result.stderr and "Evaluating value" not in result.stderr
