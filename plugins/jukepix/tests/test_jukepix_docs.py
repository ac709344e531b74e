"""The Jukepix pages under docs/ state the numbers the code uses.

* docs/data.md gives the ``format_version`` of prepared datasets: :data:`jukepix.store.FORMAT_VERSION`;
* docs/jukepix.md describes the demo that ``crossmodal train --plugin jukepix`` runs: its numbers are
  those of the ``jukepix`` recipe's training schedule (the core's tests/test_docs.py checks the core's
  pages; this file does the same for Jukepix, which the core's tests never import).
"""

from __future__ import annotations

import re
from pathlib import Path

from jukepix.recipes import piano_hands
from jukepix.store import FORMAT_VERSION

DEMO = piano_hands().training
"""The schedule `crossmodal train --plugin jukepix` runs: the ``jukepix`` recipe's."""

DOCS = Path(__file__).resolve().parents[3] / "docs"


def _text(page: str) -> str:
    """The page with every run of white space (line breaks included) made one space."""
    return " ".join((DOCS / page).read_text(encoding="utf-8").split())


def test_data_md_states_the_format_version_the_store_writes():
    stated = re.findall(r"`format_version` \((\d+)\)", _text("data.md"))
    assert stated, "docs/data.md no longer says '`format_version` (N)' in its storage-format table"
    assert {int(n) for n in stated} == {FORMAT_VERSION}, (
        f"docs/data.md says format_version {stated}, jukepix.store writes {FORMAT_VERSION}")


DEMO_SENTENCE = re.compile(
    r"`crossmodal train --plugin jukepix` runs the \*\*demo\*\* settings .*?: "
    r"batch (?P<batch_size>\d+), (?P<steps>\d+) generator updates, "
    r"the first (?P<warmup_generator_steps>\d+) with (?P<critic_updates_warmup>\d+) critic updates each "
    r"and the rest with (?P<critic_updates>\d+) \((?P<critic_total>[\d,]+) critic updates\), "
    r"evaluation every (?P<eval_every>\d+) updates on (?P<eval_samples>\d+) samples, "
    r"samples and checkpoints every (?P<sample_every>\d+)\."
)


def _demo_numbers() -> dict[str, int]:
    found = DEMO_SENTENCE.search(_text("jukepix.md"))
    assert found, ("docs/jukepix.md: the demo sentence ('... runs the **demo** settings ...: batch B, S "
                   "generator updates, ...') is gone or reworded; update it and this test together")
    return {name: int(value.replace(",", "")) for name, value in found.groupdict().items()}


def test_jukepix_md_describes_the_demo_that_train_runs():
    stated = _demo_numbers()
    expected = {name: DEMO[name] for name in (
        "batch_size", "steps", "warmup_generator_steps", "critic_updates_warmup", "critic_updates",
        "eval_every", "eval_samples", "sample_every")}
    assert {name: stated[name] for name in expected} == expected
    assert DEMO["checkpoint_every"] == DEMO["sample_every"], (
        "docs/jukepix.md says 'samples and checkpoints every N': give them separate numbers there")
    warmup = DEMO["warmup_generator_steps"]
    critic_total = (warmup * DEMO["critic_updates_warmup"]
                    + (DEMO["steps"] - warmup) * DEMO["critic_updates"])
    assert stated["critic_total"] == critic_total


def test_jukepix_md_measured_the_demo_as_it_is():
    """The measured demo run (its table and the paragraph after it) is of the current schedule."""
    text = _text("jukepix.md")
    measured = re.search(r"Generated \((\d+) fixed painting/noise pairs\) against real \((\d+) chorale phrases\) "
                         r"at step (\d+)", text)
    assert measured, "docs/jukepix.md: the measured demo run no longer says 'Generated (N fixed ...) at step S'"
    pairs, real, step = (int(n) for n in measured.groups())
    assert pairs == real == DEMO["eval_samples"] and step == DEMO["steps"], (
        "docs/jukepix.md reports a demo run of another schedule: measure the current demo again")
    after = re.search(r"After (\d+) generator updates the phrases are", text)
    assert after and int(after.group(1)) == DEMO["steps"]
