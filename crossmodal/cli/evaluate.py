"""``crossmodal evaluate``: every matching metric on a dataset, optionally beside a reference."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import RecipeError
from ..evaluation import evaluate_set, flatten, format_value, matching_evaluators
from ..registry import Registry
from ._options import parse_key_values, report_skipped


def _default_dataset(registry: Registry, plugin: str | None) -> str:
    """The target dataset of recipe ``plugin``, or the one all recipes share."""
    if plugin is not None:
        return registry.create("recipe", plugin).targets.name
    targets = {registry.create("recipe", name).targets.name for name in registry.names("recipe")}
    if len(targets) == 1:
        return targets.pop()
    raise RecipeError(
        "cannot tell which dataset reads this data; pass --dataset NAME (one of: "
        f"{', '.join(registry.names('dataset')) or 'none registered'}) or --plugin NAME"
    )


def _load(registry: Registry, dataset: str, source: Path, options: dict):
    sample_set = registry.create("dataset", dataset, source=source, **options)
    report_skipped(sample_set)
    return sample_set


@click.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--dataset", help="Registered dataset that reads SOURCE (default: the recipes' target dataset).")
@click.option("--plugin", help="Use the target dataset of this plugin's recipe.")
@click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE", help="Dataset option, e.g. mode=piano-strings.")
@click.option("--reference", type=click.Path(exists=True, path_type=Path), help="Other data to evaluate alongside.")
@click.option("--evaluator", "evaluator_names", multiple=True, help="Run only these evaluators (repeatable).")
@click.option("--batch-size", default=256, show_default=True, help="Samples per evaluation batch.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def evaluate(ctx, source, dataset, plugin, options, reference, evaluator_names, batch_size, as_json):
    """Compute every metric on SOURCE (a file, a folder of raw files or a prepared dataset)."""
    from . import plugins_of

    registry = plugins_of(ctx).registry
    dataset = dataset or _default_dataset(registry, plugin)
    dataset_options = parse_key_values(options, "--option")
    columns = {"value": _load(registry, dataset, source, dataset_options)}
    if reference is not None:
        columns["reference"] = _load(registry, dataset, reference, dataset_options)
    evaluators = matching_evaluators(registry, columns["value"].sample_kind, evaluator_names)
    results = {}
    for column, sample_set in columns.items():
        with click.progressbar(length=len(sample_set), label=f"Evaluating {column}", file=sys.stderr) as bar:
            results[column] = evaluate_set(sample_set, evaluators, batch_size, progress=bar.update)
    if as_json:
        document = {
            "dataset": dataset,
            "options": dataset_options,
            "sources": {"value": str(source), **({"reference": str(reference)} if reference else {})},
            "samples": {column: len(s) for column, s in columns.items()},
            "skipped": {column: [list(item) for item in getattr(s, "skipped", ())] for column, s in columns.items()},
            "metrics": {column: flatten(values) for column, values in results.items()},
        }
        click.echo(json.dumps(document, indent=2))
        return
    _print_table(results, {column: len(s) for column, s in columns.items()})


def _print_table(results: dict, counts: dict) -> None:
    n_tracks = max((v.numel() for values in results.values() for v in values.values()), default=1)
    header = ["METRIC"]
    for column in results:
        prefix = "" if column == "value" else "ref "
        header += [f"{prefix}track {t + 1}" for t in range(n_tracks)]
    rows = [header]
    for name in results["value"]:
        row = [name]
        for values in results.values():
            cells = [format_value(float(v)) for v in values[name].reshape(-1)]
            row += cells + [""] * (n_tracks - len(cells))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    click.echo("samples: " + ", ".join(f"{column} {n}" for column, n in counts.items()))
