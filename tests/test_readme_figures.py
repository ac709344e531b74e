"""README's first command states what the demo costs; those figures are the recorded measurement.

``benchmarks/demo_time.py --record docs/demo-time.json`` measures the demo as README runs it and
records it; this test reads README's sentence and compares, so a changed demo or a re-measured
cost cannot leave README saying something else.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STATED = re.compile(
    r"training: (?P<cpu>[\d,]+) CPU-seconds, about (?P<minutes>\d+) minutes on 2 free CPU cores; "
    r"plus about (?P<build>\d+) minutes? to build the default data the first time"
)


def test_readme_states_the_recorded_demo_time():
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    found = STATED.search(readme)
    assert found, "README.md's first command no longer states 'training: N CPU-seconds, about M minutes ...'"
    recorded = json.loads((ROOT / "docs" / "demo-time.json").read_text(encoding="utf-8"))
    training, build = recorded["training"], recorded["default_data_build"]
    assert int(found["cpu"].replace(",", "")) == round(training["cpu_seconds"])
    assert int(found["minutes"]) == round(training["wall_seconds"] / 60)
    assert int(found["build"]) == max(1, round(build["wall_seconds"] / 60))
    assert recorded["command"] == "crossmodal train --plugin jukepix"


def test_the_recorded_demo_ran_the_current_demo_schedule():
    jukepix_recipes = ROOT / "plugins" / "jukepix" / "jukepix" / "recipes.py"
    steps = re.search(r'"steps": (\d+),', jukepix_recipes.read_text(encoding="utf-8"))
    recorded = json.loads((ROOT / "docs" / "demo-time.json").read_text(encoding="utf-8"))
    assert steps and recorded["steps"] == int(steps.group(1)), (
        "docs/demo-time.json was measured on another demo schedule: run benchmarks/demo_time.py --record again")
