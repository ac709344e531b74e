"""The evaluators as crossmodal sees them: registration, the Evaluator contract, exact batching."""

from __future__ import annotations

import inspect
import math
import tomllib
from pathlib import Path

import pytest
import torch

import crossmodal
from crossmodal.contract.components import check_options
from crossmodal.errors import RecipeError, ShapeError
from crossmodal.evaluation.sets import evaluate_set
from crossmodal.contract.plugins import load_plugins
from crossmodal.contract.recipe import ComponentSpec
from crossmodal_evaluators import plugin
from crossmodal_evaluators.evaluators import EVALUATORS, METRIC_TABLE, PianoRollEvaluator
from crossmodal_evaluators.metrics import METRICS

PLUGIN_ROOT = Path(__file__).resolve().parents[1]
NAMES = ["eb", "upc", "qn", "td", "polyphony", "in-scale", "pitch-range", "n-pitches", "empty-beats"]
C4, E4, G4 = 60, 64, 67
BY_NAME = {evaluator.name: evaluator for evaluator in EVALUATORS}
QualifiedNoteRate, TonalDistance = BY_NAME["qn"], BY_NAME["td"]


def random_phrases(n: int, seed: int = 0) -> torch.Tensor:
    """Probabilities ``(n, 4, 96, 128, 2)``, about 3 % of cells above 0.5."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 4, 96, 128, 2, generator=generator) ** 30


def test_plugin_registers_every_metric_in_process():
    plugins = load_plugins(strict=True, allow=[], extra=[("evaluators", plugin)])
    assert sorted(plugins.registry.names("evaluator")) == sorted([*NAMES, "realism"])  # the table's metrics and the set-comparing realism
    (loaded,) = plugins.loaded
    assert loaded.api_version == crossmodal.API_VERSION == plugin.PLUGIN_API_VERSION
    for name in NAMES:
        evaluator = plugins.registry.create("evaluator", name)
        assert isinstance(evaluator, crossmodal.Evaluator)
        assert (evaluator.name, evaluator.sample_kind) == (name, "pianoroll")
        assert plugins.registry.get("evaluator", name).description == type(evaluator).description != ""


def test_plugin_loads_through_its_entry_point(tmp_path):
    project = tomllib.loads((PLUGIN_ROOT / "pyproject.toml").read_text())["project"]
    assert (project["name"], project["version"]) == ("crossmodal-evaluators", "0.1.0")
    target = project["entry-points"]["crossmodal"]["evaluators"]
    assert target == "crossmodal_evaluators.plugin"
    info = tmp_path / "crossmodal_evaluators-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crossmodal-evaluators\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[crossmodal]\nevaluators = {target}\n")
    plugins = load_plugins(path=[str(tmp_path)], strict=True, allow=["evaluators"])
    assert plugins.registry.get("evaluator", "qn").provider == "evaluators (crossmodal_evaluators==0.1.0)"


def test_every_metric_has_an_evaluator():
    assert [evaluator.name for evaluator in EVALUATORS] == NAMES == list(METRICS)


@pytest.mark.parametrize("evaluator_type", EVALUATORS, ids=lambda e: e.name)
def test_evaluator_contract(evaluator_type):
    evaluator = evaluator_type()
    samples = random_phrases(3)
    totals = evaluator.totals(samples)
    assert list(totals) == [evaluator.name]
    numerator, denominator = totals[evaluator.name]
    expected_shape = () if evaluator.name == "td" else (2,)
    assert numerator.shape == denominator.shape == expected_shape
    assert numerator.dtype == denominator.dtype == torch.float64
    values = evaluator(samples)
    assert list(values) == [evaluator.name] and values[evaluator.name].shape == expected_shape
    torch.testing.assert_close(values[evaluator.name], numerator / denominator)


@pytest.mark.parametrize("evaluator_type", EVALUATORS, ids=lambda e: e.name)
def test_evaluator_names_itself_in_shape_errors(evaluator_type):
    with pytest.raises(ShapeError, match=f"evaluator '{evaluator_type.name}'"):
        evaluator_type()(torch.zeros(96, 128, 2))


def test_evaluate_set_in_chunks_equals_one_batch():
    class Phrases:
        sample_kind = "pianoroll"
        sample_shape = (4, 96, 128, 2)

        def __init__(self, data: torch.Tensor) -> None:
            self.data = data

        def __len__(self) -> int:
            return len(self.data)

        def batch(self, indices: torch.Tensor) -> torch.Tensor:
            return self.data[indices]

        def sources(self) -> list[str]:
            return [f"phrase {i}" for i in range(len(self.data))]

    data = random_phrases(7, seed=3)
    data[2] = 0  # a silent phrase changes nothing for pooled ratios but NaNs per-sample means
    evaluators = [evaluator_type() for evaluator_type in EVALUATORS]
    chunked = evaluate_set(Phrases(data), evaluators, batch_size=3)
    whole = {}
    for evaluator in evaluators:
        whole.update(evaluator(data))
    assert list(chunked) == NAMES
    for name in NAMES:
        torch.testing.assert_close(chunked[name], whole[name], equal_nan=True)


def test_empty_tracks_give_nan_where_the_metric_is_undefined():
    samples = torch.zeros(2, 4, 96, 128, 2)
    samples[:, 0, 0:3, C4, 0] = 1.0  # track 0: one 3-step C per phrase; track 1 silent
    values = {}
    for evaluator_type in EVALUATORS:
        values.update(evaluator_type()(samples))
    assert values["eb"].tolist() == [0.75, 1.0]
    assert values["upc"][0] == 1 and values["qn"][0] == 1 and values["pitch-range"][0] == 0
    assert values["n-pitches"].tolist() == [1.0, 0.0]
    assert values["empty-beats"].tolist() == [15 / 16, 1.0]
    for name in ("upc", "qn", "polyphony", "in-scale", "pitch-range"):
        assert math.isnan(values[name][1]), name
    assert math.isnan(values["td"])


def test_options_reach_the_metric():
    samples = torch.zeros(1, 4, 96, 128, 2)
    samples[0, 0, 0:2, C4, :] = 1.0  # a 2-step note in each track
    assert QualifiedNoteRate()(samples)["qn"].tolist() == [0.0, 0.0]
    assert QualifiedNoteRate(min_steps=2)(samples)["qn"].tolist() == [1.0, 1.0]
    assert "min_steps=2" in repr(QualifiedNoteRate(min_steps=2))


def test_td_pools_all_track_pairs_into_one_value():
    samples = torch.zeros(1, 1, 96, 128, 3)
    samples[0, 0, 0:24, C4, 0] = 1.0
    samples[0, 0, 0:24, C4, 1] = 1.0
    samples[0, 0, 0:24, G4, 2] = 1.0
    value = TonalDistance()(samples)["td"]
    # pairs (0, 1) = 0, (0, 2) = (1, 2) = d(C, G): the mean of the three beats' distances
    assert value.item() == pytest.approx(2 / 3 * math.sqrt(19 / 4 - math.sqrt(3)))


def test_evaluators_are_piano_roll_evaluators():
    assert all(issubclass(e, PianoRollEvaluator) and e.sample_kind == "pianoroll" for e in EVALUATORS)


@pytest.mark.parametrize("metric", METRIC_TABLE, ids=lambda m: m.name)
def test_factory_signature_is_the_metric_functions_options(metric):
    (evaluator_type,) = [e for e in EVALUATORS if e.metric is metric]

    def keywords(signature: inspect.Signature) -> list[tuple[str, object, object]]:
        return [(p.name, p.kind, p.default) for p in signature.parameters.values() if p.name != "samples"]

    expected = keywords(inspect.signature(metric.function))
    assert keywords(inspect.signature(evaluator_type)) == expected
    assert {kind for _, kind, _ in expected} == {inspect.Parameter.KEYWORD_ONLY}


def test_unknown_or_positional_options_are_rejected():
    plugins = load_plugins(strict=True, allow=[], extra=[("evaluators", plugin)])
    check_options(plugins.registry, "evaluator", ComponentSpec("qn", {"min_steps": 2}), "recipe 'test'")
    with pytest.raises(RecipeError, match="has no option 'lowest_pitch'; it accepts: min_steps, threshold"):
        check_options(plugins.registry, "evaluator", ComponentSpec("qn", {"lowest_pitch": 0}), "recipe 'test'")
    with pytest.raises(TypeError, match="lowest_pitch"):
        QualifiedNoteRate(lowest_pitch=0)
    with pytest.raises(TypeError):
        QualifiedNoteRate(2)
