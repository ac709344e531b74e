"""Time Jukepix's networks on this machine and print the results as JSON on stdout.

Measures, per configuration (fp32; bf16 autocast + channels_last):

* ``critic_step_s``: one WGAN-GP critic step: critic(real) + critic(fake.detach()) + gradient
  penalty (critic on interpolates, ``autograd.grad(create_graph=True)``,
  ``10 * (||grad|| - 1)^2``) + backward + Adam step. The fake batch is generated beforehand.
* ``fake_batch_s``: generating that fake batch without gradients (part of a real critic step).
* ``generator_step_s``: generate + critic(fake) + backward + Adam step.
* ``peak_rss_mb``: the process's peak resident memory (``resource.getrusage``); each
  configuration runs in its own subprocess so the peaks are separate.
* ``phrase_latency_ms``: one phrase from one painting, eval mode, no gradients, warm.

Times are wall-clock medians (``*_s``), minima (``*_min_s``) and process CPU-time medians
(``*_cpu_s``) over ``--steps`` timed steps after ``--warmup`` untimed ones, with
``torch.set_num_threads(--threads)``. On a shared machine wall times swing with other processes'
load (reported); ``--threads 1`` CPU times are the stable figure to compare designs by. On a CPU
without native bf16 (``"native_bf16": false``, e.g. AVX2 only) bf16 autocast runs about ten times
slower than fp32 and batch 64 takes minutes: pass ``--no-bf16`` there. Usage::

    PYTHONPATH=.:plugins/jukepix python benchmarks/bench_models.py --batch 64 --batch 16
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext

import torch

from jukepix.constants import BARS_PER_PHRASE, IMAGE_SHAPE, N_TRACKS, PHRASE_SHAPE
from jukepix.models import bar_temporal, painting_encoder, phrase_critic, pianoroll_bar_decoder

GP_WEIGHT = 10.0
"""Gradient-penalty weight lambda (Gulrajani et al. 2017)."""

NOTE_DENSITY = 0.02
"""Fraction of cells on in the random "real" phrases (about what piano data has)."""


class Generator(torch.nn.Module):
    """G(i, z) = G_bar(G_temporal(z) ++ F(i)) with one bar generator per track.

    ``forward(images (B, 3, 256, 256), noise (B, noise_dim)) -> (B, 4, 96, 128, 2)`` in (0, 1).
    """

    def __init__(self) -> None:
        super().__init__()
        self.encoder = painting_encoder()
        self.temporal = bar_temporal()
        self.decoders = torch.nn.ModuleList(pianoroll_bar_decoder() for _ in range(N_TRACKS))

    def forward(self, images: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        batch = images.shape[0]
        feature = self.encoder(images)  # (B, F)
        per_bar = self.temporal(noise)  # (B, bars, T)
        code = torch.cat([feature[:, None].expand(-1, BARS_PER_PHRASE, -1), per_bar], dim=2)
        code = code.flatten(0, 1)  # (B * bars, F + T)
        tracks = [decoder(code).reshape(batch, *PHRASE_SHAPE[:-1]) for decoder in self.decoders]
        return torch.stack(tracks, dim=-1)  # (B, bars, time, pitch, tracks)


def gradient_penalty(critic, images, real, fake) -> torch.Tensor:
    """``mean((||d critic / d x||_2 - 1)^2)`` at random interpolates x of real and fake phrases."""
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)))
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(images, mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def _times(fn, warmup: int, steps: int) -> tuple[list[float], list[float]]:
    """Wall-clock and process CPU seconds of each of ``steps`` calls of ``fn`` after ``warmup``
    untimed calls. With one thread, CPU time is the compute time even on a busy machine."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def run_one(batch: int, bf16: bool, warmup: int, steps: int) -> dict:
    """Measure one configuration in this process and return its figures."""
    torch.manual_seed(0)
    generator, critic = Generator(), phrase_critic()
    memory_format = torch.channels_last if bf16 else torch.contiguous_format
    generator.to(memory_format=memory_format)
    critic.to(memory_format=memory_format)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else nullcontext
    opt_g = torch.optim.Adam(generator.parameters(), lr=1e-4, betas=(0.5, 0.9))
    opt_c = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))
    images = torch.rand(batch, *IMAGE_SHAPE).contiguous(memory_format=memory_format)
    real = (torch.rand(batch, *PHRASE_SHAPE) < NOTE_DENSITY).float()

    def make_fake() -> torch.Tensor:
        with torch.no_grad(), autocast():
            return generator(images, torch.randn(batch, generator.temporal.noise_dim)).float()

    fake = make_fake()

    def critic_step() -> None:
        opt_c.zero_grad(set_to_none=True)
        with autocast():
            loss = critic(images, fake.detach()).mean() - critic(images, real).mean()
            loss = loss + GP_WEIGHT * gradient_penalty(critic, images, real, fake.detach())
        loss.backward()
        opt_c.step()

    def generator_step() -> None:
        opt_g.zero_grad(set_to_none=True)
        with autocast():
            loss = -critic(images, generator(images, torch.randn(batch, generator.temporal.noise_dim))).mean()
        loss.backward()
        opt_g.step()

    result = {"batch": batch, "precision": "bf16-autocast+channels_last" if bf16 else "fp32"}
    for name, fn in [("fake_batch", make_fake), ("critic_step", critic_step), ("generator_step", generator_step)]:
        wall, cpu = _times(fn, warmup, steps)
        result[f"{name}_s"] = statistics.median(wall)
        result[f"{name}_min_s"] = min(wall)
        result[f"{name}_cpu_s"] = statistics.median(cpu)
    generator.eval()
    one_image = images[:1]

    def one_phrase() -> None:
        with torch.no_grad(), autocast():
            generator(one_image, torch.randn(1, generator.temporal.noise_dim))

    result["phrase_latency_ms"] = 1000 * statistics.median(_times(one_phrase, 3, 20)[0])
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return result


def parameter_counts() -> dict:
    """Parameters per component and for the whole generator (two bar generators)."""
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    generator = Generator()
    return {
        "encoder": count(generator.encoder),
        "temporal": count(generator.temporal),
        "bar_generator_each": count(generator.decoders[0]),
        "generator_total": count(generator),
        "critic": count(phrase_critic()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, action="append", help="batch size (repeatable; default 64)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--no-bf16", action="store_true", help="skip the bf16 + channels_last runs")
    parser.add_argument("--one", choices=["fp32", "bf16"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batches = args.batch or [64]
    if args.one:  # child process: one configuration
        print(json.dumps(run_one(batches[0], args.one == "bf16", args.warmup, args.steps)))
        return
    load_before = os.getloadavg()[0]
    runs = []
    for batch in batches:
        for precision in ["fp32"] + ([] if args.no_bf16 else ["bf16"]):
            command = [sys.executable, __file__, "--one", precision, "--batch", str(batch),
                       "--threads", str(args.threads), "--warmup", str(args.warmup), "--steps", str(args.steps)]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            runs.append(json.loads(output))
            print(json.dumps(runs[-1]), file=sys.stderr)
    report = {
        "torch": torch.__version__,
        "threads": args.threads,
        # without native bf16 (AVX-512 BF16 / AMX) oneDNN is skipped and bf16 convolutions fall
        # back to slow reference kernels: expect bf16 to be slower than fp32 there
        "native_bf16": torch.ops.mkldnn._is_mkldnn_bf16_supported(),
        # other processes on the same cores inflate every time (two OpenMP threads that are
        # preempted wait on each other): compare runs only at similar load
        "load_average_1min": [load_before, os.getloadavg()[0]],
        "parameters": parameter_counts(),
        "runs": runs,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
