"""benchmarks/time_to_realism.py runs on the embedded chorales: it trains, measures realism
against the held-out chorales (and conditioning on held-out paintings), resumes, and writes its
JSON and its figure; its lever under trial, the correspondence term, on hand-made phrases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from jukepix.constants import PHRASE_SHAPE, STEPS_PER_BAR

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT / "benchmarks") not in sys.path:
    sys.path.insert(0, str(ROOT / "benchmarks"))
from time_to_realism import Correspondence  # noqa: E402

C4, E4, G4 = 60, 64, 67  # MIDI numbers


def phrase(pitch: int, steps: int = 48) -> torch.Tensor:
    """One phrase ``(1, 4, 96, 128, 2)``: a single note of ``pitch`` in track 0 from the first step."""
    roll = torch.zeros(PHRASE_SHAPE[0] * STEPS_PER_BAR, PHRASE_SHAPE[2], PHRASE_SHAPE[3])
    roll[:steps, pitch, 0] = 1.0
    return roll.reshape(1, *PHRASE_SHAPE)


class Paintings:
    """What the term reads of a job's data: every painting's descriptor values."""

    def __init__(self, **values: list[float]) -> None:
        self.condition_descriptors = {name: torch.tensor(v, dtype=torch.float64) for name, v in values.items()}


def test_the_correspondence_term_is_minus_the_correlation_of_each_coupling():
    # three paintings, brighter and brighter; each phrase one note, higher and higher: one note each
    # (note density constant) of one pitch class (mode constant), so only brightness ~ pitch counts
    paintings = Paintings(brightness=[0.1, 0.5, 0.9], colourfulness=[0.2, 0.9, 0.4], warmth=[0.3, 0.1, 0.8])
    term = Correspondence(paintings)
    phrases = torch.cat([phrase(C4), phrase(E4), phrase(G4)])
    r = 7 / (2 * 74 / 3) ** 0.5  # Pearson's r of (0.1, 0.5, 0.9) and (60, 64, 67), by hand: 0.9966
    assert term({"fake": phrases, "condition_indices": torch.tensor([0, 1, 2])}).item() == pytest.approx(-r, abs=1e-6)
    assert term({"fake": phrases, "condition_indices": torch.tensor([2, 1, 0])}).item() == pytest.approx(r, abs=1e-6)


def test_a_gradient_step_on_the_phrases_lowers_the_correspondence_term():
    paintings = Paintings(brightness=[0.2, 0.4, 0.6, 0.8], colourfulness=[0.4, 0.3, 0.2, 0.1], warmth=[0.0, 1.0, 0.0, 1.0])
    term = Correspondence(paintings)
    fake = torch.rand(4, *PHRASE_SHAPE, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    context = {"fake": fake, "condition_indices": torch.arange(4)}
    before = term(context)
    before.backward()
    with torch.no_grad():
        fake -= 0.05 * fake.grad / fake.grad.abs().max()
    assert term(context).item() < before.item()


@pytest.mark.slow
def test_time_to_realism_measures_against_held_out_chorales(tmp_path):
    done = subprocess.run(
        [sys.executable, "benchmarks/time_to_realism.py", "--max-steps", "2", "--eval-every", "1", "--seeds", "2",
         "--threads", "1", "--goal", "0.99", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert result["steps"] == 2 and [e["step"] for e in result["evaluations"]] == [1, 2]
    assert result["generated_per_evaluation"] == 10 * 2  # the 10 bundled pictures x 2 seeds
    assert result["held_out_phrases"] > 0 and result["time_to_realism_cpu_seconds"] is None  # 0.99: not reached
    for evaluation in result["evaluations"]:
        assert 0 <= evaluation["realism"] < evaluation["ceiling"] <= 1
        assert len(evaluation["features"]) == 22  # 11 features x 2 hands
    assert (tmp_path / "time-to-realism.png").stat().st_size > 0


@pytest.mark.slow
def test_time_to_realism_measures_conditioning_and_resumes(tmp_path, shared_data):
    paintings = tmp_path / "held-out"
    paintings.mkdir()
    for source in sorted((shared_data / "paintings").glob("*.jpg"))[:3]:
        (paintings / source.name).write_bytes(source.read_bytes())
    common = [sys.executable, "benchmarks/time_to_realism.py", "--eval-every", "1", "--seeds", "2", "--threads", "1",
              "--correspondence", "1", "--conditioning", str(paintings), "--conditioning-every", "2",
              "--conditioning-seeds", "2"]
    first = subprocess.run([*common, "--max-steps", "2", "--out", str(tmp_path / "first")], cwd=ROOT,
                           capture_output=True, text=True, timeout=600, check=False)
    assert first.returncode == 0, first.stderr[-2000:]
    result = json.loads((tmp_path / "first" / "result.json").read_text(encoding="utf-8"))
    measured = result["evaluations"][-1]["conditioning"]
    assert 0 <= measured["identifiability"] <= 1 and "brightness~mean-pitch" in measured
    assert "conditioning" not in result["evaluations"][0]  # step 1: not a multiple of 2
    again = subprocess.run([*common, "--max-steps", "3", "--resume", result["run"], "--out", str(tmp_path / "again")],
                           cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 0, again.stderr[-2000:]
    resumed = json.loads((tmp_path / "again" / "result.json").read_text(encoding="utf-8"))
    assert [e["step"] for e in resumed["evaluations"]] == [3] and resumed["run"] == result["run"]
