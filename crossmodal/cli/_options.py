"""Option parsing shared by commands."""

from __future__ import annotations

import json
from typing import Any, Sequence

import click

from ..files import shown


def parse_key_values(pairs: Sequence[str], option: str) -> dict[str, Any]:
    """``["mode=piano-strings", "top_k=50"]`` -> ``{"mode": "piano-strings", "top_k": 50}``.

    Values are read as JSON when they parse (numbers, booleans, lists), else kept as strings.
    """
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=option)
        try:
            options[key.strip().replace("-", "_")] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.strip().replace("-", "_")] = raw
    return options


def report_skipped(sample_set: object) -> None:
    """Print one line per file a dataset skipped, then a count by reason, to stderr.

    Names and reasons are escaped (:func:`crossmodal.files.shown`), so each skip is one line
    whatever the file is called; a reason that repeats the file's name is shortened to ``...``.
    """
    skipped = list(getattr(sample_set, "skipped", ()) or ())
    for path, reason in skipped:
        click.echo(skip_line(path, reason), err=True)
    if skipped:
        counts: dict[str, int] = {}
        for _, reason in skipped:
            key = shown(str(reason)).split(":")[0]
            counts[key] = counts.get(key, 0) + 1
        summary = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        click.echo(f"{len(skipped)} file(s) skipped: {summary}", err=True)


def skip_line(path: object, reason: object) -> str:
    """``skipped <path>: <reason>`` on one line, the path escaped and named once."""
    name, text = str(path), str(reason)
    for prefix in (f"{name}: ", f"{shown(name)}: "):  # a reason that starts by naming the file
        if name and text.startswith(prefix):
            text = text[len(prefix):]
            break
    if name and name in text:
        text = text.replace(name, "...")
    return f"skipped {shown(name)}: {shown(text)}"
