"""Option parsing shared by commands."""

from __future__ import annotations

import json
from typing import Any, Callable, Sequence

import click


def generator_source_options(command: Callable) -> Callable:
    """``--checkpoint RUN_OR_FILE`` and ``--model NAME``: where ``generate`` and ``serve`` take
    their generator from (neither: the one installed pretrained model)."""
    command = click.option(
        "--model", metavar="NAME",
        help="A pretrained model a plugin ships (`crossmodal list-components --kind pretrained-model`); "
             "the default when no --checkpoint is given, if exactly one is installed.")(command)
    return click.option("--checkpoint", type=click.Path(exists=True), metavar="RUN_OR_FILE",
                        help="A run folder (its latest checkpoint) or a checkpoint file.")(command)


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
