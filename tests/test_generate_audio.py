"""`crossmodal generate --render`: the recipe's sample renderer renders what the writer wrote.

A toy renderer turns each toy ``.txt`` sample into a ``.sound`` file (the core knows no audio
format; the kind only promises "files a person can listen to"). Checked here: the renderer is
recorded with the job and named on stderr, its files share their sample's name and number, a taken
name moves the whole group (sound included) and overwrites nothing, a recipe without a renderer is
one ``Error:`` line before anything is written, and a checkpoint written before its recipe named a
renderer uses the one the recipe names now. ``--audio``, its former name, still works until 0.3.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

if str(Path(__file__).parent) not in sys.path:  # toy_plugin lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))
import toy_plugin  # noqa: E402

from crossmodal import (  # noqa: E402
    API_VERSION,
    KINDS,
    ComponentSpec,
    RecipeError,
    SampleRenderer,
    UnknownComponentError,
    build_job,
    hookimpl,
    load_plugins,
)
from crossmodal.cli import make_cli  # noqa: E402
from crossmodal.contract.hookspecs import KIND_INTERFACES  # noqa: E402
from crossmodal.storage.outputs import write_new  # noqa: E402
from crossmodal.training.launch import start_training  # noqa: E402

RENDERED = b"rendered from "
"""What the toy renderer writes before the bytes of the file it renders."""


class ToyRenderer:
    """Renders each toy ``.txt`` sample to a ``.sound`` file beside it."""

    def __init__(self, loudness: int = 1) -> None:
        self.engine = f"toy tone (loudness {loudness})"

    def render(self, files):
        texts = [Path(file) for file in files if Path(file).suffix == ".txt"]
        return [write_new(text.with_suffix(".sound"), lambda handle, t=text: handle.write(RENDERED + t.read_bytes()))
                for text in texts]


class AudioPlugin:
    """Registers the toy renderer and the recipe ``toy-audible``: the toy recipe, naming the
    renderer when ``names_renderer`` (else none, as recipes written before renderers did)."""

    def __init__(self, names_renderer: bool = True) -> None:
        self.names_renderer = names_renderer

    @hookimpl
    def crossmodal_api_version(self) -> int:
        return API_VERSION

    @hookimpl
    def crossmodal_register_components(self, register) -> None:
        register("sample-renderer", "toy-renderer", ToyRenderer)
        register("recipe", "toy-audible", self.audible_recipe)

    def audible_recipe(self):
        """The toy recipe, rendering its samples with the toy renderer."""
        renderer = ComponentSpec("toy-renderer", {"loudness": 3}) if self.names_renderer else None
        return dataclasses.replace(toy_plugin.toy_recipe(), name="toy-audible", renderer=renderer)


def _registry(names_renderer: bool = True):
    return load_plugins(extra=[("toy", toy_plugin), ("toy-audio", AudioPlugin(names_renderer))], allow=[]).registry


def _run(tmp_path_factory, recipe: str, names_renderer: bool = True) -> Path:
    """A one-step run of ``recipe`` (its checkpoint is what ``generate`` reads)."""
    trainer = start_training(_registry(names_renderer), recipe, overrides={
        "steps": 1, "out_dir": str(tmp_path_factory.mktemp("runs")), "checkpoint_every": 1,
    })
    trainer.train()
    return trainer.run_dir


@pytest.fixture(scope="module")
def audible_run(tmp_path_factory):
    return _run(tmp_path_factory, "toy-audible")


@pytest.fixture(scope="module")
def silent_run(tmp_path_factory):
    return _run(tmp_path_factory, "toy")


@pytest.fixture
def invoke(monkeypatch):
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")  # only the in-process plugins

    def run(*args, names_renderer: bool = True):
        cli = make_cli(extra_plugins=[("toy", toy_plugin), ("toy-audio", AudioPlugin(names_renderer))])
        return CliRunner().invoke(cli, [str(a) for a in args])

    return run


def _condition(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.linspace(-1, 1, 8))
    return path


def _written(result) -> list[str]:
    return [Path(line).name for line in result.stdout.splitlines()]


def test_the_kind_is_registered_with_its_interface():
    assert KIND_INTERFACES["sample-renderer"] == "SampleRenderer" and "sample-renderer" in KINDS
    assert isinstance(ToyRenderer(), SampleRenderer) and not isinstance(toy_plugin.ToyWriter(), SampleRenderer)


def test_the_renderer_is_recorded_with_the_job_and_checked_when_the_recipe_is_built():
    registry = _registry()
    job = build_job(registry, "toy-audible")
    assert job.spec.components["renderer"] == {"name": "toy-renderer", "options": {"loudness": 3}}
    assert "renderer" not in build_job(registry, "toy").spec.components
    recipe = toy_plugin.toy_recipe()
    misspelt = dataclasses.replace(recipe, renderer=ComponentSpec("toy-render"))
    with pytest.raises(UnknownComponentError, match=r"no sample-renderer named 'toy-render'\. Did you mean 'toy-ren"):
        build_job(registry, misspelt)
    unknown_option = dataclasses.replace(recipe, renderer=ComponentSpec("toy-renderer", {"volume": 2}))
    with pytest.raises(RecipeError, match="sample-renderer 'toy-renderer' .* no option 'volume'; it accepts: loudness"):
        build_job(registry, unknown_option)


def test_generate_audio_renders_each_sample_under_its_name_and_says_with_what(invoke, audible_run, tmp_path):
    good = _condition(tmp_path / "good.txt")
    out = tmp_path / "out"
    result = invoke("generate", "--checkpoint", audible_run, "--condition", good, "--samples", 2, "--out", out,
                    "--render")
    assert result.exit_code == 0, result.output
    assert "renderer: toy tone (loudness 3)" in result.stderr.splitlines()
    names = ["good-0.npy", "good-0.txt", "good-1.npy", "good-1.txt", "good-0.sound", "good-1.sound"]
    assert _written(result) == names
    assert sorted(p.name for p in out.iterdir()) == sorted(names)  # no staging folder left behind
    assert (out / "good-1.sound").read_bytes() == RENDERED + (out / "good-1.txt").read_bytes()


def test_a_taken_name_moves_the_whole_group_sound_included_and_overwrites_nothing(invoke, audible_run, tmp_path):
    good = _condition(tmp_path / "good.txt")
    out = tmp_path / "out"
    first = invoke("generate", "--checkpoint", audible_run, "--condition", good, "--out", out, "--render")
    assert first.exit_code == 0, first.output
    (out / "good-0.npy").unlink()
    (out / "good-0.txt").unlink()  # only the sound is left: its name alone is taken
    before = (out / "good-0.sound").read_bytes()
    second = invoke("generate", "--checkpoint", audible_run, "--condition", good, "--out", out, "--render",
                    "--seed", 7)
    assert second.exit_code == 0, second.output
    assert _written(second) == ["good-0-2.npy", "good-0-2.txt", "good-0-2.sound"]
    assert (out / "good-0.sound").read_bytes() == before
    assert (out / "good-0-2.sound").read_bytes() == RENDERED + (out / "good-0-2.txt").read_bytes()
    assert "good-0.sound already exists" in second.stderr


def test_without_audio_nothing_is_rendered(invoke, audible_run, tmp_path):
    out = tmp_path / "out"
    result = invoke("generate", "--checkpoint", audible_run, "--condition", _condition(tmp_path / "good.txt"),
                    "--out", out)
    assert result.exit_code == 0, result.output
    assert _written(result) == ["good-0.npy", "good-0.txt"] and "renderer:" not in result.stderr


def test_a_recipe_without_a_renderer_is_one_error_line_and_writes_nothing(invoke, silent_run, tmp_path):
    out = tmp_path / "out"
    result = invoke("generate", "--checkpoint", silent_run, "--condition", _condition(tmp_path / "good.txt"),
                    "--out", out, "--render")
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: checkpoint ") and "recipe 'toy' names no sample renderer" in line
    assert "generate without --render" in line and "list-components --kind sample-renderer" in line
    assert not out.exists()


def test_a_checkpoint_from_before_its_recipe_named_a_renderer_uses_the_recipes_renderer_now(
    invoke, tmp_path_factory, tmp_path
):
    run = _run(tmp_path_factory, "toy-audible", names_renderer=False)  # recorded without a renderer
    good = _condition(tmp_path / "good.txt")
    refused = invoke("generate", "--checkpoint", run, "--condition", good, "--out", tmp_path / "a", "--render",
                     names_renderer=False)
    assert refused.exit_code == 1 and "recipe 'toy-audible' names no sample renderer" in refused.stderr
    result = invoke("generate", "--checkpoint", run, "--condition", good, "--out", tmp_path / "b", "--render")
    assert result.exit_code == 0, result.output
    assert _written(result) == ["good-0.npy", "good-0.txt", "good-0.sound"]
    assert "renderer: toy tone (loudness 3)" in result.stderr


def test_audio_is_the_former_name_of_render_and_says_so(invoke, audible_run, tmp_path):
    result = invoke("generate", "--checkpoint", audible_run, "--condition", _condition(tmp_path / "good.txt"),
                    "--out", tmp_path / "out", "--audio")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == "--audio is now --render; --audio goes in 0.3"
    assert _written(result) == ["good-0.npy", "good-0.txt", "good-0.sound"]
    assert "--audio" not in invoke("generate", "--help").stdout
