"""Benchmark: batched piano-roll metrics vs the loop-based reference, on 20,000 bars.

Builds 5,000 music-like Jukepix phrases ``(5000, 4, 96, 128, 2)`` (bool; random notes of 1-24
steps in a two-octave band per track, with some silent bars), times every metric of
:mod:`crossmodal_evaluators.metrics` over all of them (in chunks of ``--chunk`` phrases, joined
exactly with ``Ratio.concat``), times the per-sample reference (the tests' oracle,
``plugins/evaluators/tests/metric_reference.py``) on the first ``--reference-phrases`` phrases
only and extrapolates it linearly to all 5,000 (it takes ~1-2 s per phrase), checks that both
give the same numerators and denominators on that subset (``allclose``), and prints a table and
a JSON summary.

Run from the repository root::

    PYTHONPATH=.:plugins/evaluators python benchmarks/bench_metrics.py [--phrases 5000] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from crossmodal_evaluators.metrics import METRICS, Ratio

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "plugins" / "evaluators" / "tests"
if str(REFERENCE_DIR) not in sys.path:  # the loop-based reference is a test oracle and lives there
    sys.path.insert(0, str(REFERENCE_DIR))
import metric_reference as reference  # noqa: E402

PHRASE_SHAPE = (4, 96, 128, 2)  # bars, time steps (24 per beat), MIDI pitches, tracks
NOTES_PER_TRACK = 48  # notes drawn per track and phrase (overlaps of one pitch merge)
MAX_NOTE_STEPS = 24  # longest drawn note: one beat
SILENT_BAR_SHARE = 0.05  # share of (phrase, bar, track) cleared afterwards, so EB is not 0


def music_like_phrases(n_phrases: int, seed: int = 0, chunk: int = 500) -> torch.Tensor:
    """Bool phrases ``(n_phrases, 4, 96, 128, 2)``: random notes, as a generator's output might be."""
    rng = np.random.default_rng(seed)
    bars, steps, pitches, tracks = PHRASE_SHAPE
    length = bars * steps
    parts = []
    for first in range(0, n_phrases, chunk):
        n = min(chunk, n_phrases - first)
        # onsets +1 and ends -1 along time, then a running sum: > 0 where a note sounds
        change = np.zeros((n, length + 1, pitches, tracks), np.int16)
        shape = (n, tracks, NOTES_PER_TRACK)
        centre = rng.integers(36, 84, (n, tracks, 1))
        pitch = np.clip(centre + rng.integers(-12, 13, shape), 0, pitches - 1)
        start = rng.integers(0, length, shape)
        end = np.minimum(start + rng.integers(1, MAX_NOTE_STEPS + 1, shape), length)
        phrase = np.broadcast_to(np.arange(n)[:, None, None], shape)
        track = np.broadcast_to(np.arange(tracks)[None, :, None], shape)
        np.add.at(change, (phrase, start, pitch, track), 1)
        np.add.at(change, (phrase, end, pitch, track), -1)
        on = np.cumsum(change[:, :length], axis=1) > 0
        on = on.reshape(n, bars, steps, pitches, tracks)
        silent = rng.random((n, bars, 1, 1, tracks)) < SILENT_BAR_SHARE
        parts.append(torch.from_numpy(on & ~silent))
    return torch.cat(parts)


def measure(n_phrases: int = 5000, chunk: int = 1000, reference_phrases: int = 12, device: str = "cpu") -> dict:
    """Time every metric batched and per-sample (see the module docstring); returns the summary.

    The summary holds ``batched_total_s``, ``reference_total_s_extrapolated``, ``speedup``,
    ``all_allclose`` and one row per metric under ``metrics``. Uses torch's current thread count.
    """
    device = torch.device(device)
    phrases = music_like_phrases(n_phrases)
    subset = phrases[:reference_phrases].numpy()
    phrases = phrases.to(device)

    rows = []
    for name, metric in METRICS.items():
        metric(phrases[:2])  # warm-up (allocations, kernels)
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        ratio = Ratio.concat([metric(part) for part in torch.split(phrases, chunk)])
        if device.type == "cuda":
            torch.cuda.synchronize()
        batched_s = time.perf_counter() - started

        started = time.perf_counter()
        numerator, denominator = reference.evaluate(name, subset)
        reference_per_phrase = (time.perf_counter() - started) / len(subset)
        reference_s = reference_per_phrase * n_phrases
        head = slice(0, len(subset))
        same = bool(
            np.allclose(ratio.numerator[head].cpu().numpy(), numerator, rtol=1e-9, atol=1e-9)
            and np.allclose(ratio.denominator[head].cpu().numpy(), denominator, rtol=0, atol=0)
        )
        # the evaluator's value: per track, or (TD) pooled over every track pair
        pooled = ratio.numerator.sum() / ratio.denominator.sum() if name == "td" else ratio.pooled()
        value = pooled.cpu().tolist()
        rows.append(
            {
                "metric": name,
                "batched_s": round(batched_s, 3),
                "reference_s_per_phrase": round(reference_per_phrase, 4),
                "reference_s_extrapolated": round(reference_s, 1),
                "speedup": round(reference_s / batched_s, 1),
                "allclose": same,
                "value": value,
            }
        )

    total_batched = sum(r["batched_s"] for r in rows)
    total_reference = sum(r["reference_s_extrapolated"] for r in rows)
    return {
        "phrases": n_phrases,
        "bars": 4 * n_phrases,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "reference_timed_on_phrases": len(subset),
        "reference_extrapolated": True,
        "batched_total_s": round(total_batched, 3),
        "reference_total_s_extrapolated": round(total_reference, 1),
        "speedup": round(total_reference / total_batched, 1),
        "batched_bars_per_s": round(4 * n_phrases / total_batched, 1),
        "reference_bars_per_s": round(4 * n_phrases / total_reference, 2),
        "all_allclose": all(r["allclose"] for r in rows),
        "metrics": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phrases", type=int, default=5000, help="phrases of 4 bars (default 5000 = 20,000 bars)")
    parser.add_argument("--chunk", type=int, default=1000, help="phrases per batched call")
    parser.add_argument("--reference-phrases", type=int, default=12, help="phrases the reference is timed on")
    parser.add_argument("--device", default="cpu", help="torch device for the batched metrics")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    summary = measure(args.phrases, args.chunk, args.reference_phrases, args.device)
    print(f"measured {args.phrases} phrases ({4 * args.phrases} bars) in {time.perf_counter() - started:.1f} s")
    rows = summary["metrics"]
    total_batched, total_reference = summary["batched_total_s"], summary["reference_total_s_extrapolated"]
    print(f"\n{'metric':<12} {'batched s':>10} {'ref s/phrase':>13} {'ref s (extrap.)':>16} {'speedup':>9}  same")
    for r in rows:
        print(
            f"{r['metric']:<12} {r['batched_s']:>10.3f} {r['reference_s_per_phrase']:>13.4f} "
            f"{r['reference_s_extrapolated']:>16.1f} {r['speedup']:>8.0f}x  {r['allclose']}"
        )
    print(f"{'all':<12} {total_batched:>10.3f} {'':>13} {total_reference:>16.1f} {total_reference / total_batched:>8.0f}x")
    print(json.dumps(summary, indent=1))
    if not summary["all_allclose"]:
        raise SystemExit("batched and reference values differ")


if __name__ == "__main__":
    main()
