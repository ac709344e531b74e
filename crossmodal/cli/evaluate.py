"""``crossmodal evaluate``: every matching metric on a dataset, optionally beside a reference.

An evaluator is plugin code, so each runs guarded: one whose factory or ``totals`` raises (or
returns something that is not ``{metric: (numerator, denominator)}`` tensors) is skipped with a
``Warning:`` line on stderr naming the evaluator, its plugin and the error, its metrics are left
out of every column (a value from only some batches would be wrong), and the other metrics are
printed; ``--json`` lists it under ``failed``. The command fails (exit code 1) only when a
failure leaves no metric to print. ``--debug`` re-raises the evaluator's own error instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

import click
import torch

from ..build import create_component
from ..errors import RecipeError
from ..recipe import ComponentSpec
from ..evaluation import evaluate_set, flatten, format_value
from ..files import shown
from ..interfaces import Evaluator
from ..registry import ComponentInfo, Registry
from ..skips import report_skipped
from ._group import plugins_of
from ._options import parse_key_values


def _default_dataset(registry: Registry, plugin: str | None) -> str:
    """The target dataset of recipe ``plugin``, or the one all recipes share."""
    if plugin is not None:
        return registry.create("recipe", plugin).targets.name
    targets = {registry.create("recipe", name).targets.name for name in registry.names("recipe")}
    if len(targets) == 1:
        return targets.pop()
    raise RecipeError(
        "cannot tell which sample set reads this data; pass --dataset NAME (one of: "
        f"{', '.join(registry.names('sample-set')) or 'none registered'}) or --plugin NAME"
    )


def _load(registry: Registry, dataset: str, source: Path, options: dict):
    spec = ComponentSpec(dataset, options)
    sample_set = create_component(registry, "sample-set", spec, "crossmodal evaluate", source=source,
                                  command_line=set(options))
    report_skipped(sample_set)
    return sample_set


class _Guarded(Evaluator):
    """One plugin's evaluator, run so that its failure is recorded instead of ending the command.

    After the first failure it returns no totals, and :attr:`metrics` names what it had
    returned before, so the caller can drop those partial values.
    """

    def __init__(self, info: ComponentInfo, evaluator: Any = None, error: BaseException | None = None) -> None:
        self.info = info
        self.inner = evaluator
        self.name = info.name
        self.sample_kind = getattr(evaluator, "sample_kind", None)
        self.error = error
        self.raise_errors = False
        self.metrics: set[str] = set()
        self._shapes: dict[str, tuple[torch.Size, torch.Size]] = {}

    def _checked(self, totals: Any) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        if not isinstance(totals, Mapping):
            raise TypeError(f"totals() returned a {type(totals).__name__}, not a dict")
        checked = {}
        for metric, pair in totals.items():
            if not (isinstance(pair, tuple) and len(pair) == 2 and all(torch.is_tensor(t) for t in pair)):
                raise TypeError(f"totals()[{metric!r}] is not a (numerator, denominator) pair of tensors")
            shapes = (pair[0].shape, pair[1].shape)
            if self._shapes.setdefault(metric, shapes) != shapes:
                raise ValueError(f"totals()[{metric!r}] changed shape between batches")
            checked[metric] = pair
        return checked

    def totals(self, samples: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        if self.error is not None:
            return {}
        try:
            totals = self._checked(self.inner.totals(samples))
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # noqa: BLE001 - recorded, reported and its metrics dropped
            if self.raise_errors:
                raise
            self.error = err
            return {}
        self.metrics.update(totals)
        return totals

    def warning(self) -> str:
        error = " ".join(f"{type(self.error).__name__}: {self.error}".split())
        return (
            f"evaluator {self.name!r} from plugin {shown(self.info.provider)} failed: {shown(error)}; "
            "its metrics are left out (run with --debug for the traceback)"
        )


def _guarded_evaluators(
    registry: Registry, sample_kind: str, names: Sequence[str], raise_errors: bool
) -> list[_Guarded]:
    """Build the named evaluators (all when ``names`` is empty) that read ``sample_kind``, guarded.

    As :func:`crossmodal.evaluation.matching_evaluators`, but a factory that fails gives a
    failed :class:`_Guarded` instead of an exception. An unknown name, or a named evaluator of
    another sample kind, is still an error; so is a contested one that was named.
    """
    evaluators = []
    for name in list(names) or registry.names("evaluator"):
        if names:
            info = registry.get("evaluator", name)  # an unknown or contested name that was asked for: an error
        else:
            info = next(e for e in registry.entries("evaluator") if e.name == name)
        try:
            registry.get("evaluator", name)  # a contested name raises, naming its plugins
            evaluator = info.factory()
            kind = evaluator.sample_kind
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # noqa: BLE001 - reported as a failed evaluator
            if raise_errors:
                raise
            evaluators.append(_Guarded(info, error=err))
            continue
        if kind == sample_kind:
            guarded = _Guarded(info, evaluator)
            guarded.raise_errors = raise_errors
            evaluators.append(guarded)
        elif names:
            raise RecipeError(f"evaluator {name!r} reads {kind!r} samples, but the data is {sample_kind!r}")
    return evaluators


@click.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--dataset", help="Registered sample-set that reads SOURCE (default: the recipes' targets).")
@click.option("--plugin", help="Use the targets sample-set of this plugin's recipe.")
@click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE", help="Dataset option, e.g. top_k=50.")
@click.option("--reference", type=click.Path(exists=True, path_type=Path), help="Other data to evaluate alongside.")
@click.option("--evaluator", "evaluator_names", multiple=True, help="Run only these evaluators (repeatable).")
@click.option("--batch-size", default=256, show_default=True, help="Samples per evaluation batch.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def evaluate(ctx, source, dataset, plugin, options, reference, evaluator_names, batch_size, as_json):
    """Compute every metric on SOURCE (a file, a folder of raw files or a prepared dataset)."""
    registry = plugins_of(ctx).registry
    debug = bool(ctx.find_root().params.get("debug"))
    dataset = dataset or _default_dataset(registry, plugin)
    dataset_options = parse_key_values(options, "--option")
    columns = {"value": _load(registry, dataset, source, dataset_options)}
    if reference is not None:
        columns["reference"] = _load(registry, dataset, reference, dataset_options)
    guarded = _guarded_evaluators(registry, columns["value"].sample_kind, evaluator_names, debug)
    running = [g for g in guarded if g.error is None]
    results = {}
    for column, sample_set in columns.items():
        with click.progressbar(length=len(sample_set), label=f"Evaluating {column}", file=sys.stderr) as bar:
            results[column] = evaluate_set(sample_set, running, batch_size, progress=bar.update)
    failed = [g for g in guarded if g.error is not None]
    for g in failed:
        click.echo(f"Warning: {g.warning()}", err=True)
        for values in results.values():
            for metric in g.metrics:
                values.pop(metric, None)
    if failed and not results["value"]:
        raise click.ClickException(
            f"no metric left to show: evaluator(s) {', '.join(repr(g.name) for g in failed)} failed; "
            "see the warnings above"
        )
    if as_json:
        document = {
            "dataset": dataset,
            "options": dataset_options,
            "sources": {"value": str(source), **({"reference": str(reference)} if reference else {})},
            "samples": {column: len(s) for column, s in columns.items()},
            "skipped": {column: [list(item) for item in getattr(s, "skipped", ())] for column, s in columns.items()},
            "metrics": {column: flatten(values) for column, values in results.items()},
            "failed": [
                {
                    "evaluator": g.name,
                    "plugin": g.info.plugin,
                    "distribution": g.info.distribution,
                    "version": g.info.version,
                    "error": shown(" ".join(f"{type(g.error).__name__}: {g.error}".split())),
                }
                for g in failed
            ],
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
