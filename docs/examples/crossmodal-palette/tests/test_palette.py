"""The palette plugin's own tests: load it in-process, build its recipe, check every part.

Run from the example's folder with ``python -m pytest tests`` (crossmodal and torch installed).
"""

from __future__ import annotations

import pytest
import torch

import crossmodal_palette.plugin
from crossmodal import DataError, ShapeError, build_job, load_plugins
from crossmodal_palette.constants import PATTERN_SHAPE
from crossmodal_palette.data import patterns
from crossmodal_palette.descriptors import PaletteDescriptor, PatternDescriptor
from crossmodal_palette.evaluators import FlickerEvaluator, LevelEvaluator, TogetherEvaluator
from crossmodal_palette.writer import PatternWriter


@pytest.fixture(scope="module")
def plugins():
    """Only this plugin, loaded strictly: any registration problem fails the test."""
    return load_plugins(allow=[], extra=[("palette", crossmodal_palette.plugin)], strict=True)


def test_recipe_builds_and_generates(plugins):
    job = build_job(plugins.registry, "palette")  # every shape check of the core runs here
    conditions = job.conditions.batch(torch.arange(4))  # (4, 5, 3)
    samples = job.generator(conditions, job.generator.sample_noise(4))
    assert samples.shape == (4, *PATTERN_SHAPE)
    assert job.critic(conditions, samples).shape == (4,)


@pytest.mark.parametrize("kind", ["encoder", "temporal-source", "decoder", "critic"])
def test_every_component_rejects_a_wrong_shape(plugins, kind):
    for name in plugins.registry.names(kind):
        module = plugins.registry.create(kind, name)
        wrong = torch.zeros(2, 7)
        with pytest.raises(ShapeError, match=type(module).__name__):
            module(wrong) if kind != "critic" else module(wrong, wrong)


def test_metrics_on_a_hand_made_pattern():
    pattern = torch.zeros(1, *PATTERN_SHAPE)
    pattern[0, 0, :, 0] = 1.0  # lamp 1 on for the first segment only
    pattern[0, :, :4, 1] = 1.0  # lamp 2 on for the first half of each segment
    assert LevelEvaluator()(pattern)["level"].tolist() == [0.5, 0.5]
    # lamp 1 changes once in 15 step pairs, lamp 2 three times
    assert FlickerEvaluator()(pattern)["flicker"].tolist() == pytest.approx([1 / 15, 3 / 15])
    # both on: steps 0-3 (4); any on: steps 0-7 and 8-11 (12)
    assert TogetherEvaluator()(pattern)["together"].item() == pytest.approx(4 / 12)


def test_descriptors_on_hand_made_items():
    palette = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [1.0, 0.0, 0.5]]])
    described = PaletteDescriptor().describe(palette)
    assert described["lightness"].tolist() == pytest.approx([0.5])
    assert described["spread"].tolist() == pytest.approx([(0.5 / 5) ** 0.5])  # colour means 0, 1, .5, .5, .5
    pattern = torch.zeros(1, *PATTERN_SHAPE)
    pattern[0, 0, :, 0] = 1.0  # lamp 1 on for the first segment only: level 8 / 32, one change in 30 pairs
    described = PatternDescriptor().describe(pattern)
    assert described["level"].tolist() == pytest.approx([0.25])
    assert described["flicker"].tolist() == pytest.approx([1 / 30])
    with pytest.raises(ShapeError, match="PatternDescriptor"):
        PatternDescriptor().describe(torch.zeros(1, 7))


def test_bad_lines_are_skipped_and_an_empty_file_is_an_error(tmp_path):
    good = ",".join(["0.25"] * 32)
    path = tmp_path / "patterns.csv"
    path.write_text(f"{good}\n{good},1\n{good.replace('0.25', '2', 1)}\n")
    data = patterns(path)
    assert len(data) == 1 and data.batch(torch.tensor([0])).shape == (1, *PATTERN_SHAPE)
    assert [reason.split(":")[0] for _, reason in data.skipped] == ["wrong length", "out of range"]
    path.write_text("# nothing\n")
    with pytest.raises(DataError, match="no usable light-pattern item"):
        patterns(path)


def test_writer_round_trip(tmp_path):
    samples = torch.rand(2, *PATTERN_SHAPE)
    written = PatternWriter().write(samples, tmp_path, "sample")
    assert [p.name for p in written] == ["sample-0.csv", "sample-0.txt", "sample-1.csv", "sample-1.txt"]
    rows = written[0].read_text().splitlines()[1:]
    values = torch.tensor([[float(v) for v in row.split(",")[2:]] for row in rows])  # (16, lamps)
    assert torch.allclose(values.reshape(PATTERN_SHAPE), samples[0], atol=5e-4)
    assert not list(tmp_path.glob("*.tmp"))


def test_writer_numbers_a_batch_of_one_too(tmp_path):
    """``crossmodal generate --samples 1`` hands the writer one sample: it is still ``STEM-0``."""
    written = PatternWriter().write(torch.rand(1, *PATTERN_SHAPE), tmp_path, "palettes-3")
    assert [p.name for p in written] == ["palettes-3-0.csv", "palettes-3-0.txt"]
