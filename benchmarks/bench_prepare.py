"""Throughput of Jukepix data preparation on the shared development data.

Run from anywhere: ``python benchmarks/bench_prepare.py [--repeat N]``. Reads
``<repository>/../shared/data/{midi,paintings}`` and prints, for one process and for every core:
MIDI files/s and phrases/s (mode piano-hands, both segmentations), images/s, and the bytes one
phrase takes on disk. Needs ``crossmodal`` and ``crossmodal-jukepix`` installed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from functools import partial
from pathlib import Path

from jukepix.prepare import build_painting_set, build_phrase_set
from jukepix.store import write_dataset

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def best_time(run, repeat: int) -> tuple[float, object]:
    """Fastest wall time in seconds of ``repeat`` calls of ``run()``, and its last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def measure(
    repeat: int = 1,
    jobs: tuple[int, ...] | None = None,
    segmentations: tuple[str, ...] = ("bars", "structural"),
    report=None,
) -> dict:
    """Preparation throughput on the shared data; returns ``{"music": [...], "images": [...], ...}``.

    :param jobs: worker counts to try (default: 1 and every core).
    :param report: called with one line of text per measurement (e.g. ``print``), if given.
    :raises FileNotFoundError: when the shared data is missing.
    """
    report = report or (lambda line: None)
    midi = sorted((SHARED_DATA / "midi").glob("*.mid"))
    paintings = sorted((SHARED_DATA / "paintings").glob("*.jpg"))
    if not midi or not paintings:
        raise FileNotFoundError(f"shared data not found under {SHARED_DATA}")
    cores = os.cpu_count() or 1
    report(f"{len(midi)} MIDI files, {len(paintings)} paintings, {cores} cores")
    result: dict = {"midi_files": len(midi), "paintings": len(paintings), "music": [], "images": []}
    phrase_set = None
    for n_jobs in jobs or sorted({1, cores}):
        for segmentation in segmentations:
            build = partial(build_phrase_set, midi, "piano-hands", segmentation, n_jobs)
            seconds, phrase_set = best_time(build, repeat)
            result["music"].append({"jobs": n_jobs, "segmentation": segmentation, "seconds": round(seconds, 3),
                                    "files_per_s": round(len(midi) / seconds, 1),
                                    "phrases_per_s": round(len(phrase_set) / seconds, 1),
                                    "phrases": len(phrase_set)})
            report(
                f"music  jobs={n_jobs} {segmentation:<10} {len(midi) / seconds:7.1f} files/s "
                f"{len(phrase_set) / seconds:8.1f} phrases/s ({len(phrase_set)} phrases, {seconds:.2f} s)"
            )
        seconds, painting_set = best_time(partial(build_painting_set, paintings, None, n_jobs), repeat)
        result["images"].append({"jobs": n_jobs, "seconds": round(seconds, 3),
                                 "images_per_s": round(len(paintings) / seconds, 1), "images": len(painting_set)})
        report(
            f"images jobs={n_jobs}            {len(paintings) / seconds:7.1f} images/s "
            f"({len(painting_set)} images, {seconds:.2f} s)"
        )
    with tempfile.TemporaryDirectory() as folder:
        out = write_dataset(Path(folder) / "phrases", phrase_set, {"mode": "piano-hands"})
        data = (out / "data.npy").stat().st_size
        total = sum(p.stat().st_size for p in out.iterdir())
    result["stored_bytes_per_phrase"] = round(data / len(phrase_set), 1)
    result["stored_bytes_per_phrase_with_metadata"] = round(total / len(phrase_set), 1)
    report(
        f"stored phrase: {data / len(phrase_set):.1f} bytes in data.npy, "
        f"{total / len(phrase_set):.1f} bytes with manifest and metadata"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per measurement (the fastest is reported)"
    )
    args = parser.parse_args()
    try:
        measure(args.repeat, report=print)
    except FileNotFoundError as err:
        raise SystemExit(str(err)) from err


if __name__ == "__main__":
    main()
