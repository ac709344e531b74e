"""``crossmodal list-components``: every registered component and where it came from.

The table lists the components, then every plugin with its load time (import, checks and
hooks, in seconds) and whether it loaded, then a ``CONFLICT`` line per name two plugins registered and a ``BROKEN``
line per plugin that failed. ``--json`` holds the same under ``components``, ``plugins``
(``load_seconds``) and ``broken`` (``load_seconds``).
"""

from __future__ import annotations

import json

import click

from crossmodal.storage.files import shown
from crossmodal.contract.registry import KINDS
from crossmodal.cli._group import plugins_of


@click.command("list-components")
@click.option("--kind", type=click.Choice(KINDS), help="Show only this kind.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def list_components(ctx: click.Context, kind: str | None, as_json: bool) -> None:
    """List registered components, the plugins that provide them, and broken plugins."""

    plugins = plugins_of(ctx)
    entries = plugins.registry.entries(kind)
    if as_json:
        document = {
            "components": [
                {
                    "kind": e.kind,
                    "name": e.name,
                    "plugin": e.plugin,
                    "distribution": e.distribution,
                    "version": e.version,
                    "description": e.description,
                }
                for e in entries
            ],
            "plugins": [
                {
                    "name": p.name,
                    "distribution": p.distribution,
                    "version": p.version,
                    "hooks": list(p.hooks),
                    "api_version": p.api_version,
                    "load_seconds": round(p.load_seconds, 4),
                }
                for p in plugins.loaded
            ],
            "broken": [
                {
                    "name": b.name,
                    "distribution": b.distribution,
                    "version": b.version,
                    "error": b.error_text,
                    "load_seconds": round(b.load_seconds, 4),
                }
                for b in plugins.broken
            ],
        }
        click.echo(json.dumps(document, indent=2))
        return
    rows = [("KIND", "NAME", "PLUGIN", "DISTRIBUTION", "DESCRIPTION")]
    for e in entries:
        dist = f"{e.distribution}=={e.version}" if e.distribution else "-"
        rows.append((e.kind, e.name, e.plugin, dist, e.description))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4])
    if len(rows) == 1:
        click.echo("(no components registered: install a plugin; see docs/plugin-guide.md)")
    if plugins.loaded or plugins.broken:
        click.echo("")
        table = [("PLUGIN", "DISTRIBUTION", "LOAD TIME", "STATUS")] + [
            (p.name, f"{shown(p.distribution)}=={shown(p.version)}" if p.distribution else "-",
             f"{p.load_seconds:.3f} s", status)
            for status, group in (("loaded", plugins.loaded), ("broken", plugins.broken))
            for p in group
        ]
        widths = [max(len(row[i]) for row in table) for i in range(3)]
        for row in table:
            click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3])
    for (kind, name), providers in plugins.registry.contested().items():
        click.echo(
            f"CONFLICT  {kind} {name!r} is registered by {' and '.join(providers)}; none of them is used "
            "until you keep only one (CROSSMODAL_LOAD_PLUGINS)"
        )
    for p in plugins.loaded:
        if p.api_version is None:
            click.echo(f"WARNING  plugin {p.name!r} declares no crossmodal_api_version; it may not fit this crossmodal")
    for b in plugins.broken:
        click.echo(f"BROKEN  {b.message}")
