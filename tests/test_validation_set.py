"""A recipe's held-out ``validation`` set, and set-comparing evaluators run against it."""

from __future__ import annotations

import csv
import dataclasses
import types

import pytest
import torch
from click.testing import CliRunner

import toy_plugin
from crossmodal import Evaluator, build_job, hookimpl, load_plugins, start_training
from crossmodal.cli import make_cli


class MeanGap(Evaluator):
    """``mean-gap``: |mean of the set - mean of the reference| per track, from per-sample track means."""

    name = "toy-mean-gap"
    sample_kind = "sequence"
    compares_sets = True

    def features(self, samples):
        return {"mean": samples.mean(dim=tuple(range(1, samples.dim() - 1)))}  # (B, n_tracks)

    def compare(self, features, reference):
        return {"mean-gap": (features["mean"].mean(0) - reference["mean"].mean(0)).abs()}


def held_out_recipe():
    return dataclasses.replace(toy_plugin.toy_recipe(), name="toy-held-out", validation={"seed": 7},
                               evaluators=("toy-mean", "toy-mean-gap"))


def without_validation():
    return dataclasses.replace(toy_plugin.toy_recipe(), name="toy-no-held-out", evaluators=("toy-mean", "toy-mean-gap"))


@hookimpl
def crossmodal_register_components(register):
    register("evaluator", "toy-mean-gap", MeanGap)
    register("recipe", "toy-held-out", held_out_recipe)
    register("recipe", "toy-no-held-out", without_validation)


EXTRA = types.ModuleType("held_out_plugin")
EXTRA.crossmodal_register_components = crossmodal_register_components


def registry():
    return load_plugins(extra=[("toy", toy_plugin), ("held-out", EXTRA)], allow=[]).registry


def test_the_validation_set_is_the_targets_with_the_recipes_options_and_is_recorded():
    job = build_job(registry(), "toy-held-out", target_options={"n": 12})
    assert job.spec.components["validation"] == {"name": "toy-targets", "options": {"n": 12, "seed": 7}}
    assert job.spec.sources["validation"] is None  # the targets' source: here their embedded default
    assert len(job.validation) == 12 and not torch.equal(job.validation.batch(torch.arange(12)),
                                                         job.targets.batch(torch.arange(12)))
    assert build_job(registry(), "toy").validation is None


def test_training_compares_the_generated_samples_with_the_validation_set(tmp_path):
    trainer = start_training(registry(), "toy-held-out", overrides={"steps": 2, "out_dir": str(tmp_path)})
    try:
        trainer.train()
        generated = trainer.fixed.generate(trainer.config.eval_samples)
    finally:
        trainer.close()
    reference = trainer.job.validation.batch(torch.arange(len(trainer.job.validation)))
    expected = (generated.mean(dim=(1, 2)).mean(0) - reference.mean(dim=(1, 2)).mean(0)).abs()
    with open(trainer.run_dir / "metrics.csv", newline="") as handle:
        row = list(csv.DictReader(handle))[-1]
    assert [float(row[f"mean-gap/track{k}"]) for k in range(2)] == pytest.approx(expected.tolist(), rel=1e-5)
    assert "real/mean-gap/track0" not in row  # a comparison of two sets has no 'real' value of its own


def test_without_a_validation_set_a_set_comparing_evaluator_does_not_run(tmp_path):
    trainer = start_training(registry(), "toy-no-held-out", overrides={"steps": 2, "out_dir": str(tmp_path)})
    try:
        metrics = trainer.train()
    finally:
        trainer.close()
    assert "mean/track0" in metrics and not any(name.startswith("mean-gap") for name in metrics)


@pytest.mark.slow
def test_evaluate_a_checkpoint_compares_its_samples_with_the_recorded_validation_set(tmp_path, monkeypatch):
    trainer = start_training(registry(), "toy-held-out", overrides={"steps": 2, "out_dir": str(tmp_path)})
    trainer.train()
    trainer.close()
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")
    cli = make_cli(extra_plugins=[("toy", toy_plugin), ("held-out", EXTRA)])
    result = CliRunner().invoke(cli, ["evaluate", "--checkpoint", str(trainer.run_dir), "--samples", "8"])
    assert result.exit_code == 0, result.output
    gap = next(line.split() for line in result.stdout.splitlines() if line.startswith("mean-gap"))
    assert all(float(v) >= 0 for v in gap[1:3]) and gap[3:] == ["nan", "nan"]  # the training data's columns: none
    assert "against the 30 held-out samples of the recorded validation dataset" in result.stdout
