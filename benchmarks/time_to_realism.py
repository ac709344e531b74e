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
from crossmodal.training.launch import start_training
from crossmodal_evaluators.realism import phrase_features, compare_features
from jukepix.datasets import phrase_dataset
from crossmodal.callbacks.base import Callback
from jukepix.models import PhraseCritic
from jukepix.voices import VoiceBarDecoder
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


class LinearLearningRateDecay(Callback):
    """A lever under trial (``--lr-decay START:END``): the learning rate falls linearly from the
    recipe's at generator step ``START`` to ``floor`` times it at ``END``, and stays there; for both
    networks, or for the generator alone (``critic=False``, ``--critic-keeps-lr``)."""

    def __init__(self, start: int, end: int, floor: float = 0.1, critic: bool = True) -> None:
        self.start, self.end, self.floor, self.critic = start, end, floor, critic

    def on_step_end(self, trainer, last: int) -> None:
        done = min(max(trainer.step - self.start, 0) / max(self.end - self.start, 1), 1.0)
        scale = 1.0 - (1.0 - self.floor) * done
        optimizers = (trainer.state.generator_optimizer, trainer.state.critic_optimizer)
        for optimizer in optimizers[:2 if self.critic else 1]:
            for group in optimizer.param_groups:
                group["lr"] = trainer.config.lr * scale


class OnsetRateMatching(torch.nn.Module):
    """A lever under trial (``--onset-matching WEIGHT``), a generator loss term: the squared
    relative difference between the generated and the real batch's mean count of note onsets per
    phrase, per track (dimensionless, 0 when they match); against phrases that thin out into held
    notes and rests. An onset is a cell that sounds where the step before it did not."""

    def __init__(self, data) -> None:
        super().__init__()

    @staticmethod
    def onsets(phrases: torch.Tensor) -> torch.Tensor:
        """Mean onsets per phrase of ``(B, bars, steps, pitches, tracks)`` in [0, 1]: ``(tracks,)``."""
        cells = phrases.flatten(1, 2)  # (B, time, pitches, tracks)
        starts = torch.relu(cells[:, 1:] - cells[:, :-1]).sum(dim=(1, 2)) + cells[:, 0].sum(dim=1)
        return starts.mean(dim=0)

    def forward(self, context) -> torch.Tensor:
        fake = context["fake"]
        real = self.onsets(context["real"].to(fake.dtype))
        return ((self.onsets(fake) - real) / real.clamp_min(1.0)).pow(2).mean()


class RhythmSeeingCritic(PhraseCritic):
    """A lever under trial (``--rhythm-critic``): the phrase critic whose head also gets each bar's
    rhythm, per track, computed from the sample itself (so the gradient penalty stays per sample):
    onsets per bar / 8, the share of steps where something sounds, and notes sounding per step / 2
    (a chorale hand: about 1, 1 and 1). Against phrases that thin out into held notes and rests,
    which the critic's learned features let pass."""

    RHYTHM_FEATURES = 3

    def __init__(self, **options) -> None:
        super().__init__(**options)
        bars, tracks = self.sample_shape[0], self.sample_shape[-1]
        first = self.head[0]
        self.head = _HeadWithExtra(first.in_features, first.out_features, bars * tracks * self.RHYTHM_FEATURES)

    @staticmethod
    def rhythm(sample: torch.Tensor) -> torch.Tensor:
        """``(B, bars, steps, pitches, tracks)`` in [0, 1] -> ``(B, bars * tracks * 3)``."""
        starts = torch.relu(sample[:, :, 1:] - sample[:, :, :-1]).sum(dim=(2, 3)) + sample[:, :, 0].sum(dim=2)
        sounding = (1 - torch.prod(1 - sample, dim=3)).mean(dim=2)  # (B, bars, tracks)
        voices = sample.sum(dim=3).mean(dim=2)
        return torch.stack([starts / 8, sounding, voices / 2], dim=-1).flatten(1)

    def forward(self, condition: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        self.head.extra = self.rhythm(sample)
        try:
            return super().forward(condition, sample)
        finally:
            self.head.extra = None


class _HeadWithExtra(torch.nn.Module):
    """The critic's two-layer head, fed the phrase and image vectors plus ``extra`` (set per call)."""

    def __init__(self, inputs: int, hidden: int, extra: int) -> None:
        super().__init__()
        self.extra: torch.Tensor | None = None
        self.layers = torch.nn.Sequential(torch.nn.Linear(inputs + extra, hidden), torch.nn.LeakyReLU(0.2),
                                          torch.nn.Linear(hidden, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(torch.cat([features, self.extra], dim=1))


class KeyBiasedVoiceDecoder(VoiceBarDecoder):
    """A lever under trial (``--key-bias``): the voice decoder with one more linear layer from the
    code to 12 pitch-class biases per bar, added to every voice's and cell's logit of each pitch
    of that class, so a bar can favour one key's notes with a single choice."""

    def __init__(self, **options) -> None:
        super().__init__(**options)
        low = self.pitch_padding[0]
        pitches = self.tokens - 2
        classes = torch.zeros(pitches + 2, 12)
        classes[torch.arange(pitches), (low + torch.arange(pitches)) % 12] = 1.0  # rest, hold: no class
        self.register_buffer("pitch_classes", classes)  # (tokens, 12)
        self.key = torch.nn.Linear(self.input_dim, 12)

    def logits(self, code: torch.Tensor) -> torch.Tensor:
        bias = self.key(code) @ self.pitch_classes.T  # (N, tokens)
        return super().logits(code) + bias[:, None, None, :]


def _lazy_penalty(every: int) -> None:
    """A lever under trial (``--penalty-every K``): the gradient penalty is computed on one critic
    update in ``K``, at ``K`` times its weight, and is 0 (not computed) on the others."""
    import crossmodal.training.updates as updates

    full, calls = updates.gradient_penalty, iter(range(10**12))

    def penalty(critic, condition, real, fake, weight=10.0, *, generator=None):
        if next(calls) % every:
            return real.new_zeros((), dtype=torch.float32)
        return full(critic, condition, real, fake, weight * every, generator=generator)

    updates.gradient_penalty = penalty


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
    parser.add_argument("--lr-decay", metavar="START:END",
                        help="learning rate falls linearly to a tenth from generator step START to END")
    parser.add_argument("--onset-matching", type=float, metavar="WEIGHT",
                        help="add a generator loss term matching the onsets per phrase to the real batch's")
    parser.add_argument("--rhythm-critic", action="store_true",
                        help="the critic's head also gets each bar's onsets, sounding share and voices per track")
    parser.add_argument("--key-bias", action="store_true",
                        help="the voice decoder also gets 12 pitch-class biases per bar from its code")
    parser.add_argument("--critic-keeps-lr", action="store_true",
                        help="the learning-rate decay lowers the generator's rate only; the critic's stays at lr")
    parser.add_argument("--penalty-every", type=int, metavar="K",
                        help="compute the gradient penalty on one critic update in K, at K times its weight")
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
    if args.onset_matching is not None:
        entries.append(("loss-term", "onset-matching", OnsetRateMatching))
        term = ComponentSpec("onset-matching", {"weight": args.onset_matching})
        variant = dataclasses.replace(variant, generator_losses=(*variant.generator_losses, term))
    if args.rhythm_critic:
        entries.append(("critic", "phrase-critic-rhythm", RhythmSeeingCritic))
        variant = dataclasses.replace(variant, critic=ComponentSpec("phrase-critic-rhythm", variant.critic.options))
    if args.key_bias:
        entries.append(("decoder", "voice-bar-key", KeyBiasedVoiceDecoder))
        variant = dataclasses.replace(variant, decoder=ComponentSpec("voice-bar-key", variant.decoder.options))
    plugins = with_recipe("time-to-realism", variant, entries)
    overrides = {"steps": args.max_steps, "eval_every": 0, "sample_every": 0, "checkpoint_every": 0,
                 "write_samples": 4, "log_every": 1, "out_dir": str(args.out / "runs")}
    if args.penalty_every:
        _lazy_penalty(args.penalty_every)
    trainer = start_training(plugins.registry, "time-to-realism", overrides=overrides)
    if args.lr_decay:
        start, _, end = args.lr_decay.partition(":")
        trainer.callbacks.append(LinearLearningRateDecay(int(start), int(end), critic=not args.critic_keeps_lr))
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
        "lr_decay": args.lr_decay,
        "onset_matching": args.onset_matching,
        "rhythm_critic": args.rhythm_critic,
        "key_bias": args.key_bias,
        "critic_keeps_lr": args.critic_keeps_lr,
        "penalty_every": args.penalty_every,
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
