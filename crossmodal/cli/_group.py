"""The click group that loads plugins lazily and turns crossmodal errors into click errors, and
:func:`plugins_of`, through which a command reaches the loaded plugins.

Each plugin's ``crossmodal_register_commands`` runs alone, through pluggy
(:func:`crossmodal.contract.plugins.call_plugin_hook`). A plugin whose implementation raises (or calls
``sys.exit()``), or which replaces or removes a command it does not own (a core command such as
``train``, or another plugin's), is reported broken like one that fails to import: the commands
it added are taken back, its registrations dropped, and the other plugins keep working.

The core commands are :class:`LazyCommand` placeholders: their modules (which may import torch)
are imported when a command is resolved, so ``crossmodal --version`` and the command list of
``crossmodal --help`` import no torch. Plugins may add placeholders of their own, to the top-level
group or to ``prepare`` (both are :class:`LazyGroup` instances).

Ctrl-C (:class:`KeyboardInterrupt`) that no command handles ends the command with one line and
exit status 130 (128 + SIGINT, what shells report for a process SIGINT ended), not click's
``Aborted!`` and 1 (:func:`ctrl_c_exits_130`).
"""

from __future__ import annotations

import copy
import importlib
import sys
import time
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import click

from crossmodal.errors import CrossmodalError, PluginLoadError
from crossmodal.storage.files import shown
from crossmodal.contract.plugins import LOAD_PLUGINS_ENV, SLOW_PLUGIN_ENV, Plugins, call_plugin_hook, load_plugins, slow_plugin_seconds

CORE_OWNER = "the crossmodal core"
"""Owner shown for the commands the core defines (``list-components``, ``train``...)."""

_Snapshot = list[tuple[str, click.Group, dict[str, click.Command]]]

INTERRUPTED_EXIT = 130
"""Exit status after Ctrl-C: 128 + SIGINT."""


@contextmanager
def ctrl_c_exits_130() -> Iterator[None]:
    """Turn :class:`KeyboardInterrupt` into ``Interrupted`` on stderr and exit status 130
    (on a terminal the line starts below the ``^C`` the terminal echoed)."""
    try:
        yield
    except KeyboardInterrupt:
        below_echo = "\n" if sys.stderr.isatty() else ""
        click.echo(f"{below_echo}Interrupted", err=True)
        raise click.exceptions.Exit(INTERRUPTED_EXIT) from None


def _snapshot(group: click.Group, path: str) -> _Snapshot:
    """Every group under ``group`` (itself included) with a copy of its commands."""
    snapshot = [(path, group, dict(group.commands))]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            snapshot += _snapshot(command, f"{path} {name}")
    return snapshot


def _restore(snapshot: _Snapshot) -> None:
    """Put every group's commands back as they were (new groups vanish with their parents' entries)."""
    for _, group, commands in snapshot:
        group.commands = dict(commands)


class LazyCommand(click.Command):
    """Stands for the command at ``target`` (``"module:attribute"``) until it is resolved.

    The placeholder keeps its place in its group's ``commands`` (so plugins see the core command
    names, and replacing one is refused as before); :meth:`LazyGroup.get_command` hands out
    :meth:`resolve`, the real command, except while ``--help`` lists the commands, where
    ``summary`` (the first paragraph of the real command's help) is enough. A plugin adds its own
    commands this way (``cli.commands["prepare"].add_command(LazyCommand("music",
    "my_plugin.commands:music", "Cut MIDI files..."))``) so that ``--help`` imports none of them.
    ``copy=True`` resolves to a deep copy owned by this placeholder (for a command that plugins
    modify, like ``generate`` with :func:`~crossmodal.cli.add_condition_alias`).
    """

    def __init__(self, name: str, target: str, summary: str, *, copy: bool = False) -> None:
        super().__init__(name, help=summary)
        self.target = target
        self._copy = copy
        self._command: click.Command | None = None

    def resolve(self) -> click.Command:
        """The real command (imported, and copied if asked, once per placeholder)."""
        if self._command is None:
            module, _, attribute = self.target.partition(":")
            command = getattr(importlib.import_module(module), attribute)
            self._command = copy.deepcopy(command) if self._copy else command
        return self._command

    # whoever reaches the placeholder itself (not through get_command) still gets the real command
    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        return self.resolve().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        return self.resolve().invoke(ctx)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve().main(*args, **kwargs)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        return self.resolve().get_params(ctx)

    def get_help(self, ctx: click.Context) -> str:
        return self.resolve().get_help(ctx)

    def get_usage(self, ctx: click.Context) -> str:
        return self.resolve().get_usage(ctx)

    def to_info_dict(self, ctx: click.Context) -> dict[str, Any]:
        return self.resolve().to_info_dict(ctx)


def resolved(command: click.Command) -> click.Command:
    """``command``, or the real command a :class:`LazyCommand` stands for."""
    return command.resolve() if isinstance(command, LazyCommand) else command


def plugins_of(ctx: click.Context) -> Plugins:
    """The plugin set of the running command line (loaded on first use)."""
    root = ctx.find_root()
    return root.command.plugins(root)  # type: ignore[attr-defined]


class LazyGroup(click.Group):
    """A click group that resolves its :class:`LazyCommand` placeholders when they are looked up.

    While ``--help`` lists the commands it hands out the placeholders themselves, whose summaries
    are enough, so listing imports no command module.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listing = False

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None or self._listing:
            return command
        return resolved(command)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, from the placeholders' summaries (imports no command module)."""
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False


class CrossmodalGroup(LazyGroup):
    """A click group whose plugin commands and registry are loaded on first use."""

    def __init__(self, *args: Any, extra_plugins: Sequence[tuple[str, object]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._extra_plugins = tuple(extra_plugins)
        self._plugins: Plugins | None = None

    def plugins(self, ctx: click.Context) -> Plugins:
        """Load plugins and their commands once; warn on stderr about broken and slow ones."""
        if self._plugins is None:
            params = ctx.params
            strict = bool(params.get("strict_plugins") or params.get("debug")) or None
            plugins = load_plugins(strict=strict, extra=self._extra_plugins)
            self._register_commands(plugins)
            self._plugins = plugins
            for broken in plugins.broken:
                click.echo(f"Warning: {broken.message}", err=True)
            threshold = slow_plugin_seconds()
            for slow in plugins.slow(threshold):
                click.echo(
                    f"Warning: plugin {slow.owner} took {slow.load_seconds:.2f} s to load, more than "
                    f"{threshold:g} s ({SLOW_PLUGIN_ENV}); every command waits for it. Skip it with "
                    f"{LOAD_PLUGINS_ENV}=<the plugins you want>.",
                    err=True,
                )
        return self._plugins

    def _register_commands(self, plugins: Plugins) -> None:
        """Call each loaded plugin's ``crossmodal_register_commands`` alone; refuse what breaks."""
        owners = {f"{path} {name}".strip(): CORE_OWNER for path, _, commands in _snapshot(self, "")
                  for name in commands}
        hook = "crossmodal_register_commands"
        for plugin in list(plugins.loaded):
            if not getattr(plugins.manager.hook, hook).get_hookimpls():
                break
            before = _snapshot(self, "")
            start = time.perf_counter()
            try:
                call_plugin_hook(plugins.manager, hook, plugin.name, cli=self)
                self._check_clobbers(before, owners, plugin.owner)
            except KeyboardInterrupt:
                raise
            except BaseException as err:  # noqa: BLE001 - recorded as a broken plugin (SystemExit too)
                _restore(before)
                plugins.mark_broken(plugin.name, err, time.perf_counter() - start)  # raises when strict
                continue
            plugins.add_load_time(plugin.name, time.perf_counter() - start)
            for path, _, commands in _snapshot(self, ""):
                for name in commands:
                    owners.setdefault(f"{path} {name}".strip(), plugin.owner)

    @staticmethod
    def _check_clobbers(before: _Snapshot, owners: dict[str, str], plugin: str) -> None:
        """Raise when a command that existed before the hook ran was replaced or removed."""
        for path, group, commands in before:
            for name, command in commands.items():
                if group.commands.get(name) is not command:
                    full = f"{path} {name}".strip()
                    what = "replaced" if name in group.commands else "removed"
                    raise PluginLoadError(
                        f"crossmodal_register_commands {what} the command `crossmodal {shown(full)}`, "
                        f"which belongs to {owners.get(full, 'another plugin')}; a plugin adds commands "
                        "under names of its own"
                    )

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Command names, leaving out groups (like ``prepare``) that no plugin filled."""
        self._load_for_commands(ctx)
        return [
            name
            for name in super().list_commands(ctx)
            if not isinstance(self.commands[name], click.Group) or self.commands[name].commands
        ]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load_for_commands(ctx)
        return super().get_command(ctx, cmd_name)

    def _load_for_commands(self, ctx: click.Context) -> None:
        try:
            self.plugins(ctx)
        except CrossmodalError as err:
            if ctx.params.get("debug"):
                raise  # the traceback, with the plugin's own exception as its cause
            raise click.ClickException(str(err)) from err

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with ctrl_c_exits_130():  # --help loads the plugins while the arguments are parsed
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with ctrl_c_exits_130():
            try:
                return super().invoke(ctx)
            except CrossmodalError as err:
                if ctx.params.get("debug"):
                    raise
                raise click.ClickException(str(err)) from err
