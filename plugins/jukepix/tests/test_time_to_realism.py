"""benchmarks/time_to_realism.py runs on the embedded chorales: it trains, measures realism
against the held-out chorales, and writes its JSON and its figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


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
