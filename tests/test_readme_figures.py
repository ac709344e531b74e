"""README's first command states what the demo costs; those figures are the recorded measurement.

``benchmarks/demo_time.py --record docs/demo-time.json`` measures the demo as README runs it and
records it; this test reads README's sentence and compares, so a changed demo or a re-measured
cost cannot leave README saying something else.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # README-figure checks: the recorded demo measurement, not the code

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
    from jukepix.recipes import piano_hands  # the recipe `crossmodal train --plugin jukepix` runs

    recorded = json.loads((ROOT / "docs" / "demo-time.json").read_text(encoding="utf-8"))
    assert recorded["steps"] == piano_hands().training["steps"], (
        "docs/demo-time.json was measured on another demo schedule: run benchmarks/demo_time.py --record again")


DEMO_COST = re.compile(r"\b(\d[\d,]*) CPU-seconds\b|\b(\d+) s wall\b|about \d+ minutes? (?:on|to build)")
"""A statement of what some run costs; the demo's is stated in README alone."""


def test_only_readme_states_the_demo_time():
    recorded = json.loads((ROOT / "docs" / "demo-time.json").read_text(encoding="utf-8"))
    demo = {round(recorded["training"]["cpu_seconds"]), round(recorded["training"]["wall_seconds"])}
    restated = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name == "benchmarks.md":  # the record of every measurement, the demo's included
            continue
        text = " ".join(page.read_text(encoding="utf-8").split())
        for found in DEMO_COST.finditer(text):
            number = found.group(1) or found.group(2)
            if number is None or int(number.replace(",", "")) in demo:
                restated.append(f"{page.name}: {found.group(0)!r}")
    assert not restated, f"pages state the demo's time instead of linking to README: {restated}"


def test_quickstart_uses_only_what_a_clone_has_and_lists_every_recipe():
    from crossmodal.contract.plugins import load_plugins

    text = (ROOT / "docs" / "quickstart.md").read_text(encoding="utf-8")
    for absent in ("../shared", "shared/paper", "PITFALLS"):
        assert absent not in text, f"quickstart.md uses {absent!r}, which a clone does not have"
    recipes = load_plugins().registry.names("recipe")
    listed = re.search(r"list-components --kind recipe\s+# (.*)", text)
    assert listed and sorted(n.strip() for n in listed.group(1).split(",")) == sorted(recipes)
