"""Run every benchmark and print one JSON document: models, FLOP/s, generation, CLI start, metrics, preparation.

Usage, from the repository root (crossmodal, crossmodal-jukepix and crossmodal-evaluators installed)::

    python benchmarks/run_all.py [--quick] [--out docs/benchmarks.json] [--threads 2]

Sections of the document (progress goes to stderr, the document to stdout and ``--out``):

* ``machine``: CPU model (lscpu), cores, torch and Python versions, GPU if any, the UTC date and
  the 1-minute load average before and after (other processes on the same cores inflate every
  wall time; ``load_note`` says so when the load is high).
* ``matmul``: fp32 ``torch.matmul`` throughput of this machine, best of a few square products,
  measured in the same run: the yardstick for ``flop_fraction_of_matmul``.
* ``models``: :func:`bench_models.run_isolated` at batch 64 for fp32 and, where the CPU has
  native bf16 (or with ``--bf16``), for bf16 autocast + channels_last, each in its own process
  (separate peak RSS): critic step and generator step
  times, samples/s, FLOPs per step (``FlopCounterMode``), achieved FLOP/s and its fraction of the
  matmul throughput, generation latency for 1 and for 64 paintings, and the extrapolated time of
  the paper's 100k generator steps (with its 504,500 critic updates). ``parallelism`` is process
  CPU time / wall time of the generator step: near ``--threads`` when the cores were ours, near
  1 when other processes took one (then the step times are inflated several-fold: waiting
  OpenMP threads spin).
* ``cli``: cold start (subprocess wall time, median of 5) of ``python -c pass``, then ``python -m
  crossmodal --version``, ``--help`` and ``list-components`` with the installed plugins, each also
  as seconds over ``python -c pass`` (goals: ``--help`` within 0.3 s, ``list-components`` within
  1 s). ``--cli-only`` measures just this section.
* ``metrics``: :func:`bench_metrics.measure`: batched metrics against the per-sample reference.
* ``prepare``: :func:`bench_prepare.measure`: MIDI files/s, phrases/s, images/s.
* ``gpu``: on a CUDA machine, the same model steps on the GPU (eager and ``torch.compile``,
  ``reduce-overhead`` being CUDA graphs) and the extrapolated hours for 100k generator steps at
  batch 64; elsewhere ``"not measured on GPU"``.
* ``goals``: each goal of the performance issue, the figure it is judged by, and met / missed.

``--quick`` uses fewer timed steps, fewer phrases and one preparation pass (about 3 minutes on 2
cores); the figures in docs/benchmarks.md come from a run without it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

import bench_metrics
import bench_models
import bench_prepare
from crossmodal.training.config import TrainConfig, critic_updates_for

BATCH = 64
"""Batch size of every model measurement (the paper's)."""

MATMUL_SIZES = (2048, 4096)
"""Square fp32 matmul sizes timed for the machine's throughput (the best is kept)."""

GOALS = {
    "critic_step_s": 1.5,  # seconds per critic step at batch 64 on 2 CPU cores
    "generator_step_s": 1.5,  # seconds per generator step at batch 64 on 2 CPU cores
    "peak_rss_gb": 1.5,  # GB peak resident memory of the training process
    "phrase_latency_ms": 10.0,  # ms per phrase, warm
    "flop_fraction_of_matmul": 0.40,  # achieved FLOP/s / measured matmul FLOP/s
    "h100_100k_steps_h": 1.0,  # hours for 100k generator steps at batch 64 on one H100
}


def log(message: str) -> None:
    print(f"[run_all {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine(threads: int) -> dict:
    """What the figures were measured on."""
    model = platform.processor() or "unknown"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "native_bf16": bench_models.native_bf16(),
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "load_average_1min_before": round(os.getloadavg()[0], 2),
    }


def matmul_throughput(repeats: int) -> dict:
    """Best fp32 matmul FLOP/s over :data:`MATMUL_SIZES` (2 n^3 FLOPs per product, warm)."""
    best = {"flop_per_s": 0.0}
    for n in MATMUL_SIZES:
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.matmul(a, b)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            torch.matmul(a, b)
            times.append(time.perf_counter() - start)
        rate = 2 * n**3 / min(times)
        log(f"matmul {n}x{n} fp32: {rate / 1e9:.1f} GFLOP/s")
        if rate > best["flop_per_s"]:
            best = {"flop_per_s": rate, "gflop_per_s": round(rate / 1e9, 1), "size": n, "dtype": "float32"}
    return best


def cuda_matmul_throughput(dtype: torch.dtype, n: int = 8192, repeats: int = 10) -> float:
    """FLOP/s of an ``n`` x ``n`` matmul on the current GPU in ``dtype`` (TF32 as torch's default)."""
    a = torch.randn(n, n, device="cuda", dtype=dtype)
    b = torch.randn(n, n, device="cuda", dtype=dtype)
    torch.matmul(a, b)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        torch.matmul(a, b)
    torch.cuda.synchronize()
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def paper_schedule() -> tuple[int, int]:
    """(generator steps, critic updates) of the paper's run: TrainConfig's defaults."""
    config = TrainConfig()
    return config.steps, sum(critic_updates_for(step, config) for step in range(config.steps))


def derive(run: dict, matmul_flop_per_s: float) -> dict:
    """Samples/s, FLOP/s, fractions of matmul and the extrapolated paper run from a model run."""
    generator_steps, critic_updates = paper_schedule()
    critic_update_s = run["critic_step_s"] + run["fake_batch_s"]  # the trainer generates the fakes too
    total_s = critic_updates * critic_update_s + generator_steps * run["generator_step_s"]
    figures = {
        "critic_update_with_fakes_s": critic_update_s,
        "critic_samples_per_s": run["batch"] / run["critic_step_s"],
        "generator_samples_per_s": run["batch"] / run["generator_step_s"],
        "critic_step_flop_per_s": run["critic_step_flop"] / run["critic_step_s"],
        "generator_step_flop_per_s": run["generator_step_flop"] / run["generator_step_s"],
        "phrase_latency_batch_ms_per_phrase": run["batch_latency_ms"] / run["batch"],
        "paper_run_generator_steps": generator_steps,
        "paper_run_critic_updates": critic_updates,
        "paper_run_hours": total_s / 3600,
    }
    figures["critic_flop_fraction_of_matmul"] = figures["critic_step_flop_per_s"] / matmul_flop_per_s
    figures["generator_flop_fraction_of_matmul"] = figures["generator_step_flop_per_s"] / matmul_flop_per_s
    return {key: round(value, 4) if isinstance(value, float) else value for key, value in figures.items()}


def models(threads: int, warmup: int, steps: int, matmul_flop_per_s: float, bf16: bool) -> list[dict]:
    runs = []
    for precision in ("fp32", "bf16") if bf16 else ("fp32",):
        log(f"models: batch {BATCH} {precision} (own process)")
        run = bench_models.run_isolated(BATCH, precision, threads, warmup, steps)
        run.update(derive(run, matmul_flop_per_s))
        run["parallelism"] = round(run["generator_step_cpu_s"] / run["generator_step_s"], 2)
        log(f"  critic {run['critic_step_s']:.2f} s, generator {run['generator_step_s']:.2f} s, "
            f"peak RSS {run['peak_rss_mb']:.0f} MB, one phrase {run['phrase_latency_ms']:.1f} ms")
        runs.append(run)
    return runs


CLI_COMMANDS = (
    ("python_pass", ["-c", "pass"]),
    ("version", ["-m", "crossmodal", "--version"]),
    ("help", ["-m", "crossmodal", "--help"]),
    ("list_components", ["-m", "crossmodal", "list-components"]),
)
"""What ``cli`` times: a bare interpreter (the floor), then the command line's cheapest commands."""

CLI_GOALS = {"help": 0.3, "list_components": 1.0}
"""Seconds over ``python -c pass`` allowed to ``crossmodal --help`` and ``crossmodal list-components``."""


def cli_cold_start(repeats: int) -> dict:
    """Wall seconds of fresh processes (median of ``repeats``, and the best), each against ``python -c pass``.

    ``<name>_s`` is the median, ``<name>_min_s`` the best, ``<name>_over_python_s`` the median
    minus that of ``python -c pass``. The installed plugins load as usual (``--help`` lists their
    commands), so their imports (torch) count.
    """
    result: dict = {"repeats": repeats}
    env = {k: v for k, v in os.environ.items() if k != "CROSSMODAL_LOAD_PLUGINS"}
    for name, args in CLI_COMMANDS:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, *args], check=True, capture_output=True, env=env)
            times.append(time.perf_counter() - start)
        result[f"{name}_s"] = round(statistics.median(times), 3)
        result[f"{name}_min_s"] = round(min(times), 3)
        log(f"cli {' '.join(args)}: {statistics.median(times):.3f} s (median of {repeats})")
    floor = result["python_pass_s"]
    for name, _ in CLI_COMMANDS[1:]:
        result[f"{name}_over_python_s"] = round(result[f"{name}_s"] - floor, 3)
    return result


def cli_goals(cli: dict) -> list[dict]:
    """The cold-start goals: seconds over ``python -c pass`` of ``--help`` and ``list-components``."""
    shown = {"help": "--help", "list_components": "list-components"}
    return [{"goal": f"crossmodal {shown[name]} cold start over python -c pass (s)", "target": limit,
             "value": cli[f"{name}_over_python_s"],
             "status": "met" if cli[f"{name}_over_python_s"] <= limit else "missed"}
            for name, limit in CLI_GOALS.items()]


def gpu(warmup: int, steps: int) -> dict | str:
    """The model steps on the GPU, eager and compiled, and the paper run's hours; or why not."""
    if not torch.cuda.is_available():
        return "not measured on GPU"
    matmul = {"fp32": cuda_matmul_throughput(torch.float32), "bf16": cuda_matmul_throughput(torch.bfloat16)}
    log(f"gpu matmul: fp32 {matmul['fp32'] / 1e12:.1f} TFLOP/s, bf16 {matmul['bf16'] / 1e12:.1f} TFLOP/s")
    runs = []
    for precision in ("fp32", "bf16"):
        for mode in (None, "default", "reduce-overhead"):
            log(f"gpu: batch {BATCH} {precision} compile={mode or 'eager'}")
            try:  # compiling takes the first few calls: warm up longer
                run = bench_models.run_isolated(BATCH, precision, 1, max(warmup, 3 if mode else 1), steps,
                                                device="cuda", compile_mode=mode)
            except subprocess.CalledProcessError as err:
                runs.append({"precision": precision, "compile": mode or "eager",
                             "error": (err.stderr or "").strip().splitlines()[-1:] or [str(err)]})
                continue
            run.update(derive(run, matmul[precision]))
            # generator steps per second with the paper's average of 5.045 critic updates each
            run["paper_run_generator_steps_per_s"] = run["paper_run_generator_steps"] / (run["paper_run_hours"] * 3600)
            runs.append(run)
    measured = [r for r in runs if "error" not in r]
    best = min(measured, key=lambda r: r["paper_run_hours"]) if measured else None
    return {"device": torch.cuda.get_device_name(0),
            "matmul_tflop_per_s": {k: round(v / 1e12, 1) for k, v in matmul.items()}, "runs": runs,
            "best": None if best is None else {k: best[k] for k in ("precision", "compile", "paper_run_hours")}}


def goals(runs: list[dict], gpu_result: dict | str) -> list[dict]:
    """Each goal: the best configuration's figure and whether it is met."""
    def best(key: str, lower: bool = True) -> dict:
        return (min if lower else max)(runs, key=lambda r: r[key])

    rows = []

    def add(goal: str, limit: float, run: dict | None, value: float | None, lower: bool = True) -> None:
        if value is None:
            rows.append({"goal": goal, "target": limit, "value": None, "status": "not measured on GPU"})
            return
        met = value <= limit if lower else value >= limit
        rows.append({"goal": goal, "target": limit, "value": round(value, 4),
                     "configuration": None if run is None else run["precision"], "status": "met" if met else "missed"})

    run = best("critic_step_s")
    add("critic step at batch 64, 2 CPU cores (s)", GOALS["critic_step_s"], run, run["critic_step_s"])
    run = best("generator_step_s")
    add("generator step at batch 64, 2 CPU cores (s)", GOALS["generator_step_s"], run, run["generator_step_s"])
    run = best("peak_rss_mb")
    add("peak RSS of a training step at batch 64 (GiB)", GOALS["peak_rss_gb"], run, run["peak_rss_mb"] / 1024)
    run = best("phrase_latency_ms")
    add("generation of one phrase from one painting, warm (ms)", GOALS["phrase_latency_ms"], run,
        run["phrase_latency_ms"])
    run = best("phrase_latency_batch_ms_per_phrase")
    add(f"generation per phrase in a batch of {BATCH}, warm (ms)", GOALS["phrase_latency_ms"], run,
        run["phrase_latency_batch_ms_per_phrase"])
    for step in ("critic", "generator"):
        run = best(f"{step}_flop_fraction_of_matmul", lower=False)
        add(f"{step} step FLOP/s as a fraction of matmul FLOP/s", GOALS["flop_fraction_of_matmul"], run,
            run[f"{step}_flop_fraction_of_matmul"], lower=False)
    if isinstance(gpu_result, dict) and gpu_result.get("best") and "H100" in gpu_result["device"]:
        add("100k generator steps at batch 64 on one H100 (h)", GOALS["h100_100k_steps_h"], None,
            gpu_result["best"]["paper_run_hours"])
    else:
        add("100k generator steps at batch 64 on one H100 (h)", GOALS["h100_100k_steps_h"], None, None)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and samples (about 3 minutes)")
    parser.add_argument("--out", type=Path, help="also write the JSON document here")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--cli-only", action="store_true",
                        help="measure only the cli section (cold start; seconds) and print it")
    parser.add_argument("--bf16", action="store_true",
                        help="also measure bf16 autocast + channels_last on a CPU without native bf16")
    args = parser.parse_args()
    if args.cli_only:
        cli = cli_cold_start(2 if args.quick else 5)
        print(json.dumps({"cli": cli, "goals": cli_goals(cli)}, indent=2))
        return
    torch.set_num_threads(args.threads)
    warmup, steps = (1, 2) if args.quick else (2, 5)
    document: dict = {"quick": args.quick, "machine": machine(args.threads)}
    document["matmul"] = matmul_throughput(3 if args.quick else 5)
    bf16 = args.bf16 or document["machine"]["native_bf16"]
    document["models"] = models(args.threads, warmup, steps, document["matmul"]["flop_per_s"], bf16)
    if not bf16:
        document["models_bf16"] = ("not measured: this CPU has no native bf16, so oneDNN is skipped and bf16 "
                                   "convolutions run slow reference kernels (use --bf16 to measure anyway)")
    document["cli"] = cli_cold_start(2 if args.quick else 5)
    log("metrics: batched vs per-sample reference")
    n_phrases, reference_phrases = (500, 2) if args.quick else (5000, 12)
    document["metrics"] = bench_metrics.measure(n_phrases, 1000, reference_phrases)
    log("prepare: jukepix data preparation on the shared data")
    try:
        jobs = (os.cpu_count() or 1,) if args.quick else None
        segmentations = ("bars",) if args.quick else ("bars", "structural")
        document["prepare"] = bench_prepare.measure(1, jobs, segmentations, report=log)
    except FileNotFoundError as err:
        document["prepare"] = f"not measured: {err}"
    document["gpu"] = gpu(warmup, steps)
    document["goals"] = goals(document["models"], document["gpu"]) + cli_goals(document["cli"])
    document["machine"]["load_average_1min_after"] = round(os.getloadavg()[0], 2)  # ours included
    load = document["machine"]["load_average_1min_before"]
    parallelism = min(run["parallelism"] for run in document["models"])
    if load > 0.5 * (os.cpu_count() or 1) or parallelism < 0.75 * args.threads:
        document["machine"]["load_note"] = (
            f"other processes were running (1-minute load {load:.1f} before the run on {os.cpu_count()} "
            f"cores; generator step CPU/wall {parallelism:.2f} with {args.threads} threads): wall times are "
            "inflated; compare the *_cpu_s figures"
        )
    text = json.dumps(document, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
        log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
