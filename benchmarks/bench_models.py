"""Time Jukepix's networks on this machine and print the results as JSON on stdout.

Measures, per configuration (fp32; bf16 autocast + channels_last):

* ``critic_step_s``: one WGAN-GP critic step: critic(real) + critic(fake.detach()) + gradient
  penalty (critic on interpolates, ``autograd.grad(create_graph=True)``,
  ``10 * (||grad|| - 1)^2``) + backward + Adam step. The fake batch is generated beforehand.
* ``fake_batch_s``: generating that fake batch without gradients (part of a real critic step).
* ``generator_step_s``: generate + critic(fake) + backward + Adam step.
* ``peak_rss_mb``: the process's peak resident memory (``resource.getrusage``); each
  configuration runs in its own subprocess so the peaks are separate.
* ``phrase_latency_ms``: one phrase from one painting, eval mode, no gradients, warm;
  ``batch_latency_ms``: ``--batch`` phrases from as many paintings, the same way.
* ``critic_step_flop``, ``generator_step_flop``: floating-point operations of one step, counted
  by ``torch.utils.flop_counter.FlopCounterMode`` (matmuls and convolutions, forward and
  backward, the penalty's double backward included; 2 per multiply-add).

On a CUDA device (``--device cuda``) the times are taken after ``torch.cuda.synchronize()``,
``peak_cuda_mb`` is ``torch.cuda.max_memory_allocated``, and ``--compile MODE`` runs the
generator and the critic's Wasserstein terms through ``torch.compile(mode=MODE)``
(``reduce-overhead`` replays them as CUDA graphs); the gradient penalty always calls the eager
critic, because compiled code cannot be differentiated twice.

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
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from jukepix.constants import BARS_PER_PHRASE, IMAGE_SHAPE, N_TRACKS, PHRASE_SHAPE
from jukepix.models import BarTemporalSource, PaintingEncoder, PhraseCritic, PianoRollBarDecoder

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
        self.encoder = PaintingEncoder()
        self.temporal = BarTemporalSource()
        self.decoders = torch.nn.ModuleList(PianoRollBarDecoder() for _ in range(N_TRACKS))

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
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(images, mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def _times(fn, warmup: int, steps: int, sync=None) -> tuple[list[float], list[float]]:
    """Wall-clock and process CPU seconds of each of ``steps`` calls of ``fn`` after ``warmup``
    untimed calls. With one thread, CPU time is the compute time even on a busy machine.
    ``sync`` (e.g. ``torch.cuda.synchronize``) is called after each call, inside the timing."""
    sync = sync or (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    wall, cpu = [], []
    for _ in range(steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        sync()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


class _GlobalOnly:
    """Stands in for ``FlopCounterMode``'s per-module tracker, whose backward hooks make
    ``autograd.grad`` (the gradient penalty) fail with "A leaf node was passed to
    _will_engine_execute_node"; every count then goes to the ``Global`` total only."""

    parents = frozenset({"Global"})

    def __enter__(self) -> _GlobalOnly:
        return self

    def __exit__(self, *exc) -> None:
        return None


def count_flops(fn) -> int:
    """Floating-point operations of one call of ``fn``, as counted by ``FlopCounterMode``."""
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()
    with counter:
        fn()
    return int(counter.get_total_flops())


def run_one(
    batch: int, bf16: bool, warmup: int, steps: int, device: str = "cpu", compile_mode: str | None = None
) -> dict:
    """Measure one configuration in this process and return its figures.

    :param device: ``cpu`` or a CUDA device.
    :param compile_mode: ``torch.compile`` mode for the generator and the critic's Wasserstein
        terms (``None``: eager); the gradient penalty stays eager.
    """
    device = torch.device(device)
    on_cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if on_cuda else None
    torch.manual_seed(0)
    generator, critic = Generator().to(device), PhraseCritic().to(device)
    memory_format = torch.channels_last if bf16 else torch.contiguous_format
    generator.to(memory_format=memory_format)
    critic.to(memory_format=memory_format)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else nullcontext
    opt_g = torch.optim.Adam(generator.parameters(), lr=1e-4, betas=(0.5, 0.9))
    opt_c = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))
    images = torch.rand(batch, *IMAGE_SHAPE, device=device).contiguous(memory_format=memory_format)
    real = (torch.rand(batch, *PHRASE_SHAPE, device=device) < NOTE_DENSITY).float()
    run_generator = generator if compile_mode is None else torch.compile(generator, mode=compile_mode)
    run_critic = critic if compile_mode is None else torch.compile(critic, mode=compile_mode)

    def noise(n: int) -> torch.Tensor:
        return torch.randn(n, generator.temporal.noise_dim, device=device)

    def make_fake() -> torch.Tensor:
        with torch.no_grad(), autocast():
            return run_generator(images, noise(batch)).float()

    fake = make_fake()

    def critic_step(gen=run_generator, cri=run_critic) -> None:
        opt_c.zero_grad(set_to_none=True)
        with autocast():
            loss = cri(images, fake.detach()).mean() - cri(images, real).mean()
            loss = loss + GP_WEIGHT * gradient_penalty(critic, images, real, fake.detach())
        loss.backward()
        opt_c.step()

    def generator_step(gen=run_generator, cri=run_critic) -> None:
        opt_g.zero_grad(set_to_none=True)
        with autocast():
            loss = -cri(images, gen(images, noise(batch))).mean()
        loss.backward()
        opt_g.step()

    result = {"batch": batch, "precision": "bf16-autocast+channels_last" if bf16 else "fp32",
              "device": str(device), "compile": compile_mode or "eager"}
    for name, fn in [("fake_batch", make_fake), ("critic_step", critic_step), ("generator_step", generator_step)]:
        wall, cpu = _times(fn, warmup, steps, sync)
        result[f"{name}_s"] = statistics.median(wall)
        result[f"{name}_min_s"] = min(wall)
        result[f"{name}_cpu_s"] = statistics.median(cpu)
    # counted on the eager modules (FlopCounterMode sees the operators they dispatch)
    result["critic_step_flop"] = count_flops(lambda: critic_step(generator, critic))
    result["generator_step_flop"] = count_flops(lambda: generator_step(generator, critic))
    generator.eval()

    def phrases(n: int):
        def run() -> None:
            with torch.no_grad(), autocast():
                run_generator(images[:n], noise(n))
        return run

    result["phrase_latency_ms"] = 1000 * statistics.median(_times(phrases(1), 3, 20, sync)[0])
    result["batch_latency_ms"] = 1000 * statistics.median(_times(phrases(batch), 2, max(steps, 3), sync)[0])
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    if on_cuda:
        result["peak_cuda_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return result


def run_isolated(
    batch: int, precision: str, threads: int, warmup: int, steps: int,
    device: str = "cpu", compile_mode: str | None = None,
) -> dict:
    """:func:`run_one` in a fresh subprocess, so that its peak memory is its own.

    :param precision: ``fp32`` or ``bf16`` (bf16 autocast + channels_last).
    """
    command = [sys.executable, str(Path(__file__).resolve()), "--one", precision, "--batch", str(batch),
               "--threads", str(threads), "--warmup", str(warmup), "--steps", str(steps), "--device", device]
    if compile_mode:
        command += ["--compile", compile_mode]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def native_bf16() -> bool:
    """Whether this CPU runs bf16 convolutions natively (AVX-512 BF16 / AMX) through oneDNN."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def parameter_counts() -> dict:
    """Parameters per component and for the whole generator (two bar generators)."""
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    generator = Generator()
    return {
        "encoder": count(generator.encoder),
        "temporal": count(generator.temporal),
        "bar_generator_each": count(generator.decoders[0]),
        "generator_total": count(generator),
        "critic": count(PhraseCritic()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, action="append", help="batch size (repeatable; default 64)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--no-bf16", action="store_true", help="skip the bf16 + channels_last runs")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--compile", dest="compile_mode", choices=["default", "reduce-overhead", "max-autotune"],
                        help="torch.compile the generator and critic (not the gradient penalty)")
    parser.add_argument("--one", choices=["fp32", "bf16"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batches = args.batch or [64]
    if args.one:  # child process: one configuration
        result = run_one(batches[0], args.one == "bf16", args.warmup, args.steps, args.device, args.compile_mode)
        print(json.dumps(result))
        return
    load_before = os.getloadavg()[0]
    runs = []
    for batch in batches:
        for precision in ["fp32"] + ([] if args.no_bf16 else ["bf16"]):
            runs.append(run_isolated(batch, precision, args.threads, args.warmup, args.steps,
                                     args.device, args.compile_mode))
            print(json.dumps(runs[-1]), file=sys.stderr)
    report = {
        "torch": torch.__version__,
        "threads": args.threads,
        # without native bf16 (AVX-512 BF16 / AMX) oneDNN is skipped and bf16 convolutions fall
        # back to slow reference kernels: expect bf16 to be slower than fp32 there
        "native_bf16": native_bf16(),
        # other processes on the same cores inflate every time (two OpenMP threads that are
        # preempted wait on each other): compare runs only at similar load
        "load_average_1min": [load_before, os.getloadavg()[0]],
        "parameters": parameter_counts(),
        "runs": runs,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
