"""How much the condition matters: the statistics of ``crossmodal.evaluation.conditioning`` on hand-built cases
with known answers, evaluators that see the conditions during training, and ``crossmodal evaluate
--checkpoint RUN --conditioning FOLDER`` on a trained toy run."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import API_VERSION, Descriptor, Evaluator, RecipeError, hookimpl, load_plugins  # noqa: E402
from crossmodal.job.build import build_job  # noqa: E402
from crossmodal.cli import make_cli  # noqa: E402
from crossmodal.evaluation.conditioning import (  # noqa: E402
    critical_rho,
    descriptor_agreement,
    distance_ratio,
    identifiability,
    spearman,
    standardize,
)
from crossmodal.training.config import TrainConfig  # noqa: E402
from crossmodal.evaluation.sets import matching_evaluators  # noqa: E402
from crossmodal.callbacks.fixed_samples import metric_values  # noqa: E402
from crossmodal.training.trainer import Trainer  # noqa: E402
from crossmodal.storage.runs import seed_everything  # noqa: E402

P, S = 6, 8  # conditions, seeds


def design(n_conditions: int = P, seeds: int = S) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels (condition) and groups (seed) of the report's P x S samples, condition-major."""
    return torch.arange(n_conditions).repeat_interleave(seeds), torch.arange(seeds).repeat(n_conditions)


# -------------------------------------------------------------------------------------------
# Statistics
# -------------------------------------------------------------------------------------------


def test_separated_clusters_are_identified_with_a_small_p_value():
    labels, groups = design()
    rng = torch.Generator().manual_seed(0)
    centres = torch.randn(P, 5, generator=rng) * 10
    features = centres[labels] + 0.1 * torch.randn(P * S, 5, generator=rng)
    result = identifiability(standardize(features), labels, groups, permutations=200, seed=0)
    assert result.accuracy == 1.0 and result.chance == pytest.approx(1 / P)
    assert result.p_value == pytest.approx(1 / 201) and result.p_value < 0.01
    assert distance_ratio(standardize(features), labels, groups) < 0.05


def test_samples_that_ignore_the_condition_score_chance_and_ratio_one():
    """Seed s gives the same sample for every condition: nothing to identify."""
    labels, groups = design()
    per_seed = torch.randn(S, 5, generator=torch.Generator().manual_seed(1))
    features = standardize(per_seed[groups])
    result = identifiability(features, labels, groups, permutations=50)
    assert result.accuracy == pytest.approx(1 / P) and result.p_value == 1.0
    assert distance_ratio(features, labels, groups) == pytest.approx(1.0)
    # Counting same-seed pairs (distance 0, always different conditions) would push it above 1.
    assert distance_ratio(features, labels) > 1.05


def test_identical_distributions_give_about_chance_and_a_large_p_value():
    labels, groups = design(10, 16)
    features = standardize(torch.randn(160, 8, generator=torch.Generator().manual_seed(2)))
    result = identifiability(features, labels, groups, permutations=200, seed=3)
    assert abs(result.accuracy - 0.1) < 0.08 and result.p_value > 0.1
    assert distance_ratio(features, labels, groups) == pytest.approx(1.0, abs=0.05)


def test_the_p_value_is_seeded():
    labels, groups = design()
    features = standardize(torch.randn(P * S, 3, generator=torch.Generator().manual_seed(4)))
    first = identifiability(features, labels, groups, permutations=30, seed=7)
    assert identifiability(features, labels, groups, permutations=30, seed=7) == first


def test_identifiability_refuses_a_design_it_cannot_score():
    with pytest.raises(ValueError, match="2 seeds"):
        identifiability(torch.randn(4, 2), torch.arange(4), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="one each per sample"):
        identifiability(torch.randn(4, 2), torch.arange(3), torch.arange(4))


def test_distance_ratio_on_known_points():
    # Condition 0 at 0 and 1, condition 1 at 10 and 13 (1-D): same-condition distances 1 and 3,
    # different-condition distances 10, 13, 9 and 12.
    features = torch.tensor([[0.0], [1.0], [10.0], [13.0]])
    labels = torch.tensor([0, 0, 1, 1])
    assert distance_ratio(features, labels) == pytest.approx(2 / 11)
    # Seeds (0, 1, 1, 0): only pairs of different seeds count; 0-10 and 1-13 remain (mean 11).
    assert distance_ratio(features, labels, torch.tensor([0, 1, 1, 0])) == pytest.approx(2 / 11)
    # Seeds (0, 1, 0, 1): 0-13 and 1-10 remain (mean 11) besides 0-1 and 10-13.
    assert distance_ratio(features, labels, torch.tensor([0, 1, 0, 1])) == pytest.approx(2 / 11)
    assert math.isnan(distance_ratio(features, torch.zeros(4, dtype=torch.long)))


def test_spearman_on_monotone_reversed_and_tied_pairs():
    x = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert spearman(x, [1.0, 4.0, 9.0, 16.0, 25.0]) == pytest.approx(1.0)  # monotone, not linear
    assert spearman(x, [5.0, 3.0, 2.0, 1.0, 0.0]) == pytest.approx(-1.0)
    # Ties share their mean rank: ranks (1, 2.5, 2.5, 4, 5) against (2, 1, 4, 3, 5).
    tied, other = [1.0, 2.0, 2.0, 3.0, 4.0], [2.0, 1.0, 4.0, 3.0, 5.0]
    rx, ry = np.array([1, 2.5, 2.5, 4, 5]), np.array([2, 1, 4, 3, 5.0])
    assert spearman(tied, other) == pytest.approx(np.corrcoef(rx, ry)[0, 1])
    scipy_stats = pytest.importorskip("scipy.stats")
    assert spearman(tied, other) == pytest.approx(scipy_stats.spearmanr(tied, other).statistic)


def test_spearman_leaves_out_nan_and_is_nan_when_undefined():
    assert spearman([1.0, 2.0, math.nan, 3.0], [1.0, 2.0, 0.0, 3.0]) == pytest.approx(1.0)
    assert math.isnan(spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))  # constant side
    assert math.isnan(spearman([1.0, 2.0], [1.0, 2.0]))  # fewer than 3 pairs


def test_descriptor_agreement_correlates_every_pair():
    conditions = {"bright": torch.tensor([0.1, 0.5, 0.9, 0.3])}
    samples = {"high": torch.tensor([50.0, 60.0, 70.0, 55.0]), "low": torch.tensor([4.0, 3.0, 1.0, 2.0])}
    agreement = descriptor_agreement(conditions, samples)
    assert agreement == {"bright": {"high": pytest.approx(1.0), "low": pytest.approx(-0.8)}}


def test_standardize_centres_scales_and_zeroes_undefined_values():
    features = torch.tensor([[1.0, 5.0, 2.0], [3.0, 5.0, math.nan], [5.0, 5.0, 4.0]])
    out = standardize(features)
    assert out[:, 0].tolist() == pytest.approx([-1.2247449, 0.0, 1.2247449])
    assert out[:, 1].tolist() == [0.0, 0.0, 0.0]  # constant
    assert out[:, 2].tolist() == pytest.approx([-1.0, 0.0, 1.0])  # NaN -> the column's mean


def test_critical_rho_matches_the_published_table():
    # Two-sided 5% critical values of Spearman's rho (Zar 1972): n = 10 -> 0.648, n = 20 -> 0.450.
    assert critical_rho(10) == pytest.approx(0.648, abs=0.02)
    assert critical_rho(20) == pytest.approx(0.450, abs=0.02)
    assert math.isnan(critical_rho(2))


# -------------------------------------------------------------------------------------------
# A toy plugin with descriptors and an evaluator that sees the conditions
# -------------------------------------------------------------------------------------------


class VectorDescriptor(Descriptor):
    """Toy conditions: their first value and their mean."""

    name = "toy-vector"
    sample_kind = "vector"

    def describe(self, items):
        return {"first": items[:, 0].double(), "mean": items.double().mean(dim=1)}


class SequenceDescriptor(Descriptor):
    """Toy samples: mean level and the gap between the tracks."""

    name = "toy-sequence"
    sample_kind = "sequence"

    def describe(self, items):
        values = items.double().reshape(items.shape[0], -1, items.shape[-1])  # (N, steps, tracks)
        return {"level": values.mean(dim=(1, 2)), "gap": values[..., 0].mean(dim=1) - values[..., 1].mean(dim=1)}


class FlatDescriptor(Descriptor):
    """Toy samples, described as if every one were the same (as silent phrases are)."""

    name = "toy-flat"
    sample_kind = "sequence"

    def describe(self, items):
        return {"nothing": torch.zeros(items.shape[0], dtype=torch.float64)}


class ConditionWeightedLevel(Evaluator):
    """``weighted``: sum over samples of (first condition value x mean sample value) / samples."""

    name = "toy-weighted"
    sample_kind = "sequence"
    needs_conditions = True

    def totals(self, samples, conditions):
        assert conditions.shape == (samples.shape[0], toy_plugin.CONDITION_DIM)
        level = samples.double().reshape(samples.shape[0], -1).mean(dim=1)
        count = torch.tensor(float(samples.shape[0]), dtype=torch.float64)
        return {"weighted": ((conditions[:, 0].double() * level).sum(), count)}


def described_recipe():
    """The toy recipe with descriptors on both sides and the conditioned evaluator."""
    return dataclasses.replace(
        toy_plugin.toy_recipe(), name="toy-described", evaluators=("toy-mean", "toy-weighted"),
        condition_descriptor="toy-vector", sample_descriptor="toy-sequence",
    )


class DescribedPlugin:
    """The in-process plugin adding the above to the toy plugin."""

    @staticmethod
    @hookimpl
    def crossmodal_api_version():
        return API_VERSION

    @staticmethod
    @hookimpl
    def crossmodal_register_components(register):
        register("descriptor", "toy-vector", VectorDescriptor)
        register("descriptor", "toy-sequence", SequenceDescriptor)
        register("evaluator", "toy-weighted", ConditionWeightedLevel)
        register("descriptor", "toy-flat", FlatDescriptor)
        register("recipe", "toy-described", described_recipe)
        register("recipe", "toy-flat", lambda: dataclasses.replace(described_recipe(), name="toy-flat",
                                                                   sample_descriptor="toy-flat"))


DESCRIBED = DescribedPlugin()
PLUGINS = [("toy", toy_plugin), ("described", DESCRIBED)]


@pytest.fixture(scope="module")
def registry():
    return load_plugins(extra=PLUGINS, allow=[], strict=True).registry


def test_an_evaluator_that_needs_conditions_is_called_with_them():
    evaluator = ConditionWeightedLevel()
    samples, conditions = torch.full((2, 2, 6, 2), 0.5), torch.ones(2, toy_plugin.CONDITION_DIM)
    assert evaluator(samples, conditions)["weighted"].item() == pytest.approx(0.5)
    with pytest.raises(TypeError, match="needs the samples' conditions"):
        evaluator(samples)

    class Plain(Evaluator):
        name, sample_kind = "plain", "sequence"

        def totals(self, samples):
            return {"count": (torch.tensor(float(len(samples))), torch.tensor(1.0))}

    assert Plain()(samples)["count"].item() == 2.0
    with pytest.raises(TypeError, match="takes no conditions"):
        Plain()(samples, conditions)


def test_conditioned_totals_are_summed_over_batches_exactly():
    rng = torch.Generator().manual_seed(5)
    samples, conditions = torch.rand(10, 2, 6, 2, generator=rng), torch.randn(10, 8, generator=rng)
    whole = ConditionWeightedLevel()(samples, conditions)["weighted"].item()
    values = metric_values({"toy-weighted": ConditionWeightedLevel()}, samples,
                           lambda start, stop: conditions[start:stop], batch_size=3)
    assert values == {"weighted": pytest.approx(whole)}
    assert metric_values({"toy-weighted": ConditionWeightedLevel()}, samples) == {}  # no conditions: left out


@pytest.mark.slow  # trains
def test_training_reports_the_conditioned_metric_with_each_samples_condition(registry, tmp_path):
    seed_everything(0)
    recipe = described_recipe()
    job = build_job(registry, recipe)
    config = TrainConfig().merged(recipe.training, "toy").merged({"steps": 2}, "test")
    trainer = Trainer(job, config, tmp_path / "run", plugin_versions={"toy": "0.0"})
    metrics = trainer.train()
    fixed, count = trainer.fixed, config.eval_samples
    conditions = job.conditions.batch(fixed.condition_indices[:count])
    expected = ConditionWeightedLevel()(fixed.generate(count), conditions)["weighted"].item()
    assert metrics["weighted"] == pytest.approx(expected)
    real = job.targets.batch(fixed.target_indices[:count])
    assert trainer.real_metrics["real/weighted"] == pytest.approx(
        ConditionWeightedLevel()(real, conditions)["weighted"].item()
    )
    with open(tmp_path / "run" / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[-1]["weighted"] != "" and rows[-1]["real/weighted"] != ""
    assert (tmp_path / "run" / "curves" / "weighted.png").exists()


@pytest.mark.slow  # trains
def test_evaluate_leaves_out_evaluators_that_need_conditions(registry, invoke, tmp_path):
    assert "toy-weighted" not in [e.name for e in matching_evaluators(registry, "sequence")]
    with pytest.raises(RecipeError, match="needs_conditions"):
        matching_evaluators(registry, "sequence", ["toy-weighted"])
    run = _train(invoke, tmp_path / "runs", "toy-described")
    result = invoke("evaluate", "--checkpoint", run, "--samples", 4, "--json")
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)["metrics"]["generated"]) == {"mean"}
    result = invoke("evaluate", "--checkpoint", run, "--samples", 4, "--evaluator", "toy-weighted")
    assert result.exit_code == 1 and "compares samples with their conditions" in result.stderr


def test_a_recipe_naming_a_descriptor_of_another_kind_is_refused(registry):
    recipe = dataclasses.replace(described_recipe(), condition_descriptor="toy-sequence")
    with pytest.raises(RecipeError, match="condition_descriptor 'toy-sequence' describes items of kind 'sequence', "
                                          "but the conditions are 'vector'"):
        build_job(registry, recipe)


# -------------------------------------------------------------------------------------------
# crossmodal evaluate --checkpoint RUN --conditioning FOLDER
# -------------------------------------------------------------------------------------------


@pytest.fixture
def invoke(monkeypatch):
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")

    def call(*args):
        return CliRunner().invoke(make_cli(extra_plugins=PLUGINS), [str(a) for a in args])

    return call


def _train(invoke, out: Path, recipe: str) -> Path:
    result = invoke("train", "--recipe", recipe, "--steps", 2, "--out", out)
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("run: "))
    return Path(line[len("run: "):])


@pytest.fixture
def held_out(tmp_path) -> Path:
    """Five condition files, 8 numbers each (a folder the toy conditions sample set reads)."""
    folder = tmp_path / "held-out"
    folder.mkdir()
    rng = np.random.default_rng(9)
    for index in range(5):
        np.savetxt(folder / f"c{index}.txt", rng.uniform(-1, 1, toy_plugin.CONDITION_DIM))
    return folder


@pytest.mark.slow  # trains
def test_conditioning_report_json(invoke, tmp_path, held_out):
    run = _train(invoke, tmp_path / "runs", "toy-described")
    result = invoke("evaluate", "--checkpoint", run, "--conditioning", held_out, "--seeds", 4,
                    "--permutations", 20, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["conditioning"] == {"source": str(held_out), "dataset": "toy-conditions", "conditions": 5}
    assert report["seeds"] == 4 and report["chance"] == pytest.approx(0.2)
    assert report["descriptors"] == {"conditions": "toy-vector", "samples": "toy-sequence"}
    assert report["training_pairs"] == 20
    assert set(report["columns"]) == {"checkpoint", "untrained", "training pairs"}
    for name in ("checkpoint", "untrained"):
        column = report["columns"][name]
        assert 0 <= column["identifiability"]["accuracy"] <= 1
        assert 1 / 21 <= column["identifiability"]["p_value"] <= 1
        assert column["distance_ratio"] > 0
        assert set(column["descriptor_agreement"]) == {"first", "mean"}
        assert set(column["descriptor_agreement"]["first"]) == {"level", "gap"}
    pairs = report["columns"]["training pairs"]
    assert pairs["identifiability"] is None and pairs["distance_ratio"] is None
    assert set(pairs["descriptor_agreement"]["mean"]) == {"level", "gap"}
    # The same seed gives the same report.
    again = invoke("evaluate", "--checkpoint", run, "--conditioning", held_out, "--seeds", 4,
                   "--permutations", 20, "--json")
    assert json.loads(again.stdout) == report


@pytest.mark.slow  # trains
def test_conditioning_report_table(invoke, tmp_path, held_out):
    run = _train(invoke, tmp_path / "runs", "toy-described")
    result = invoke("evaluate", "--checkpoint", run, "--conditioning", held_out, "--seeds", 3, "--permutations", 10)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["FIGURE", "CHECKPOINT", "UNTRAINED", "TRAINING", "PAIRS"]
    assert lines[1].startswith("identifiability (chance 0.2)")
    assert any(line.startswith("rho first ~ level") for line in lines)
    assert any(line.startswith("intra/inter distance ratio") for line in lines)
    assert any("5 items of toy-conditions" in line and "x 3 noise seeds" in line for line in lines)


@pytest.mark.slow  # trains
def test_without_descriptors_the_report_uses_the_raw_samples(invoke, tmp_path, held_out):
    run = _train(invoke, tmp_path / "runs", "toy")
    result = invoke("evaluate", "--checkpoint", run, "--conditioning", held_out, "--seeds", 3,
                    "--permutations", 10, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["descriptors"] == {"conditions": None, "samples": None}
    assert report["features"].startswith("the raw samples (24 values each")
    assert set(report["columns"]) == {"checkpoint", "untrained"}
    assert report["columns"]["checkpoint"]["descriptor_agreement"] == {}
    table = invoke("evaluate", "--checkpoint", run, "--conditioning", held_out, "--seeds", 3, "--permutations", 10)
    assert "descriptors: no descriptors" in table.stdout


@pytest.mark.slow  # trains
def test_a_column_whose_samples_all_look_the_same_says_so(invoke, tmp_path, held_out):
    run = _train(invoke, tmp_path / "runs", "toy-flat")
    arguments = ["evaluate", "--checkpoint", run, "--conditioning", held_out, "--seeds", 3, "--permutations", 10]
    report = json.loads(invoke(*arguments, "--json").stdout)
    checkpoint = report["columns"]["checkpoint"]
    assert checkpoint["same_features"] and checkpoint["distance_ratio"] is None
    assert checkpoint["identifiability"]["accuracy"] == pytest.approx(0.2)
    assert checkpoint["identifiability"]["p_value"] == 1.0
    assert checkpoint["descriptor_agreement"]["first"]["nothing"] is None
    table = invoke(*arguments).stdout
    assert "checkpoint: every sample has the same features" in table


@pytest.mark.slow  # trains
def test_conditioning_usage_errors(invoke, tmp_path, held_out):
    result = invoke("evaluate", held_out, "--conditioning", held_out)
    assert result.exit_code == 2 and "--conditioning only apply with --checkpoint" in result.stderr
    run = _train(invoke, tmp_path / "runs", "toy")
    result = invoke("evaluate", "--checkpoint", run, "--conditioning", held_out, "--samples", 3)
    assert result.exit_code == 2 and "--samples cannot be used with --conditioning" in result.stderr
    result = invoke("evaluate", "--checkpoint", run, "--seeds", 3)
    assert result.exit_code == 2 and "--seeds only apply with --conditioning" in result.stderr
    result = invoke("evaluate", "--checkpoint", run, "--conditioning", held_out, "--seeds", 1)
    assert result.exit_code == 2
    single = tmp_path / "single"
    single.mkdir()
    np.savetxt(single / "c.txt", np.zeros(toy_plugin.CONDITION_DIM))
    result = invoke("evaluate", "--checkpoint", run, "--conditioning", single)
    assert result.exit_code == 1 and "the report needs at least 2" in result.stderr
