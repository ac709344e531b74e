"""Jukepix through the core trainer on real files: a real step learns, and `generate` writes
MIDI whose tracks and programs match the recipe, for both track modes."""

from __future__ import annotations

import json
import shutil

import mido
import pytest
import torch
from click.testing import CliRunner

from crossmodal import load_plugins
from crossmodal.job.build import build_job
from crossmodal.cli import make_cli
from crossmodal.training.config import TrainConfig
from crossmodal.training.trainer import Trainer

TINY_SCHEDULE = {
    "steps": 2,
    "batch_size": 2,
    "warmup_generator_steps": 1,
    "critic_updates_warmup": 1,
    "critic_updates": 1,
    "eval_every": 1,
    "eval_samples": 4,
    "sample_every": 2,
    "checkpoint_every": 2,
    "device": "cpu",
}
"""Two generator updates with one critic update each, at batch 2: every code path, in seconds."""

PIANO_FILE = "midi/pianomidide__Beethoven__beethoven_les_adieux_2.mid"
STRINGS_FILE = "midi/mutopia__Handel_HWV361_mvt1_violin-piano.mid"
PAINTING = "paintings/gallery__monet-impression-sunrise.jpg"

pytestmark = pytest.mark.slow  # every test trains Jukepix on real files


@pytest.fixture(scope="module")
def registry():
    return load_plugins(allow=["jukepix", "evaluators"], strict=True).registry


def _parameters(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_one_real_step_on_real_data_changes_both_networks(registry, shared_data):
    job = build_job(registry, "jukepix", shared_data / "paintings", shared_data / PIANO_FILE)
    assert len(job.conditions) == 200 and len(job.targets) > 0
    trainer = Trainer(job, TrainConfig().merged(TINY_SCHEDULE, "test"), run_dir=None)
    critic_before, generator_before = _parameters(job.critic), _parameters(job.generator)
    critic_losses = trainer.critic_step()
    assert all(torch.isfinite(torch.tensor(v)) for v in critic_losses.values())
    assert any(not torch.equal(a, b) for a, b in zip(critic_before, job.critic.parameters()))
    generator_losses = trainer.generator_step()
    assert torch.isfinite(torch.tensor(generator_losses["total"]))
    changed = [not torch.equal(a, b) for a, b in zip(generator_before, job.generator.parameters())]
    assert all(changed[:4]) and sum(changed) > len(changed) // 2


@pytest.mark.parametrize(
    ("recipe", "targets", "programs", "names"),
    [
        ("jukepix", PIANO_FILE, [0, 0], ["Piano right", "Piano left"]),
        ("jukepix-strings", STRINGS_FILE, [0, 48], ["Piano", "Strings"]),
    ],
)
def test_train_then_generate_writes_two_track_midi(tmp_path, shared_data, monkeypatch, recipe, targets, programs, names):
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "jukepix,evaluators")
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY_SCHEDULE))
    music = tmp_path / "music"
    music.mkdir()
    shutil.copy(shared_data / targets, music)
    (music / "empty.mid").write_bytes(b"")
    runner = CliRunner()
    result = runner.invoke(make_cli(), [
        "train", "--plugin", "jukepix", "--recipe", recipe, "--config", str(config), "--verbose",
        "--conditions", str(shared_data / "paintings"), "--targets", str(music),
        "--out", str(tmp_path / "runs"),
    ])
    assert result.exit_code == 0, result.output
    assert f"skipped {music / 'empty.mid'}: " in result.stderr
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "metrics.csv").is_file() and (run / "config.json").is_file()

    out = tmp_path / "generated"
    bad = tmp_path / "not-a-painting.jpg"
    bad.write_bytes(b"\xff\xd8 truncated")
    result = runner.invoke(make_cli(), [
        "generate", "--checkpoint", str(run), "--image", str(shared_data / PAINTING),
        "--image", str(bad), "--samples", "2", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert f"skipped {bad}" in result.stderr
    midis = sorted(out.glob("*.mid"))
    assert [m.name for m in midis] == ["gallery__monet-impression-sunrise-0.mid", "gallery__monet-impression-sunrise-1.mid"]
    assert len(list(out.glob("*.png"))) == 2
    # read with mido: pretty_midi drops tracks without notes, and an untrained phrase may be silent
    tracks = [
        (next(m.name for m in track if m.type == "track_name"), next(m.program for m in track if m.type == "program_change"))
        for track in mido.MidiFile(midis[0]).tracks
        if any(m.type == "program_change" for m in track)
    ]
    assert tracks == list(zip(names, programs))
