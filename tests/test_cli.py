"""The command line: list-components (table and JSON), broken plugins, strict mode, errors."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from crossmodal import __version__
from crossmodal.cli import make_cli

from plugin_factory import GOOD_PLUGIN, write_distribution


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A good and a broken third-party plugin on sys.path; only they are loaded."""
    write_distribution(tmp_path, "sketch-plugin", "1.2.3", {"sketch": "sketch_plugin"}, {"sketch_plugin": GOOD_PLUGIN})
    write_distribution(tmp_path, "broken", "0.0.1", {"broken": "broken_plugin"}, {"broken_plugin": "import no_such_module\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "sketch,broken")
    monkeypatch.delenv("CROSSMODAL_STRICT_PLUGINS", raising=False)
    return tmp_path


def test_version_and_help(runner):
    result = runner.invoke(make_cli(), ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
    result = runner.invoke(make_cli(), ["list-components", "--help"])
    assert result.exit_code == 0 and "--kind" in result.output


def test_list_components_table_shows_components_and_broken_plugins(runner, site):
    result = runner.invoke(make_cli(), ["list-components"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["KIND", "NAME", "PLUGIN", "DISTRIBUTION", "DESCRIPTION"]
    assert lines[1].split()[:4] == ["encoder", "sketch", "sketch", "sketch_plugin==1.2.3"]
    assert any(line.startswith("BROKEN") and "no_such_module" in line for line in lines)
    assert "Warning: plugin 'broken' (broken==0.0.1) failed to load" in result.stderr


def test_list_components_json_schema(runner, site):
    result = runner.invoke(make_cli(), ["list-components", "--json", "--kind", "encoder"])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert set(document) == {"components", "plugins", "broken"}
    (component,) = document["components"]
    assert component == {
        "kind": "encoder",
        "name": "sketch",
        "plugin": "sketch",
        "distribution": "sketch_plugin",
        "version": "1.2.3",
        "description": "Encodes 4-d sketches to 2-d features.",
    }
    (plugin,) = document["plugins"]
    assert plugin["name"] == "sketch" and plugin["api_version"] == 2
    (broken,) = document["broken"]
    assert broken["name"] == "broken" and broken["error"].startswith("ModuleNotFoundError")


def test_strict_plugins_fails_without_traceback(runner, site):
    result = runner.invoke(make_cli(), ["--strict-plugins", "list-components"])
    assert result.exit_code == 1
    assert "Error: plugin 'broken'" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_strict_plugins_from_environment(runner, site, monkeypatch):
    monkeypatch.setenv("CROSSMODAL_STRICT_PLUGINS", "1")
    result = runner.invoke(make_cli(), ["list-components"])
    assert result.exit_code == 1 and "no_such_module" in result.stderr


def test_unknown_command_is_a_usage_error(runner, site):
    result = runner.invoke(make_cli(), ["list-component"])
    assert result.exit_code == 2
    assert "list-components" in result.stderr


def test_prepare_is_hidden_when_no_plugin_fills_it(runner, monkeypatch):
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")
    result = runner.invoke(make_cli(), ["--help"])
    assert result.exit_code == 0
    assert "list-components" in result.stdout and "prepare" not in result.stdout


@pytest.mark.slow  # subprocess
def test_python_dash_m_runs_the_cli():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "crossmodal", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == f"crossmodal, version {__version__}"


def test_debug_shows_the_broken_plugins_traceback(runner, site):
    result = runner.invoke(make_cli(), ["--debug", "list-components"])
    assert result.exit_code == 1
    assert isinstance(result.exception, Exception) and "no_such_module" in str(result.exception)
    assert isinstance(result.exception.__cause__, ModuleNotFoundError)


def test_plugin_without_api_version_is_flagged(runner, tmp_path, monkeypatch):
    source = GOOD_PLUGIN.replace("@hookimpl\ndef crossmodal_api_version():\n    return API_VERSION\n", "")
    assert "crossmodal_api_version" not in source
    write_distribution(tmp_path, "old", "0.9", {"old": "old_plugin"}, {"old_plugin": source})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "old")
    result = runner.invoke(make_cli(), ["list-components"])
    assert result.exit_code == 0
    assert "WARNING  plugin 'old' declares no crossmodal_api_version" in result.stdout


def test_a_plugin_adds_a_condition_alias_to_generate_for_its_command_line_only(monkeypatch):
    from crossmodal import hookimpl
    from crossmodal.cli import add_condition_alias, make_cli

    class Sketches:
        @staticmethod
        @hookimpl
        def crossmodal_register_commands(cli):
            add_condition_alias(cli, "--sketch")

    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")  # no installed plugin adds aliases of its own
    with_alias = make_cli(extra_plugins=[("sketches", Sketches())])
    ctx = with_alias.make_context("crossmodal", ["generate", "--help"], resilient_parsing=True)
    generate = with_alias.get_command(ctx, "generate")
    condition = next(p for p in generate.params if p.name == "condition_files")
    assert condition.opts == ["--condition", "--sketch"]
    plain = make_cli()
    plain_ctx = plain.make_context("crossmodal", ["generate", "--help"], resilient_parsing=True)
    plain_condition = next(p for p in plain.get_command(plain_ctx, "generate").params if p.name == "condition_files")
    assert "--sketch" not in plain_condition.opts
    with pytest.raises(ValueError, match="already has an option --seed"):
        add_condition_alias(with_alias, "--seed")
    with pytest.raises(ValueError, match="not a long option name"):
        add_condition_alias(with_alias, "-s")


_NO_TORCH = """
import sys
from crossmodal.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    assert not exit.code, exit.code
heavy = sorted(m for m in ("torch", "numpy", "crossmodal.contract.interfaces", "crossmodal.training.trainer") if m in sys.modules)
assert not heavy, f"imported {heavy}"
"""


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["-h"]])
@pytest.mark.slow  # subprocess
def test_version_and_top_level_help_import_no_torch(args):
    """The cold start of ``crossmodal --version`` / ``--help`` (not timed: benchmarks/run_all.py's ``cli``)."""
    import subprocess
    import sys

    env = {**os.environ, "CROSSMODAL_LOAD_PLUGINS": ""}  # installed plugins may import torch themselves
    result = subprocess.run([sys.executable, "-c", _NO_TORCH, *args], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "list-components" in result.stdout or "version" in result.stdout


@pytest.mark.slow  # subprocess
def test_import_crossmodal_imports_no_torch_and_exports_lazily():
    import subprocess
    import sys

    code = ("import sys, crossmodal; assert 'torch' not in sys.modules; "
            "assert set(crossmodal.__all__) <= set(dir(crossmodal)); "
            "from crossmodal import Encoder, Trainer, shown; "
            "assert all(getattr(crossmodal, n) is not None for n in crossmodal.__all__)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_top_level_help_lists_the_core_commands_own_summaries(runner, monkeypatch):
    from crossmodal.cli import CORE_COMMANDS
    from crossmodal.cli._group import LazyCommand

    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")
    cli = make_cli()
    ctx = cli.make_context("crossmodal", [], resilient_parsing=True)
    for name, _, _ in CORE_COMMANDS:
        placeholder = cli.commands[name]
        real = cli.get_command(ctx, name)
        assert isinstance(placeholder, LazyCommand) and not isinstance(real, LazyCommand)
        for limit in (30, 45, 60, 200):
            assert placeholder.get_short_help_str(limit) == real.get_short_help_str(limit), name
