"""Time-to-music: CPU-seconds until a recipe's samples reach the real data's band, and stay there.

Trains a recipe (default ``jukepix``) on prepared data, evaluates ``--eval-samples`` generated
phrases every ``--eval-every`` generator updates against the same number of real ones, and prints
one JSON document: the CPU-seconds of training (this process, all threads; the evaluations included)
at the first evaluation from which every later evaluation is in the band, the largest gradient
penalty seen after the warm-up, and every evaluation's metrics. A figure of every metric over
CPU time, with the band shaded, is written next to the JSON (``--out``).

The band (per track, from the issue "Jukepix must make music"): QN >= 0.9; UPC, polyphony and
pitch range within 25% of the real values; EB <= 0.1; TD (between the tracks) within 25%.

Run from the repository root, with the data prepared once::

    crossmodal prepare music  ../shared/data/midi      --out data/piano --mode piano-hands
    crossmodal prepare images ../shared/data/paintings --out data/paintings
    python benchmarks/time_to_music.py --conditions data/paintings --targets data/piano \\
        --budget 1800 --out benchmarks/out/time-to-music

``--option decoder.steps_per_cell=1`` (component options) and ``--set lr=1e-4`` (training
options) vary one lever at a time; each is recorded in the JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
import types
from pathlib import Path
from typing import Any, Mapping

import torch

from crossmodal import hookimpl, load_plugins
from crossmodal.callbacks.base import ProgressFunctions
from crossmodal.job.build import get_recipe
from crossmodal.contract.recipe import ComponentSpec
from crossmodal.training.launch import start_training

BAND_TOLERANCE = 0.25
"""Relative distance from the real value allowed for UPC, polyphony, pitch range and TD."""

MIN_QUALIFIED_NOTE_RATE = 0.9
"""QN per track at or above which notes count as held notes."""

MAX_EMPTY_BAR_RATE = 0.1
"""EB per track at or below which the bars count as filled."""

RELATIVE_METRICS = ("upc", "polyphony", "pitch-range")
"""Per-track metrics judged by their relative distance from the real value."""


def in_band(metrics: Mapping[str, float]) -> dict[str, bool]:
    """Whether each banded metric of one evaluation is in the band (``name/trackK`` -> bool).

    :param metrics: the generated values (``qn/track0``, ``td``, ...) and the real ones under
        ``real/...``, as :meth:`crossmodal.Trainer.evaluate` returns them together.
    """
    verdict: dict[str, bool] = {}
    for key, value in metrics.items():
        if key.startswith("real/"):
            continue
        name = key.split("/")[0]
        real = metrics.get(f"real/{key}")
        if name == "qn":
            verdict[key] = value >= MIN_QUALIFIED_NOTE_RATE
        elif name == "eb":
            verdict[key] = value <= MAX_EMPTY_BAR_RATE
        elif name in (*RELATIVE_METRICS, "td") and real is not None:
            verdict[key] = math.isfinite(value) and abs(value - real) <= BAND_TOLERANCE * abs(real)
    return verdict


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _key_values(items: list[str]) -> dict[str, Any]:
    """``["key=value", ...]`` -> ``{key: value}``, each value read as JSON where it parses."""
    return {key: _parse_value(value) for key, _, value in (item.partition("=") for item in items)}


def _variant(registry, recipe_name: str, options: list[str], training: list[str]):
    """The registered recipe with ``component.key=value`` and ``key=value`` overrides applied."""
    recipe = get_recipe(registry, recipe_name)
    changes: dict[str, Any] = {}
    for item in options:
        target, _, value = item.partition("=")
        kind, _, key = target.partition(".")
        spec = changes.get(kind, getattr(recipe, kind))
        tuple_value = _parse_value(value)
        if isinstance(tuple_value, list):
            tuple_value = tuple(tuple_value)
        changes[kind] = ComponentSpec(spec.name, {**spec.options, key: tuple_value})
    return dataclasses.replace(recipe, **changes, training={**recipe.training, **_key_values(training)})


def with_information_weight(recipe, weight: float | None):
    """``recipe`` with its information term at ``weight`` (``None``: as it is).

    :raises SystemExit: the recipe has no information term.
    """
    if weight is None:
        return recipe
    terms = tuple(ComponentSpec(term.name, {**term.options, "weight": weight}) if term.name == "information" else term
                  for term in recipe.generator_losses)
    if terms == recipe.generator_losses:
        raise SystemExit(f"--information-weight: recipe {recipe.name!r} has no information term")
    return dataclasses.replace(recipe, generator_losses=terms)


def with_recipe(name: str, recipe, entries=()):
    """Every installed plugin, plus a benchmark plugin that registers ``recipe`` as ``name`` and
    ``entries``, ``(kind, name, factory)`` triples of levers under trial."""
    @hookimpl
    def crossmodal_register_components(register):
        register("recipe", name, lambda: recipe, "the recipe under test, with the benchmark's overrides")
        for kind, entry, factory in entries:
            register(kind, entry, factory, "a lever under trial in the benchmark")

    bench_plugin = types.ModuleType(f"{name}-bench")
    bench_plugin.crossmodal_register_components = crossmodal_register_components
    plugins = load_plugins(extra=[(f"{name}-bench", bench_plugin)])
    if plugins.broken:
        raise SystemExit(plugins.broken[0].message)
    return plugins


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="jukepix")
    parser.add_argument("--conditions", help="prepared paintings dataset (default: the embedded default)")
    parser.add_argument("--targets", help="prepared phrases dataset (default: the embedded default)")
    parser.add_argument("--budget", type=float, default=1800.0, help="training CPU-seconds to spend")
    parser.add_argument("--max-steps", type=int, default=100_000)
    parser.add_argument("--eval-every", type=int, default=25, help="generator updates between evaluations")
    parser.add_argument("--eval-samples", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--option", action="append", default=[], metavar="KIND.KEY=VALUE")
    parser.add_argument("--set", dest="training", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--information-weight", type=float, metavar="WEIGHT",
                        help="the weight of the recipe's information term (the painting read back)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/time-to-music"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)

    plugins = load_plugins()
    variant = _variant(plugins.registry, args.recipe, args.option, args.training)
    variant = with_information_weight(variant, args.information_weight)

    plugins = with_recipe("time-to-music", variant)
    overrides = {"steps": args.max_steps, "eval_every": 0, "sample_every": 0, "checkpoint_every": 0,
                 "eval_samples": args.eval_samples, "write_samples": 4, "log_every": 1,
                 "out_dir": str(args.out / "runs")}
    overrides.update(  # --set sample_every=N (or checkpoint_every) wins over the benchmark's own
        (key, value) for key, value in variant.training.items() if key in ("sample_every", "checkpoint_every"))
    trainer = start_training(plugins.registry, "time-to-music", condition_source=args.conditions,
                             target_source=args.targets, overrides=overrides)
    warmup = trainer.config.warmup_generator_steps
    largest_gp = {"value": 0.0, "step": None}

    def progress(step: int, total: int, losses: Mapping[str, float]) -> None:
        gp = losses.get("critic/gp", 0.0)
        if step > warmup and gp > largest_gp["value"]:
            largest_gp.update(value=gp, step=step)

    trainer.callbacks.append(ProgressFunctions(progress))
    evaluations: list[dict[str, Any]] = []
    cpu = wall = 0.0
    while cpu < args.budget and trainer.step < args.max_steps:
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        generated = trainer.train(steps=trainer.step + args.eval_every)  # evaluates at its last step
        cpu += time.process_time() - start_cpu
        wall += time.perf_counter() - start_wall
        metrics = {**generated, **(trainer.real_metrics or {})}
        verdict = in_band(metrics)
        evaluations.append({"step": trainer.step, "cpu_seconds": round(cpu, 1), "wall_seconds": round(wall, 1),
                            "losses": dict(trainer.last_losses), "metrics": metrics,
                            "in_band": all(verdict.values()), "out_of_band": sorted(k for k, v in verdict.items() if not v)})
        print(json.dumps({"step": trainer.step, "cpu": round(cpu), "gp": round(trainer.last_losses.get("critic/gp", 0), 3),
                          "out": evaluations[-1]["out_of_band"],
                          **{k: round(v, 3) for k, v in generated.items()}}), file=sys.stderr, flush=True)
    trainer.save_checkpoint()  # each train() call above ends with the piano-rolls of its last step
    trainer.close()

    reached = None
    for index in range(len(evaluations)):
        if all(e["in_band"] for e in evaluations[index:]):
            reached = evaluations[index]
            break
    result = {
        "benchmark": "time-to-music",
        "recipe": args.recipe,
        "options": args.option,
        "training": args.training,
        "information_weight": args.information_weight,
        "threads": args.threads,
        "budget_cpu_seconds": args.budget,
        "steps": trainer.step,
        "cpu_seconds": round(cpu, 1),
        "seconds_per_step_cpu": round(cpu / max(trainer.step, 1), 3),
        "time_to_music_cpu_seconds": None if reached is None else reached["cpu_seconds"],
        "time_to_music_step": None if reached is None else reached["step"],
        "largest_gp_after_warmup": largest_gp,
        "final": evaluations[-1] if evaluations else None,
        "run": str(trainer.run_dir),
        "evaluations": evaluations,
    }
    (args.out / "result.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    _plot(evaluations, args.out / "time-to-music.png")
    summary = {k: v for k, v in result.items() if k != "evaluations"}
    print(json.dumps(summary, indent=1))
    return result


def _plot(evaluations: list[dict[str, Any]], path: Path) -> None:
    """Every banded metric over training CPU-seconds, one panel each, with the band shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not evaluations:
        return
    keys = [k for k in evaluations[0]["metrics"] if not k.startswith("real/") and k.split("/")[0] in
            ("qn", "eb", "td", *RELATIVE_METRICS)]
    columns = 4
    rows = math.ceil(len(keys) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.6 * rows), squeeze=False)
    cpu = [e["cpu_seconds"] for e in evaluations]
    for axis, key in zip(axes.flat, keys):
        values = [e["metrics"][key] for e in evaluations]
        real = evaluations[0]["metrics"].get(f"real/{key}")
        name = key.split("/")[0]
        if name == "qn":
            axis.axhspan(MIN_QUALIFIED_NOTE_RATE, 1.0, color="tab:green", alpha=0.15)
        elif name == "eb":
            axis.axhspan(0.0, MAX_EMPTY_BAR_RATE, color="tab:green", alpha=0.15)
        elif real is not None:
            axis.axhspan(real * (1 - BAND_TOLERANCE), real * (1 + BAND_TOLERANCE), color="tab:green", alpha=0.15)
        if real is not None:
            axis.axhline(real, color="tab:green", linewidth=1)
        axis.plot(cpu, values, color="tab:blue")
        axis.set_title(key, fontsize=9)
        axis.set_xlabel("training CPU-seconds", fontsize=8)
    for axis in list(axes.flat)[len(keys):]:
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


if __name__ == "__main__":
    main()
