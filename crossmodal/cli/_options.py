"""Option parsing shared by commands."""

from __future__ import annotations

import json
from typing import Any, Sequence

import click


def parse_key_values(pairs: Sequence[str], option: str) -> dict[str, Any]:
    """``["top_k=50", "order=natural"]`` -> ``{"top_k": 50, "order": "natural"}``.

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
