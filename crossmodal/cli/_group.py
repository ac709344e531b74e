"""The click group that loads plugins lazily and turns crossmodal errors into click errors."""

from __future__ import annotations

from typing import Any, Sequence

import click

from ..errors import CrossmodalError
from ..plugins import Plugins, load_plugins


class CrossmodalGroup(click.Group):
    """A click group whose plugin commands and registry are loaded on first use."""

    def __init__(self, *args: Any, extra_plugins: Sequence[tuple[str, object]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._extra_plugins = tuple(extra_plugins)
        self._plugins: Plugins | None = None

    def plugins(self, ctx: click.Context) -> Plugins:
        """Load plugins once; warn on stderr about each broken one."""
        if self._plugins is None:
            params = ctx.params
            strict = bool(params.get("strict_plugins") or params.get("debug")) or None
            self._plugins = load_plugins(strict=strict, extra=self._extra_plugins)
            for broken in self._plugins.broken:
                click.echo(f"Warning: {broken.message}", err=True)
            self._plugins.manager.hook.crossmodal_register_commands(cli=self)
        return self._plugins

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

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CrossmodalError as err:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(str(err)) from err
