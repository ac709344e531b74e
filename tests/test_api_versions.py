"""The version says the plugin API, names an earlier API exported (or retired since) fail with
their porting note, and a plugin written for API 2 works unchanged (``tests/frozen/palette_api2``, never edited)."""

from __future__ import annotations

import importlib
import sys
import tomllib
import warnings
from pathlib import Path

import pytest
import torch
from packaging.specifiers import SpecifierSet

import crossmodal
from crossmodal import build_job, load_plugins, start_training
from crossmodal.contract.plugins import API_VERSION

ROOT = Path(__file__).resolve().parents[1]
PINNED = ("plugins/evaluators/pyproject.toml", "plugins/jukepix/pyproject.toml",
          "docs/examples/crossmodal-palette/pyproject.toml")


def test_the_minor_version_is_the_plugin_api():
    major, minor, _patch = (int(part) for part in crossmodal.__version__.split("."))
    assert (major, minor) == (0, API_VERSION)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == crossmodal.__version__


@pytest.mark.parametrize("pyproject", PINNED)
def test_shipped_plugins_pin_the_api_they_are_written_for(pyproject):
    dependencies = tomllib.loads((ROOT / pyproject).read_text(encoding="utf-8"))["project"]["dependencies"]
    pin = SpecifierSet(next(d for d in dependencies if d.startswith("crossmodal>") or d.startswith("crossmodal<"))
                       .removeprefix("crossmodal"))
    assert crossmodal.__version__ in pin
    assert f"0.{API_VERSION - 1}.9" not in pin and f"0.{API_VERSION + 1}.0" not in pin


@pytest.mark.parametrize("name, says", [
    ("RegisterComponent", "crossmodal_register_components(register)"),
    ("Job", "build_job"),
    ("JobSpec", "ComponentSpec"),
    ("mode_seeking_term", "copy it into your plugin as a loss term"),
    ("noise_information_term", "copy it into your plugin as a loss term"),
    ("aligned_pairs", "copy it into your plugin as a pairing"),
])
def test_a_removed_name_fails_with_its_porting_note(name, says):
    namespace: dict[str, object] = {}
    with pytest.raises(ImportError) as raised:
        exec(f"from crossmodal import {name}", namespace)  # what an API-1 plugin's first line does
    message = str(raised.value)
    assert f"plugin API {API_VERSION}" in message and name in message and says in message


def test_an_unknown_name_is_still_an_attribute_error():
    with pytest.raises(AttributeError):
        crossmodal.no_such_name  # noqa: B018


_NOW_PACKAGES = ("crossmodal.losses", "crossmodal.evaluation", "crossmodal.generation")


@pytest.mark.parametrize("old", sorted(set(crossmodal._MOVED) - set(_NOW_PACKAGES)))
def test_a_module_path_of_0_2_0_still_imports_with_its_porting_note(old):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {crossmodal._MOVED[old]} in crossmodal 0.2.1"):
        assert importlib.import_module(old) is importlib.import_module(crossmodal._MOVED[old])


@pytest.mark.parametrize("old", _NOW_PACKAGES)
def test_a_name_of_a_0_2_0_module_that_is_now_a_package_still_imports(old):
    new = importlib.import_module(crossmodal._MOVED[old])
    name = next(name for name, value in vars(new).items()
                if not name.startswith("_") and getattr(value, "__module__", None) == new.__name__)
    vars(importlib.import_module(old)).pop(name, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new.__name__} in crossmodal 0.2.1"):
        assert getattr(importlib.import_module(old), name) is getattr(new, name)


@pytest.fixture()
def frozen_palette(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "frozen"))
    yield importlib.import_module("palette_api2.plugin")
    for module in [m for m in sys.modules if m == "palette_api2" or m.startswith("palette_api2.")]:
        del sys.modules[module]


@pytest.mark.slow  # trains
def test_a_plugin_written_for_api_2_trains_unchanged(frozen_palette, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry = load_plugins(allow=[], extra=[("palette", frozen_palette)], strict=True).registry
        job = build_job(registry, "palette")
        conditions = job.conditions.batch(torch.arange(3))
        assert job.generator(conditions, job.generator.sample_noise(3)).shape[0] == 3
        trainer = start_training(registry, "palette", overrides={"steps": 4, "out_dir": str(tmp_path), "device": "cpu"})
        try:
            trainer.train()
        finally:
            trainer.close()
    assert trainer.step == 4
    ours = [w for w in caught if not issubclass(w.category, DeprecationWarning)
            and any(Path(w.filename).resolve().is_relative_to(ROOT / part) for part in ("crossmodal", "tests"))]
    assert not ours, [str(w.message) for w in ours]
