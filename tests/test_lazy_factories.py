"""Factories registered by import path: imported only when used, and the CLI's cold start.

A plugin may pass ``register(kind, name, "package.module:Attribute", description)``; the registry
keeps the path and imports it when the entry is built, its options are checked or its docstring is
needed. Each test writes its own throwaway module into ``tmp_path`` (a fresh name, so
``sys.modules`` says whether it was imported). The last tests run the real command line in a
fresh interpreter with the installed plugins and check that ``--help``, ``list-components``,
``prepare --help`` and ``train --help`` import no torch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid

import pytest
from click.testing import CliRunner

from crossmodal import API_VERSION, hookimpl
from crossmodal.errors import PluginLoadError, RecipeError
from crossmodal.contract.plugins import load_plugins
from crossmodal.contract.recipe import ComponentSpec
from crossmodal.contract.registry import Registry

WRITER_MODULE = '''
class LazyWriter:
    """Writes nothing, lazily.

    A second paragraph that descriptions leave out.
    """

    def __init__(self, width: int = 2, *, colour: str = "red"):
        self.width, self.colour = width, colour
'''


@pytest.fixture
def lazy_module(tmp_path, monkeypatch):
    """The name of a fresh, not yet imported module in ``tmp_path`` (on ``sys.path``) defining ``LazyWriter``."""
    name = f"lazy_writer_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(WRITER_MODULE), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def _plugin(*registrations: tuple[str, str, str, str]) -> object:
    """An in-process plugin object that registers each ``(kind, name, factory, description)``."""

    class Plugin:
        @staticmethod
        @hookimpl
        def crossmodal_api_version():
            return API_VERSION

        @staticmethod
        @hookimpl
        def crossmodal_register_components(register):
            for kind, name, factory, description in registrations:
                register(kind, name, factory, description)

    return Plugin()


def test_a_path_is_imported_only_when_the_factory_is_used(lazy_module):
    registry = Registry()
    info = registry.add("sample-writer", "lazy", f"{lazy_module}:LazyWriter", "Writes nothing.", plugin="p")
    assert info.import_path == f"{lazy_module}:LazyWriter"
    assert [e.description for e in registry.entries()] == ["Writes nothing."]
    assert registry.names("sample-writer") == ["lazy"] and registry.get("sample-writer", "lazy") is info
    assert lazy_module not in sys.modules  # registering, listing and looking up imported nothing

    writer = registry.create("sample-writer", "lazy", width=5)
    assert lazy_module in sys.modules
    assert type(writer).__name__ == "LazyWriter" and (writer.width, writer.colour) == (5, "red")
    assert info.factory is sys.modules[lazy_module].LazyWriter


def test_a_path_without_description_is_listed_under_its_path_without_importing(lazy_module):
    registry = Registry()
    info = registry.add("sample-writer", "lazy", f"{lazy_module}:LazyWriter", plugin="p")
    assert info.description == f"{lazy_module}:LazyWriter"
    assert lazy_module not in sys.modules


def test_the_imported_signature_feeds_option_checking(lazy_module):
    from crossmodal.contract.components import check_options, create_component

    registry = Registry()
    registry.add("sample-writer", "lazy", f"{lazy_module}:LazyWriter", "Writes nothing.", plugin="p")
    with pytest.raises(RecipeError, match=r"sample-writer 'lazy' from p has no option 'height'; it accepts: width, colour"):
        check_options(registry, "sample-writer", ComponentSpec("lazy", {"height": 3}), "recipe 'toy'")
    assert lazy_module in sys.modules  # the signature needed the class
    writer = create_component(registry, "sample-writer", ComponentSpec("lazy", {"colour": "blue"}), "recipe 'toy'")
    assert (writer.width, writer.colour) == (2, "blue")


@pytest.mark.parametrize(
    "path, error",
    [
        ("no_such_package_0xc0ffee.models:Decoder", "ModuleNotFoundError: No module named 'no_such_package_0xc0ffee'"),
        ("json:NoSuchDecoder", "AttributeError: module 'json' has no attribute 'NoSuchDecoder'"),
    ],
)
def test_a_path_that_cannot_be_imported_is_one_line_naming_plugin_entry_and_path(path, error):
    registry = Registry()
    registry.add("decoder", "y", path, "A decoder.", plugin="x", distribution="x-dist", version="1.0")
    with pytest.raises(PluginLoadError) as info:
        registry.create("decoder", "y")
    message = str(info.value)
    assert message.startswith(f"plugin 'x' (x-dist==1.0) registered decoder 'y' as '{path}', which cannot be "
                              f"imported: {error}. ")
    assert "\n" not in message and "CROSSMODAL_LOAD_PLUGINS" in message
    assert info.value.plugin == "x" and isinstance(info.value.__cause__, (ImportError, AttributeError))


def test_a_module_failing_at_import_and_a_path_to_a_non_callable_are_one_line_too(tmp_path, monkeypatch):
    name = f"lazy_broken_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text("SIZE = 3\nraise RuntimeError('no GPU\\nhere')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry()
    registry.add("decoder", "broken", f"{name}:SIZE", "Broken at import.", plugin="x")
    registry.add("decoder", "number", "json.decoder:NaN", "Not a factory.", plugin="x")
    with pytest.raises(PluginLoadError, match=r"which cannot be imported: RuntimeError: no GPU; here\. ") as info:
        registry.create("decoder", "broken")
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(PluginLoadError, match=r"as 'json.decoder:NaN', which is a float, not a class or function"):
        registry.create("decoder", "number")


@pytest.mark.parametrize("path", ["json", "json:", ":loads", "json..decoder:NaN", "json:loads()", "a:b:c", "my-pkg:X"])
def test_a_malformed_path_is_refused_at_registration(path):
    with pytest.raises(ValueError, match="which is not an import path such as 'package.module:Attribute'"):
        Registry().add("decoder", "y", path, plugin="x")


def test_a_plugin_registering_paths_loads_without_importing_them(lazy_module):
    plugin = _plugin(("sample-writer", "lazy", f"{lazy_module}:LazyWriter", "Writes nothing."))
    plugins = load_plugins(allow=[], extra=[("lazy", plugin)])
    assert plugins.broken == [] and plugins.plugin_names() == ["lazy"]
    assert plugins.registry.get("sample-writer", "lazy").description == "Writes nothing."
    assert lazy_module not in sys.modules
    assert type(plugins.registry.create("sample-writer", "lazy")).__name__ == "LazyWriter"


@pytest.fixture
def broken_path_cli(monkeypatch):
    """A command line whose only plugin registers a recipe and a writer by paths that cannot be imported."""
    from crossmodal.cli import make_cli

    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")  # the installed plugins stay out
    plugin = _plugin(
        ("recipe", "ghost", "no_such_package_0xc0ffee.recipes:ghost", "A recipe that is not there."),
        ("sample-writer", "ghost-writer", "no_such_package_0xc0ffee.writer:Writer", ""),
    )
    return make_cli(extra_plugins=[("ghosts", plugin)])


def test_list_components_survives_a_path_that_cannot_be_imported(broken_path_cli):
    runner = CliRunner()
    result = runner.invoke(broken_path_cli, ["list-components"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith(("recipe", "sample-writer"))}
    assert rows["ghost"].endswith("A recipe that is not there.")
    assert rows["ghost-writer"].endswith("no_such_package_0xc0ffee.writer:Writer")
    assert "BROKEN" not in result.stdout

    result = runner.invoke(broken_path_cli, ["list-components", "--json"])
    assert result.exit_code == 0, result.output
    components = json.loads(result.stdout)["components"]
    assert {c["name"] for c in components if c["plugin"] == "ghosts"} == {"ghost", "ghost-writer"}
    assert {c["name"] for c in components if c["plugin"] == "crossmodal"} == {"random-pairs", "descriptor-pairs"}


def test_train_reports_the_path_in_one_line_where_the_recipe_is_used(broken_path_cli):
    runner = CliRunner()
    result = runner.invoke(broken_path_cli, ["train", "--help"])  # the recipe's defaults are left out
    assert result.exit_code == 0, result.output
    assert "ghost" not in result.stdout

    result = runner.invoke(broken_path_cli, ["train", "--recipe", "ghost"])
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line == (
        "Error: plugin 'ghosts' registered recipe 'ghost' as 'no_such_package_0xc0ffee.recipes:ghost', which "
        "cannot be imported: ModuleNotFoundError: No module named 'no_such_package_0xc0ffee'. Fix or reinstall "
        "the plugin, or leave it out with CROSSMODAL_LOAD_PLUGINS"
    )


# -------------------------------------------------------------------------------------------
# Cold start with the installed plugins (the timing itself: benchmarks/run_all.py --cli-only)
# -------------------------------------------------------------------------------------------

_IMPORTS_AFTER = """
import sys
from crossmodal.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    assert not exit.code, exit.code
heavy = sorted(m for m in ("torch", "numpy", "crossmodal.contract.interfaces", "crossmodal.training.trainer") if m in sys.modules)
print("IMPORTED", ",".join(heavy))
"""


@pytest.mark.parametrize(
    "args, shows",
    [
        (["--help"], "prepare "),  # a plugin filled the prepare group
        (["list-components"], "painting-encoder"),
        (["list-components", "--kind", "recipe"], "jukepix-folk"),
        (["prepare", "--help"], "music "),
        (["train", "--help"], "jukepix (from jukepix): steps"),
    ],
)
@pytest.mark.slow  # subprocess
def test_commands_that_only_list_import_no_torch_with_the_shipped_plugins(args, shows):
    env = {k: v for k, v in os.environ.items() if k not in ("CROSSMODAL_LOAD_PLUGINS", "CROSSMODAL_STRICT_PLUGINS")}
    result = subprocess.run([sys.executable, "-c", _IMPORTS_AFTER, *args], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert shows in result.stdout  # the shipped plugins were loaded
    assert "Warning" not in result.stderr, result.stderr
    assert result.stdout.splitlines()[-1] == "IMPORTED ", result.stdout.splitlines()[-1]
