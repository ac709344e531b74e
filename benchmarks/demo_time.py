"""Demo time: what README's first command costs on this machine, measured as a new user meets it.

Two child processes, timed apart (wall seconds and CPU-seconds of the child and its workers):

1. the first-time build of the embedded default music (the Bach chorales) into a fresh cache;
2. ``crossmodal train --plugin jukepix`` with that cache, exactly as README states it.

Prints one JSON document with both, the run's seconds per step and its last evaluation
(generated and real metrics); ``--record FILE`` also writes it there (README's figures are
checked against ``docs/demo-time.json`` by ``tests/test_readme_figures.py``). Run on otherwise idle
cores from the repository root::

    python benchmarks/demo_time.py --record docs/demo-time.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BUILD_DEFAULT_MUSIC = "from jukepix.default_data import default_phrase_set; print(len(default_phrase_set()))"
"""The first-time data build, as ``train`` runs it (default mode and segmentation, every core)."""


def timed(command: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run ``command``; its wall seconds, CPU-seconds (user + system of it and its children) and output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"Error: {' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return {"wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "stdout": done.stdout}


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it (``platform.processor()`` where there is no /proc)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def last_row(path: Path) -> dict[str, str]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return rows[-1] if rows else {}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=Path, help="also write the JSON document to this file")
    parser.add_argument("--keep", type=Path, help="keep the run folder here (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="demo-time-") as scratch:
        scratch = Path(scratch)
        env = {**os.environ, "CROSSMODAL_CACHE": str(scratch / "cache")}
        runs = args.keep or scratch / "runs"
        build = timed([sys.executable, "-c", BUILD_DEFAULT_MUSIC], env, scratch)
        train = timed([sys.executable, "-m", "crossmodal", "train", "--plugin", "jukepix", "--out", str(runs)],
                      env, scratch)
        run_dir = Path(next(line.split(": ", 1)[1] for line in train["stdout"].splitlines() if line.startswith("run: ")))
        if not run_dir.is_absolute():
            run_dir = scratch / run_dir
        metrics = last_row(run_dir / "metrics.csv")
        progress = last_row(run_dir / "progress.csv")
    result = {
        "benchmark": "demo-time",
        "command": "crossmodal train --plugin jukepix",
        "machine": {"cpu_model": cpu_model(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1min_after": round(os.getloadavg()[0], 2),
                    "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        "default_data_build": {k: v for k, v in build.items() if k != "stdout"} | {"phrases": int(build["stdout"])},
        "training": {k: v for k, v in train.items() if k != "stdout"},
        "steps": int(progress.get("step", 0) or 0),
        "seconds_per_step": float(progress.get("seconds_per_step") or "nan"),
        "final_metrics": {k: float(v) for k, v in metrics.items() if v not in ("", None)
                          and k not in ("step", "wall_time") and not k.startswith(("critic/", "generator/"))},
    }
    text = json.dumps(result, indent=1) + "\n"
    if args.record is not None:
        args.record.write_text(text, encoding="utf-8")
    print(text, end="")
    return result


if __name__ == "__main__":
    main()
