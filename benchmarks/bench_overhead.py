"""The trainer's framework overhead: its updates against a minimal hand-written WGAN-GP loop.

Drives the same networks, from the same initial weights and on the same data, through the
trainer and through :class:`BareLoop` (~40 lines: draw indices and noise, generate, score,
penalty, backward, Adam step), alternating the two in one process so that load on a shared
machine hits both alike. Three measurements per pair of networks:

* ``critic_update``, ``generator_update``: one update, through
  :meth:`~crossmodal.training.trainer.Trainer.critic_step` / :meth:`~crossmodal.training.trainer.Trainer.generator_step`
  (which also copy the losses to the host and check them) against ``BareLoop``'s;
* ``loop_step``: one step of :meth:`~crossmodal.training.trainer.Trainer.train` (one critic update, one
  generator update, logging every ``log_every`` = 10 steps; blocks of ``--loop-steps`` steps per
  ``train`` call) against a critic and a generator update of ``BareLoop``.

Two pairs of networks (neither has evaluators here: evaluation is not an update's cost):

* ``jukepix``: the Jukepix generator (``PaintingEncoder``, ``BarTemporalSource``, two
  ``PianoRollBarDecoder``) and ``PhraseCritic`` on random images ``(3, 256, 256)`` and
  phrases ``(4, 96, 128, 2)`` at ``--batch`` (16);
* ``toy``: the toy plugin's networks (``tests/toy_plugin.py``) at batch 8, where an update
  takes about 3 ms and the framework's own cost shows most.

Prints JSON on stdout: per pair and measurement, the median process CPU time (seconds) of the
trainer and of the bare loop, and ``ratio = trainer / bare`` (goal: at most 1.05). CPU time with
``torch.set_num_threads(--threads)`` (1) is the stable figure on a busy machine. The default run
takes 1 to 2 minutes on two busy cores. Usage::

    PYTHONPATH=.:plugins/jukepix:tests python benchmarks/bench_overhead.py
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT / "tests", ROOT / "plugins" / "jukepix"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from crossmodal.job.build import Job, JobSpec, build_job  # noqa: E402
from crossmodal.training.config import TrainConfig  # noqa: E402
from crossmodal.job.generator import ConditionalGenerator  # noqa: E402
from crossmodal.contract.recipe import ComponentSpec, Recipe  # noqa: E402
from crossmodal.training.trainer import Trainer  # noqa: E402
from crossmodal.storage.runs import seed_everything  # noqa: E402

GP_WEIGHT = 10.0  # lambda, as the trainer's default


# -------------------------------------------------------------------------------------------
# The bare loop


class BareLoop:
    """A minimal WGAN-GP loop over ``generator``, ``critic`` and in-memory data ``(n, *shape)``."""

    def __init__(self, generator: ConditionalGenerator, critic: torch.nn.Module, conditions: torch.Tensor,
                 targets: torch.Tensor, batch: int, lr: float = 1e-4, betas: tuple[float, float] = (0.5, 0.9)):
        self.generator, self.critic, self.batch = generator, critic, batch
        self.conditions, self.targets = conditions, targets  # (n, *condition_shape), (n, *sample_shape)
        self.g_optimizer = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
        self.d_optimizer = torch.optim.Adam(critic.parameters(), lr=lr, betas=betas)

    def draw(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Conditions ``(b, *condition_shape)``, real samples ``(b, *sample_shape)``, noise ``(b, noise_dim)``."""
        c = self.conditions[torch.randint(len(self.conditions), (self.batch,))]
        x = self.targets[torch.randint(len(self.targets), (self.batch,))]
        return c, x, torch.randn(self.batch, self.generator.noise_dim)

    def critic_update(self) -> torch.Tensor:
        c, real, z = self.draw()
        with torch.no_grad():
            fake = self.generator(c, z)
        wasserstein = self.critic(c, fake).mean() - self.critic(c, real).mean()
        alpha = torch.rand(self.batch, *[1] * (real.dim() - 1))
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.critic(c, mixed).sum(), mixed, create_graph=True)
        penalty = GP_WEIGHT * ((grad.reshape(self.batch, -1).norm(2, dim=1) - 1) ** 2).mean()
        loss = wasserstein + penalty
        self.d_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.d_optimizer.step()
        return loss.detach()

    def generator_update(self) -> torch.Tensor:
        c, _, z = self.draw()
        self.critic.requires_grad_(False)
        loss = -self.critic(c, self.generator(c, z)).mean()
        self.g_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.g_optimizer.step()
        self.critic.requires_grad_(True)
        return loss.detach()


# -------------------------------------------------------------------------------------------
# The two pairs of networks, as a Job for the trainer and a BareLoop


class TensorSet:
    """A :class:`~crossmodal.contract.interfaces.SampleSet` over a tensor ``(n, *sample_shape)``."""

    sample_kind = "tensor"

    def __init__(self, data: torch.Tensor) -> None:
        self.data, self.sample_shape = data, tuple(data.shape[1:])

    def __len__(self) -> int:
        return self.data.shape[0]

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        return self.data[indices]

    def sources(self) -> list[str]:
        return [f"item {i}" for i in range(len(self))]


def jukepix_job() -> Job:
    """The Jukepix networks on random images and sparse binary phrases."""
    from jukepix.constants import IMAGE_SHAPE, N_TRACKS
    from jukepix.models import BarTemporalSource, PaintingEncoder, PhraseCritic, PianoRollBarDecoder

    generator = ConditionalGenerator(PaintingEncoder(), BarTemporalSource(),
                                     [PianoRollBarDecoder() for _ in range(N_TRACKS)])
    images = torch.rand(32, *IMAGE_SHAPE)
    phrases = (torch.rand(32, *generator.sample_shape) < 0.02).float()  # about piano data's density
    name = ComponentSpec("bench")
    recipe = Recipe("bench-jukepix", name, name, name, name, name, name, n_tracks=N_TRACKS)
    spec = JobSpec("bench-jukepix", N_TRACKS, {})
    return Job(recipe, spec, generator, PhraseCritic(), TensorSet(images), TensorSet(phrases), {}, None)


def toy_job() -> Job:
    import toy_plugin

    job = build_job(toy_plugin.toy_registry(), "toy")
    job.evaluators = {}
    return job


def pair(make_job: Callable[[], Job], batch: int) -> tuple[Trainer, BareLoop]:
    """A trainer and a bare loop over copies of the same freshly built networks and data."""
    seed_everything(0)
    job = make_job()
    bare = BareLoop(copy.deepcopy(job.generator), copy.deepcopy(job.critic),
                    job.conditions.batch(torch.arange(len(job.conditions))),
                    job.targets.batch(torch.arange(len(job.targets))), batch)
    config = TrainConfig(batch_size=batch, device="cpu", critic_updates_warmup=1, critic_updates=1,
                         eval_every=0, sample_every=0, checkpoint_every=0, write_samples=0, eval_samples=batch)
    return Trainer(job, config), bare


# -------------------------------------------------------------------------------------------
# Timing


def cpu_seconds(update: Callable[[], object]) -> float:
    start = time.process_time()
    update()
    return time.process_time() - start


def compare(
    trainer: Trainer, bare: BareLoop, repeats: int, loop_repeats: int, loop_steps: int, warmup: int
) -> dict[str, object]:
    """Median CPU seconds per update (per step for ``loop_step``), the trainer's and the bare
    loop's interleaved (which goes first alternates), and their ratio."""

    def train_block() -> None:
        trainer.train(steps=trainer.step + loop_steps)

    def bare_block() -> None:
        for _ in range(loop_steps):
            bare.critic_update()
            bare.generator_update()

    measurements = {"critic_update": (trainer.critic_step, bare.critic_update, repeats, 1),
                    "generator_update": (trainer.generator_step, bare.generator_update, repeats, 1),
                    "loop_step": (train_block, bare_block, loop_repeats, loop_steps)}
    results: dict[str, object] = {"repeats": repeats, "loop_repeats": loop_repeats, "loop_steps": loop_steps}
    for kind, (framework, hand_written, runs, per) in measurements.items():
        for _ in range(warmup):
            framework(), hand_written()
        times: dict[str, list[float]] = {"trainer": [], "bare": []}
        for repeat in range(runs):
            order = [("trainer", framework), ("bare", hand_written)]
            for name, run in order if repeat % 2 == 0 else order[::-1]:
                times[name].append(cpu_seconds(run) / per)
        trainer_s, bare_s = statistics.median(times["trainer"]), statistics.median(times["bare"])
        results[kind] = {"trainer_s": round(trainer_s, 6), "bare_s": round(bare_s, 6),
                         "ratio": round(trainer_s / bare_s, 4)}
    return results


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16, help="Jukepix batch (default 16)")
    parser.add_argument("--repeats", type=int, default=10, help="timed Jukepix updates per kind and path")
    parser.add_argument("--loop-repeats", type=int, default=8, help="timed Jukepix train() calls per path")
    parser.add_argument("--loop-steps", type=int, default=3, help="Jukepix steps per train() call")
    parser.add_argument("--toy-repeats", type=int, default=400, help="timed toy updates per kind and path")
    parser.add_argument("--toy-loop-repeats", type=int, default=40, help="timed toy train() calls per path")
    parser.add_argument("--toy-loop-steps", type=int, default=20, help="toy steps per train() call")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    report: dict[str, object] = {"threads": args.threads, "torch": torch.__version__}
    report["toy"] = {"batch": 8, **compare(*pair(toy_job, 8), args.toy_repeats, args.toy_loop_repeats,
                                           args.toy_loop_steps, warmup=20)}
    report["jukepix"] = {"batch": args.batch, **compare(*pair(jukepix_job, args.batch), args.repeats,
                                                        args.loop_repeats, args.loop_steps, warmup=1)}
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
