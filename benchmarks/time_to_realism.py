"""Time-to-realism: CPU-seconds until a recipe's phrases reach a realism goal against held-out music, and stay.

Trains a recipe (default ``jukepix``) on the *train* part of its phrases (``split=train``: whole
source files held out, :func:`jukepix.datasets.split_by_source`) and, every ``--eval-every``
generator updates, generates ``--seeds`` phrases for each condition and measures their realism
against the *validation* part (:func:`crossmodal_evaluators.realism.realism`: the mean overlap of
per-phrase feature distributions, with the ceiling from two halves of the held-out music, split by
source file). Prints one JSON document: training CPU-seconds (this process, all threads,
evaluations excluded) at the first evaluation from which every later one is at or above
``--goal``, and every evaluation's realism and per-feature overlaps. A figure of realism and each
feature over CPU-seconds is written next to it (``--out``).

Run from the repository root (the embedded default data needs no preparation)::

    python benchmarks/time_to_realism.py --budget 1200 --out benchmarks/out/time-to-realism
    python benchmarks/time_to_realism.py --decoder-from jukepix-folk --budget 1200 --out benchmarks/out/roll

``--decoder-from RECIPE`` takes another recipe's bar decoder (``jukepix-folk``: the multi-hot
roll, ``pianoroll-bar``, with the music options), ``--option decoder.KEY=VALUE`` and ``--set
KEY=VALUE`` vary one lever at a time, as in ``time_to_music.py``; each is recorded in the JSON.
``--conditions PATH`` trains on other paintings than the 10 bundled ones (the realism
evaluations then generate ``--seeds`` phrases for each of them). ``--conditioning PAINTINGS``
saves a checkpoint every ``--conditioning-every`` steps and measures it on held-out paintings
as ``crossmodal evaluate --conditioning`` does (identifiability, distance ratio, the three
couplings' rho). ``--resume CHECKPOINT`` continues a run of this benchmark (give its levers
again). Under trial: ``--correspondence WEIGHT`` (:class:`Correspondence`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch

from crossmodal import load_plugins
from crossmodal.job.build import get_recipe
from crossmodal.contract.recipe import ComponentSpec
from crossmodal.data.training_data import standardize
from crossmodal.evaluation.conditioning import conditioning_report
from crossmodal.storage.checkpoint import load_checkpoint
from crossmodal.training.launch import resume_training, start_training
from crossmodal_evaluators.realism import phrase_features, compare_features
from jukepix.datasets import phrase_dataset
from jukepix.constants import N_OCTAVES, SEMITONES_PER_OCTAVE
from jukepix.descriptors import mode_score
from jukepix.recipes import PAIRING
from time_to_music import _variant, with_information_weight, with_recipe


@torch.no_grad()
def generate(trainer, conditions: torch.Tensor, seeds: int) -> torch.Tensor:
    """``seeds`` phrases for each condition, noise from seeds ``0..seeds-1``: float ``(C * seeds, ...)``,
    from the generator that evaluations use (the weight average when ``generator_average`` is on)."""
    generator = trainer.state.sampling_generator
    was_training = generator.training
    generator.eval()
    phrases = []
    for seed in range(seeds):
        noise = generator.sample_noise(len(conditions), torch.Generator().manual_seed(seed))
        phrases.append(generator(conditions.to(trainer.device), noise.to(trainer.device)).float().cpu())
    generator.train(was_training)
    return torch.cat(phrases)


COUPLINGS = tuple((painting, phrase) for painting, phrase, _ in PAIRING.options["couplings"])
"""The pairing's three correspondences (painting descriptor, phrase summary; all positive), in the
column order of :class:`Correspondence`'s summaries: mean pitch, note density, mode."""


class Correspondence(torch.nn.Module):
    """A lever under trial (``--correspondence WEIGHT``), a generator loss term: minus the sum,
    over :data:`COUPLINGS`, of Pearson's r across the batch between the painting's standardised
    descriptor and a differentiable summary of its generated phrase ``(B, 4, 96, 128, 2)`` in
    [0, 1]: mean pitch (MIDI number, each cell weighing by its value), note density (cells
    switching on, per phrase) and mode (the best major minus the best minor key profile's r with the
    pitch-class profile, as :func:`jukepix.descriptors.mode_score`). In [-3, 3]; -3 when every
    correspondence holds exactly. Where the information term lets any head read the painting back
    (rhythm, say), this fixes which phrase property each painting property must move."""

    def __init__(self, data) -> None:
        super().__init__()
        values = data.condition_descriptors
        targets = standardize(torch.stack([values[name] for name, _ in COUPLINGS], dim=1))  # (N, 3)
        self.register_buffer("targets", targets.float(), persistent=False)

    def forward(self, context) -> torch.Tensor:
        fake = context["fake"].float()  # (B, 4, 96, 128, 2)
        batch, pitches = fake.shape[0], fake.shape[3]
        timeline = fake.reshape(batch, -1, pitches, fake.shape[4])  # (B, 384, 128, 2)
        per_pitch = timeline.sum(dim=(1, 3))  # (B, 128): cells on per pitch
        midi = torch.arange(pitches, dtype=per_pitch.dtype)
        mean_pitch = (per_pitch * midi).sum(dim=1) / per_pitch.sum(dim=1).clamp_min(1e-6)
        starts = torch.relu(timeline[:, 1:] - timeline[:, :-1]).sum(dim=(1, 2, 3)) + timeline[:, 0].sum(dim=(1, 2))
        padded = torch.nn.functional.pad(per_pitch, (0, N_OCTAVES * SEMITONES_PER_OCTAVE - pitches))
        classes = padded.reshape(batch, N_OCTAVES, SEMITONES_PER_OCTAVE).sum(dim=1)  # (B, 12)
        mode = torch.nan_to_num(mode_score(classes)).float()  # (B,); 0 for a silent phrase
        summaries = torch.stack([mean_pitch, starts, mode], dim=1)  # (B, 3)
        painting = self.targets[context["condition_indices"].to(self.targets.device)]  # (B, 3)
        return -sum(_pearson(painting[:, k], summaries[:, k]) for k in range(len(COUPLINGS)))


def _pearson(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pearson's r of two ``(B,)`` vectors (0 when either is constant)."""
    x, y = x - x.mean(), y - y.mean()
    return (x * y).sum() / (x.pow(2).sum().sqrt() * y.pow(2).sum().sqrt()).clamp_min(1e-8)


def conditioning(trainer, registry, held_out: Path, seeds: int) -> dict[str, Any]:
    """Save a checkpoint and measure it on the held-out paintings (``crossmodal evaluate
    --conditioning``): identifiability, distance ratio and the three correspondences' rho."""
    document = load_checkpoint(trainer.save_checkpoint())
    report = conditioning_report(registry, document, held_out, seeds=seeds).to_dict()
    figures = report["columns"]["checkpoint"]
    agreement = figures["descriptor_agreement"]
    return {"identifiability": figures["identifiability"]["accuracy"], "distance_ratio": figures["distance_ratio"],
            "critical_rho": report["critical_rho"],
            **{f"{painting}~{phrase}": agreement[painting][phrase] for painting, phrase in COUPLINGS}}


def reached(evaluations: list[dict[str, Any]], goal: float) -> dict[str, Any] | None:
    """The first evaluation from which every later one has realism >= ``goal`` (None: never)."""
    for index in range(len(evaluations)):
        if all(e["realism"] >= goal for e in evaluations[index:]):
            return evaluations[index]
    return None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="jukepix")
    parser.add_argument("--decoder-from", metavar="RECIPE",
                        help="take the bar decoder (name and options) of another recipe, e.g. jukepix-folk's multi-hot roll")
    parser.add_argument("--budget", type=float, default=1200.0, help="training CPU-seconds to spend")
    parser.add_argument("--max-steps", type=int, default=100_000)
    parser.add_argument("--eval-every", type=int, default=25, help="generator updates between evaluations")
    parser.add_argument("--seeds", type=int, default=16, help="phrases generated per condition")
    parser.add_argument("--goal", type=float, default=0.6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--option", action="append", default=[], metavar="KIND.KEY=VALUE")
    parser.add_argument("--set", dest="training", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--information-weight", type=float, metavar="WEIGHT",
                        help="the weight of the recipe's information term (the painting read back)")
    parser.add_argument("--correspondence", type=float, metavar="WEIGHT",
                        help="add a generator loss term: minus the batch correlation of each paired painting and phrase descriptor")
    parser.add_argument("--conditioning", type=Path, metavar="PAINTINGS",
                        help="held-out paintings: save a checkpoint and measure conditioning every --conditioning-every steps")
    parser.add_argument("--conditioning-every", type=int, default=50)
    parser.add_argument("--conditioning-seeds", type=int, default=16, help="phrases per held-out painting")
    parser.add_argument("--conditions", metavar="PATH", help="train on these conditions (default: the embedded ones)")
    parser.add_argument("--resume", type=Path, metavar="CHECKPOINT",
                        help="continue a run of this benchmark (give the levers it was started with again)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/time-to-realism"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)

    plugins = load_plugins()
    variant = _variant(plugins.registry, args.recipe, args.option, args.training)
    targets = ComponentSpec(variant.targets.name, {**variant.targets.options, "split": "train"})
    variant = with_information_weight(dataclasses.replace(variant, targets=targets), args.information_weight)
    if args.decoder_from:
        variant = dataclasses.replace(variant, decoder=get_recipe(plugins.registry, args.decoder_from).decoder)

    entries = []
    if args.correspondence is not None:
        entries.append(("loss-term", "correspondence", Correspondence))
        term = ComponentSpec("correspondence", {"weight": args.correspondence})
        variant = dataclasses.replace(variant, generator_losses=(*variant.generator_losses, term))
    plugins = with_recipe("time-to-realism", variant, entries)
    overrides = {"steps": args.max_steps, "eval_every": 0, "sample_every": 0, "checkpoint_every": 0,
                 "write_samples": 4, "log_every": 1, "out_dir": str(args.out / "runs")}
    if args.resume:
        trainer = resume_training(plugins.registry, args.resume, overrides={"steps": args.max_steps})
    else:
        trainer = start_training(plugins.registry, "time-to-realism", condition_source=args.conditions,
                                 overrides=overrides)
    held_out = phrase_dataset(mode=targets.options.get("mode", "piano-hands"), split="validation")
    real = held_out.batch(torch.arange(len(held_out))).numpy()
    real_features = phrase_features(real)
    real_groups = [row["source"] for row in held_out.manifest]
    conditions = trainer.job.conditions.batch(torch.arange(len(trainer.job.conditions)))

    evaluations: list[dict[str, Any]] = []
    cpu = 0.0
    while cpu < args.budget and trainer.step < args.max_steps:
        start = time.process_time()
        trainer.train(steps=trainer.step + args.eval_every)
        cpu += time.process_time() - start
        report = compare_features(phrase_features(generate(trainer, conditions, args.seeds).numpy()),
                                  real_features, groups=real_groups)
        features = {f"{row.feature}/track{row.track}": round(row.overlap, 3) for row in report.rows}
        evaluations.append({"step": trainer.step, "cpu_seconds": round(cpu, 1), "realism": round(report.realism, 4),
                            "ceiling": round(report.ceiling, 4), "features": features})
        if args.conditioning and trainer.step % args.conditioning_every == 0:
            evaluations[-1]["conditioning"] = conditioning(trainer, plugins.registry, args.conditioning,
                                                           args.conditioning_seeds)
        print(json.dumps({k: v for k, v in evaluations[-1].items() if k != "features"}), file=sys.stderr, flush=True)
    trainer.save_checkpoint()
    trainer.close()

    first = reached(evaluations, args.goal)
    result = {
        "benchmark": "time-to-realism",
        "recipe": args.recipe,
        "decoder": {"name": variant.decoder.name, "options": dict(variant.decoder.options)},
        "options": args.option,
        "training": args.training,
        "information_weight": args.information_weight,
        "correspondence": args.correspondence,
        "conditions": args.conditions,
        "resumed_from": None if args.resume is None else str(args.resume),
        "threads": args.threads,
        "goal": args.goal,
        "generated_per_evaluation": len(conditions) * args.seeds,
        "held_out_phrases": len(held_out),
        "budget_cpu_seconds": args.budget,
        "steps": trainer.step,
        "cpu_seconds": round(cpu, 1),
        "time_to_realism_cpu_seconds": None if first is None else first["cpu_seconds"],
        "time_to_realism_step": None if first is None else first["step"],
        "best": max(evaluations, key=lambda e: e["realism"]) if evaluations else None,
        "final": evaluations[-1] if evaluations else None,
        "run": str(trainer.run_dir),
        "evaluations": evaluations,
    }
    (args.out / "result.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    _plot(evaluations, args.goal, args.out / "time-to-realism.png")
    print(json.dumps({k: v for k, v in result.items() if k != "evaluations"}, indent=1))
    return result


def _plot(evaluations: list[dict[str, Any]], goal: float, path: Path) -> None:
    """Realism (with its ceiling and the goal) and every feature's overlap over training CPU-seconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not evaluations:
        return
    cpu = [e["cpu_seconds"] for e in evaluations]
    names = list(evaluations[0]["features"])
    columns = 4
    rows = 1 + math.ceil(len(names) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.6 * rows), squeeze=False)
    top = axes[0, 0]
    top.plot(cpu, [e["realism"] for e in evaluations], label="realism")
    top.plot(cpu, [e["ceiling"] for e in evaluations], "--", label="ceiling (real vs real)")
    top.axhline(goal, color="grey", linewidth=0.8, label=f"goal {goal}")
    top.set_ylim(0, 1)
    top.set_title("realism (mean overlap)")
    top.legend(fontsize=7)
    for axis in axes[0, 1:]:
        axis.axis("off")
    for index, name in enumerate(names):
        axis = axes[1 + index // columns, index % columns]
        axis.plot(cpu, [e["features"][name] for e in evaluations])
        axis.set_ylim(0, 1)
        axis.set_title(name, fontsize=8)
    for index in range(len(names), (rows - 1) * columns):
        axes[1 + index // columns, index % columns].axis("off")
    for axis in axes[-1]:
        axis.set_xlabel("training CPU-seconds")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


if __name__ == "__main__":
    main()
