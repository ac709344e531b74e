"""No plugin can take the CLI down or impersonate another plugin.

Every plugin here is a real distribution (a module and its ``*.dist-info``) written into a
temporary folder. Covered: a ``crossmodal_register_commands`` that raises or clobbers a command,
``sys.exit()`` in a plugin, an evaluator that raises while computing, two distributions claiming
one entry-point name, module or component name, and the load-time report.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from crossmodal.errors import DuplicateComponentError, PluginLoadError
from crossmodal.contract.plugins import CORE_ENTRIES, load_plugins

from plugin_factory import GOOD_PLUGIN, encoder_plugin, unique_module, write_distribution


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in ("CROSSMODAL_STRICT_PLUGINS", "CROSSMODAL_LOAD_PLUGINS", "CROSSMODAL_SLOW_PLUGIN_SECONDS"):
        monkeypatch.delenv(name, raising=False)


def _install(root, dist, version, entry_point, source, target_object=""):
    """Write distribution ``dist`` whose entry point ``entry_point`` names a fresh module holding ``source``."""
    module = unique_module(dist.replace("-", "_"))
    target = module + (f":{target_object}" if target_object else "")
    write_distribution(root, dist, version, {entry_point: target}, {module: source})
    return module


def _cli(monkeypatch, root, allow):
    """``(make_cli(), runner)`` seeing the distributions in ``root``; only ``allow`` load."""
    from crossmodal.cli import make_cli

    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", allow)
    return make_cli(), CliRunner()


# -------------------------------------------------------------------------------------------
# 1. crossmodal_register_commands: a raise, or a clobbered command, breaks only its plugin
# -------------------------------------------------------------------------------------------

RAISING_COMMANDS = encoder_plugin("cmd-encoder", '''
    import click

    @hookimpl
    def crossmodal_register_commands(cli):
        @click.command("half-added")
        def half_added():
            """Added before the hook failed."""

        cli.add_command(half_added)
        raise RuntimeError("no commands today")
''')


def test_register_commands_raising_breaks_only_its_plugin(tmp_path, monkeypatch):
    write_distribution(tmp_path, "sketch-plugin", "1.2.3", {"sketch": "sketch_plugin_safety"},
                       {"sketch_plugin_safety": GOOD_PLUGIN})
    _install(tmp_path, "cmdbad", "1.0", "cmdbad", RAISING_COMMANDS)
    cli, runner = _cli(monkeypatch, tmp_path, "sketch,cmdbad")

    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    assert "list-components" in result.stdout and "half-added" not in result.stdout
    assert ("Warning: plugin 'cmdbad' (cmdbad==1.0) failed to load: RuntimeError: no commands today."
            in result.stderr)

    result = runner.invoke(cli, ["list-components", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [c["name"] for c in document["components"] if c["kind"] == "encoder"] == ["sketch"]
    assert [p["name"] for p in document["plugins"]] == ["sketch"]
    (broken,) = document["broken"]
    assert broken["name"] == "cmdbad" and broken["error"] == "RuntimeError: no commands today"


def test_register_commands_raising_is_fatal_in_strict_mode(tmp_path, monkeypatch):
    _install(tmp_path, "cmdbad", "1.0", "cmdbad", RAISING_COMMANDS)
    cli, runner = _cli(monkeypatch, tmp_path, "cmdbad")
    result = runner.invoke(cli, ["--strict-plugins", "list-components"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: plugin 'cmdbad' (cmdbad==1.0) failed to load: RuntimeError")
    assert "Traceback" not in result.output

    result = runner.invoke(cli, ["--debug", "list-components"])
    assert result.exit_code == 1 and isinstance(result.exception, PluginLoadError)
    assert isinstance(result.exception.__cause__, RuntimeError)


def test_plugin_replacing_a_core_command_is_refused(tmp_path, monkeypatch):
    source = encoder_plugin("clobber-encoder", '''
        import click

        @hookimpl
        def crossmodal_register_commands(cli):
            @click.command("train")
            def fake_train():
                """Not the real train."""
                click.echo("gotcha")

            cli.add_command(fake_train)
    ''')
    _install(tmp_path, "clobber", "0.1", "clobber", source)
    cli, runner = _cli(monkeypatch, tmp_path, "clobber")
    result = runner.invoke(cli, ["train", "--help"])
    assert result.exit_code == 0, result.output
    assert "gotcha" not in result.stdout and "--plugin" in result.stdout  # the core's train
    assert ("Warning: plugin 'clobber' (clobber==0.1) failed to load: PluginLoadError: "
            "crossmodal_register_commands replaced the command `crossmodal train`, which belongs to "
            "the crossmodal core" in result.stderr)


def test_plugin_replacing_another_plugins_command_is_refused_naming_both(tmp_path, monkeypatch):
    adds = '''
        import click

        @hookimpl
        def crossmodal_register_commands(cli):
            @click.command("hello")
            def hello():
                """Say hello."""
                click.echo("hello from {who}")

            cli.commands["prepare"].add_command(hello)
    '''
    _install(tmp_path, "alpha-cmds", "1.0", "alpha", encoder_plugin("alpha-encoder", adds.format(who="alpha")))
    _install(tmp_path, "beta-cmds", "2.0", "beta", encoder_plugin("beta-encoder", adds.format(who="beta")))
    cli, runner = _cli(monkeypatch, tmp_path, "beta,alpha")
    result = runner.invoke(cli, ["prepare", "hello"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello from alpha\n"
    assert ("plugin 'beta' (beta_cmds==2.0) failed to load: PluginLoadError: crossmodal_register_commands "
            "replaced the command `crossmodal prepare hello`, which belongs to 'alpha' (alpha_cmds==1.0)"
            in result.stderr)


# -------------------------------------------------------------------------------------------
# 2. sys.exit() (SystemExit) in a plugin is a broken plugin; Ctrl-C still stops
# -------------------------------------------------------------------------------------------


def test_plugin_calling_sys_exit_at_import_is_a_broken_plugin(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    write_distribution(tmp_path, "good", "1.0", {"good": "good_plugin_exit"}, {"good_plugin_exit": GOOD_PLUGIN})
    _install(tmp_path, "quitter", "0.2", "quitter", "import sys\nsys.exit(3)\n")
    plugins = load_plugins(path=[str(tmp_path)], strict=False)
    assert plugins.plugin_names() == ["good"]
    (broken,) = plugins.broken
    assert isinstance(broken.error, SystemExit)
    assert "plugin 'quitter' (quitter==0.2) failed to load: SystemExit: the plugin called sys.exit(3)" in broken.message
    with pytest.raises(PluginLoadError, match=r"sys.exit\(3\)"):
        load_plugins(path=[str(tmp_path)], strict=True)


def test_sys_exit_in_hooks_is_a_broken_plugin_in_the_cli(tmp_path, monkeypatch):
    in_registration = encoder_plugin("x", "").replace('register("encoder", \'x\', NamedEncoder)', "raise SystemExit(4)")
    in_commands = encoder_plugin("exit-encoder", '''
        import sys

        @hookimpl
        def crossmodal_register_commands(cli):
            sys.exit(5)
    ''')
    _install(tmp_path, "exit-register", "1.0", "exitreg", in_registration)
    _install(tmp_path, "exit-commands", "1.0", "exitcmd", in_commands)
    cli, runner = _cli(monkeypatch, tmp_path, "exitreg,exitcmd")
    result = runner.invoke(cli, ["list-components"])
    assert result.exit_code == 0, result.output
    assert "plugin 'exitreg' (exit_register==1.0) failed to load: SystemExit: the plugin called sys.exit(4)" in result.stderr
    assert "plugin 'exitcmd' (exit_commands==1.0) failed to load: SystemExit: the plugin called sys.exit(5)" in result.stderr
    assert "exit-encoder" not in result.stdout


def test_ctrl_c_while_a_plugin_imports_still_stops(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    _install(tmp_path, "interrupted", "1.0", "interrupted", "raise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):
        load_plugins(path=[str(tmp_path)], strict=False)


# -------------------------------------------------------------------------------------------
# 3. An evaluator that raises is skipped with a warning; the other metrics still print
# -------------------------------------------------------------------------------------------

GRID_PLUGIN = '''
    import torch
    from crossmodal import Evaluator, hookimpl

    class GridSet:
        sample_kind = "grid"
        sample_shape = (2, 3, 2)
        skipped = ()

        def __init__(self, source=None, n=10):
            self.data = (torch.arange(int(n) * 12).reshape(int(n), 2, 3, 2) % 3 == 0).float()

        def __len__(self):
            return len(self.data)

        def batch(self, indices):
            return self.data[indices]

        def sources(self):
            return [str(i) for i in range(len(self))]

    class Ones(Evaluator):
        """Fraction of cells that are 1, per track."""
        name = "ones"
        sample_kind = "grid"

        def totals(self, samples):
            ones = samples.flatten(1, -2).sum(dim=(0, 1)).double()
            return {"ones": (ones, torch.full_like(ones, samples[..., 0].numel()))}

    class FailsLater(Ones):
        """Works on the first batch, raises on the second."""
        name = "fails-later"
        calls = 0

        def totals(self, samples):
            FailsLater.calls += 1
            if FailsLater.calls > 1:
                raise RuntimeError("division by zero in fails-later")
            return {"partial": super().totals(samples)["ones"]}

    def broken_factory():
        """An evaluator whose factory raises."""
        raise ValueError("cannot build")

    @hookimpl
    def crossmodal_register_components(register):
        register("sample-set", "grids", GridSet)
        register("evaluator", "ones", Ones)
        register("evaluator", "fails-later", FailsLater)
        register("evaluator", "unbuildable", broken_factory)
'''


def test_failing_evaluators_are_skipped_and_the_rest_print(tmp_path, monkeypatch):
    _install(tmp_path, "grids", "1.0", "grids", GRID_PLUGIN)
    cli, runner = _cli(monkeypatch, tmp_path, "grids")
    args = ["evaluate", str(tmp_path), "--dataset", "grids", "-o", "n=6", "--batch-size", "4"]
    result = runner.invoke(cli, args + ["--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document["metrics"]["value"]) == {"ones"}  # no partial value of fails-later
    assert {f["evaluator"]: f["error"] for f in document["failed"]} == {
        "fails-later": "RuntimeError: division by zero in fails-later",
        "unbuildable": "ValueError: cannot build",
    }
    assert ("Warning: evaluator 'fails-later' from plugin grids (grids==1.0) failed: "
            "RuntimeError: division by zero in fails-later; its metrics are left out" in result.stderr)
    assert "Warning: evaluator 'unbuildable' from plugin grids (grids==1.0) failed: ValueError" in result.stderr

    result = runner.invoke(cli, args + ["--evaluator", "fails-later", "--evaluator", "ones"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].split()[0] == "ones" and "partial" not in result.stdout

    result = runner.invoke(cli, args + ["--evaluator", "unbuildable"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.splitlines()[-1] == (
        "Error: no metric left to show: evaluator(s) 'unbuildable' failed; see the warnings above")

    result = runner.invoke(cli, ["--debug", *args])
    assert isinstance(result.exception, ValueError)  # --debug: the evaluator's own error


# -------------------------------------------------------------------------------------------
# 4. Impersonation: a name used by two distributions is never resolved silently
# -------------------------------------------------------------------------------------------


def _genuine_and_impostor(tmp_path, impostor_entry_point, impostor_source=None):
    """A fake ``crossmodal-genuine`` 0.1.0 and an impostor ``aaa-impostor`` 6.6, in two folders."""
    genuine, impostor = tmp_path / "site-a", tmp_path / "site-b"
    module = _install(genuine, "crossmodal-genuine", "0.1.0", "genuine", encoder_plugin("contested-encoder"))
    _install(impostor, "aaa-impostor", "6.6", impostor_entry_point,
             impostor_source or encoder_plugin("contested-encoder"))
    return str(genuine), str(impostor), module


@pytest.mark.parametrize("impostor_first", [False, True])
def test_same_entry_point_name_from_two_distributions_loads_neither(tmp_path, monkeypatch, impostor_first):
    genuine, impostor, _ = _genuine_and_impostor(tmp_path, "genuine")
    path = [impostor, genuine] if impostor_first else [genuine, impostor]
    monkeypatch.syspath_prepend(genuine)
    monkeypatch.syspath_prepend(impostor)
    plugins = load_plugins(path=path, strict=False)
    assert plugins.loaded == [] and len(plugins.registry) == len(CORE_ENTRIES)
    assert sorted(b.distribution for b in plugins.broken) == ["aaa_impostor", "crossmodal_genuine"]
    for broken in plugins.broken:
        message = broken.message
        assert "2 distributions claim the entry-point name 'genuine'" in message
        assert "aaa_impostor==6.6" in message and "crossmodal_genuine==0.1.0" in message
        assert "CROSSMODAL_LOAD_PLUGINS=crossmodal_genuine:genuine" in message

    # the allow-list picks one by distribution (either spelling of its name)
    for choice in ("crossmodal-genuine:genuine", "crossmodal_genuine:genuine"):
        plugins = load_plugins(path=path, allow=[choice], strict=True)
        assert [(p.name, p.distribution) for p in plugins.loaded] == [("genuine", "crossmodal_genuine")]
        assert plugins.registry.get("encoder", "contested-encoder").provider == "genuine (crossmodal_genuine==0.1.0)"
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "aaa-impostor:genuine")
    plugins = load_plugins(path=path, strict=True)
    assert [p.distribution for p in plugins.loaded] == ["aaa_impostor"]


@pytest.mark.parametrize("impostor_first", [False, True])
def test_component_claimed_by_two_plugins_is_used_from_neither(tmp_path, monkeypatch, impostor_first):
    genuine, impostor, _ = _genuine_and_impostor(tmp_path, "impostor")
    path = [impostor, genuine] if impostor_first else [genuine, impostor]
    monkeypatch.syspath_prepend(genuine)
    monkeypatch.syspath_prepend(impostor)
    plugins = load_plugins(path=path, strict=False)
    # the same outcome whatever the path order: loading is sorted by distribution name
    assert [p.name for p in plugins.loaded] == ["impostor"]
    (broken,) = plugins.broken
    assert broken.name == "genuine"
    assert ("encoder 'contested-encoder' is registered twice: by impostor (aaa_impostor==6.6) and by "
            "genuine (crossmodal_genuine==0.1.0)") in broken.message
    # ...and the impostor, which sorts first, still cannot be used under the contested name
    with pytest.raises(DuplicateComponentError) as info:
        plugins.registry.create("encoder", "contested-encoder")
    assert "impostor (aaa_impostor==6.6) and genuine (crossmodal_genuine==0.1.0)" in str(info.value)
    assert "CROSSMODAL_LOAD_PLUGINS" in str(info.value)

    plugins = load_plugins(path=path, allow=["genuine"], strict=True)
    assert plugins.registry.get("encoder", "contested-encoder").plugin == "genuine"


def test_contested_component_is_shown_and_refused_in_the_cli(tmp_path, monkeypatch):
    genuine, impostor, _ = _genuine_and_impostor(tmp_path, "impostor")
    monkeypatch.syspath_prepend(genuine)
    cli, runner = _cli(monkeypatch, impostor, "genuine,impostor")
    result = runner.invoke(cli, ["list-components"])
    assert result.exit_code == 0, result.output
    assert ("CONFLICT  encoder 'contested-encoder' is registered by impostor (aaa_impostor==6.6) and "
            "genuine (crossmodal_genuine==0.1.0)") in result.stdout
    assert "plugin 'genuine' (crossmodal_genuine==0.1.0) failed to load" in result.stderr


def test_entry_point_naming_another_distributions_module_loads_neither(tmp_path, monkeypatch):
    genuine, impostor = tmp_path / "site-a", tmp_path / "site-b"
    module = _install(genuine, "crossmodal-genuine", "0.1.0", "genuine", encoder_plugin("contested-encoder"))
    write_distribution(impostor, "aaa-impostor", "6.6", {"aaa": module}, {})
    monkeypatch.syspath_prepend(str(genuine))
    plugins = load_plugins(path=[str(impostor), str(genuine)], strict=False)
    assert plugins.loaded == [] and len(plugins.registry) == len(CORE_ENTRIES)
    assert sorted(b.name for b in plugins.broken) == ["aaa", "genuine"]
    assert all("claim the entry-point name or plugin module" in b.message for b in plugins.broken)


# -------------------------------------------------------------------------------------------
# 5. Load time: measured per plugin, listed, and slow plugins warned about
# -------------------------------------------------------------------------------------------

SLOW_PLUGIN = encoder_plugin("slow-encoder", "").replace(
    "from crossmodal import", "import time\ntime.sleep(0.3)\nfrom crossmodal import", 1
)


def test_slow_plugin_is_timed_listed_and_warned_about(tmp_path, monkeypatch):
    write_distribution(tmp_path, "quick", "1.0", {"quick": "quick_plugin_safety"}, {"quick_plugin_safety": GOOD_PLUGIN})
    _install(tmp_path, "slow", "1.0", "slow", SLOW_PLUGIN)
    cli, runner = _cli(monkeypatch, tmp_path, "quick,slow")
    monkeypatch.setenv("CROSSMODAL_SLOW_PLUGIN_SECONDS", "0.2")
    result = runner.invoke(cli, ["list-components", "--json"])
    assert result.exit_code == 0, result.output
    seconds = {p["name"]: p["load_seconds"] for p in json.loads(result.stdout)["plugins"]}
    assert seconds["slow"] >= 0.3 and seconds["quick"] >= 0  # each plugin's load time is reported (no upper bound)
    (warning,) = [line for line in result.stderr.splitlines() if line.startswith("Warning: plugin 'slow'")]
    assert warning.startswith("Warning: plugin 'slow' (slow==1.0) took ")
    assert "more than 0.2 s (CROSSMODAL_SLOW_PLUGIN_SECONDS); every command waits for it" in warning

    result = runner.invoke(cli, ["list-components"])  # the same process: the module is imported already
    table = result.stdout.split("\n\n", 1)[1].splitlines()
    assert table[0].split() == ["PLUGIN", "DISTRIBUTION", "LOAD", "TIME", "STATUS"]
    assert [row.split()[:2] for row in table[1:3]] == [["quick", "quick==1.0"], ["slow", "slow==1.0"]]
    assert table[1].split()[3:] == ["s", "loaded"]


def test_default_threshold_does_not_warn_about_a_quick_plugin(tmp_path, monkeypatch):
    _install(tmp_path, "slowish", "1.0", "slowish", SLOW_PLUGIN)
    cli, runner = _cli(monkeypatch, tmp_path, "slowish")
    result = runner.invoke(cli, ["list-components"])
    assert result.exit_code == 0 and "Warning" not in result.stderr
