"""The worked example in docs/examples/crossmodal-palette works the way docs/plugin-guide.md says.

It is installed as a reader would install it (``pip install``, no network), into a folder of
its own, and driven through ``python -m crossmodal`` in subprocesses with that folder first on
``PYTHONPATH``: list-components, prepare palette-demo, train, generate and evaluate; then the
example's own tests run (tests/test_palette.py).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plugin_factory import GOOD_PLUGIN, write_distribution

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "crossmodal-palette"

pytestmark = pytest.mark.slow  # pip-installs the example and drives it in subprocesses (train included)


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    """A copy of the example, so that building it leaves no build/ or *.egg-info in the repository."""
    source = tmp_path_factory.mktemp("palette") / "crossmodal-palette"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    return source


@pytest.fixture(scope="module")
def installed(copy) -> Path:
    """``pip install --no-deps --no-build-isolation --target SITE`` of the example."""
    site = copy.parent / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-cache-dir", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(site), str(copy)],
        check=True, capture_output=True, text=True, timeout=120,
    )
    return site


def python(
    site: Path, *args: str, only_palette: bool = True, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` with ``site`` first on PYTHONPATH (and only the palette plugin loaded)."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CROSSMODAL_")}
    environment["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
    if only_palette:
        environment["CROSSMODAL_LOAD_PLUGINS"] = "palette"
    # The networks are tiny: one thread per process, or OpenMP's spin-waiting makes training
    # several times slower whenever the other cores are busy (as they are when tests run in parallel).
    environment["OMP_NUM_THREADS"] = "1"
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=environment, cwd=cwd, timeout=120
    )


def crossmodal(site: Path, *args: str, only_palette: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m crossmodal ARGS`` with ``site`` first on PYTHONPATH."""
    return python(site, "-m", "crossmodal", *args, only_palette=only_palette)


def test_installed_distribution_has_the_entry_point(installed):
    (info,) = installed.glob("crossmodal_palette-*.dist-info")
    assert info.name == "crossmodal_palette-0.1.0.dist-info"
    entry_points = (info / "entry_points.txt").read_text()
    assert "[crossmodal]" in entry_points and "palette = crossmodal_palette.plugin" in entry_points


def test_list_components_shows_the_plugin_beside_the_others(installed, tmp_path):
    """Loaded beside another third-party plugin: the palette entries and their provider."""
    neighbour = write_distribution(tmp_path / "neighbour", "sketch-plugin", "1.2.3", {"sketch": "sketch_plugin"},
                                   {"sketch_plugin": GOOD_PLUGIN})
    path = os.pathsep.join([str(installed), str(neighbour), *filter(None, [os.environ.get("PYTHONPATH")])])
    result = python(installed, "-m", "crossmodal", "list-components", "--json", only_palette=False,
                    env={"CROSSMODAL_LOAD_PLUGINS": "palette,sketch", "PYTHONPATH": path})
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert ("encoder", "sketch") in {(c["kind"], c["name"]) for c in document["components"] if c["plugin"] == "sketch"}
    ours = {(c["kind"], c["name"]) for c in document["components"] if c["plugin"] == "palette"}
    assert ours == {
        ("encoder", "palette-encoder"),
        ("temporal-source", "segment-temporal"),
        ("decoder", "lamp-decoder"),
        ("critic", "pattern-critic"),
        ("sample-set", "palettes"),
        ("sample-set", "light-patterns"),
        ("sample-writer", "light-pattern-csv"),
        ("evaluator", "level"),
        ("evaluator", "flicker"),
        ("evaluator", "together"),
        ("descriptor", "palette"),
        ("descriptor", "light-pattern"),
        ("recipe", "palette"),
    }
    for component in document["components"]:
        if component["plugin"] == "palette":
            assert component["distribution"] in {"crossmodal_palette", "crossmodal-palette"}
            assert component["version"] == "0.1.0" and component["description"]
    (plugin,) = [p for p in document["plugins"] if p["name"] == "palette"]
    assert plugin["api_version"] == 2
    assert plugin["hooks"] == [
        "crossmodal_api_version",
        "crossmodal_register_commands",
        "crossmodal_register_components",
    ]
    assert "palette" not in {b["name"] for b in document["broken"]}


def test_train_generate_and_evaluate(installed, tmp_path):
    # the plugin's own command writes data files in the format its datasets read
    result = crossmodal(installed, "prepare", "palette-demo", str(tmp_path / "data"), "--n-items", "12")
    assert result.returncode == 0, result.stderr
    palettes, patterns = tmp_path / "data" / "palettes.csv", tmp_path / "data" / "patterns.csv"
    assert result.stdout.split() == [str(palettes), str(patterns)]

    # train on the embedded (synthetic) default data, with the recipe's other defaults
    result = crossmodal(installed, "train", "--plugin", "palette", "--steps", "2", "--out", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    (run,) = (tmp_path / "runs").iterdir()
    assert result.stdout.splitlines()[0] == f"run: {run}"
    assert (run / "checkpoints" / "checkpoint-00000002.pt").is_file()
    assert (run / "config.json").is_file()
    with open(run / "metrics.csv", newline="") as handle:
        row = list(csv.DictReader(handle))[-1]  # the evaluation at the last step
    assert row["step"] == "2"
    metrics = ("level/track0", "level/track1", "flicker/track0", "flicker/track1", "together")
    assert all(0 <= float(row[name]) <= 1 for name in metrics[:4])
    assert row["together"] == "nan" or 0 <= float(row["together"]) <= 1  # nan: every lamp dark
    assert (run / "samples").is_dir() and any((run / "samples").rglob("*.csv"))

    # generate from the run, for every palette of a file the conditions dataset reads
    result = crossmodal(installed, "generate", "--checkpoint", str(run), "--condition", str(palettes),
                        "--out", str(tmp_path / "generated"))
    assert result.returncode == 0, result.stderr
    written = [Path(line) for line in result.stdout.split()]
    assert len(written) == 12 * 2 and all(path.is_file() for path in written)
    table = next(path for path in written if path.suffix == ".csv").read_text().splitlines()
    assert table[0] == "segment,step,lamp1,lamp2" and len(table) == 1 + 2 * 8

    # the plugin's evaluators on a file of patterns
    result = crossmodal(installed, "evaluate", str(patterns), "--plugin", "palette", "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)["metrics"]["value"]
    assert set(metrics) == {"level", "flicker", "together"} and len(metrics["level"]) == 2


def test_bad_data_file_is_skipped_with_its_line_and_reason(installed, tmp_path):
    patterns = tmp_path / "patterns.csv"
    good = ",".join(["0.5"] * 32)
    patterns.write_text(f"# two lamps\n{good}\n{good},0.1\n{good.replace('0.5', 'x', 1)}\n")
    result = crossmodal(installed, "evaluate", str(patterns), "--plugin", "palette")
    assert result.returncode == 0, result.stderr
    assert f"skipped {patterns}:3: wrong length: expected 32 numbers, got 33" in result.stderr
    assert f"skipped {patterns}:4: not a number" in result.stderr
    assert f"track columns: 1 light-patterns read from {patterns}" in result.stdout  # the one good row


def test_the_examples_own_tests_pass(installed, copy):
    result = python(installed, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=copy)
    assert result.returncode == 0, result.stdout + result.stderr
