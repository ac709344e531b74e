"""Phrase variety: does a Jukepix generator use its noise, and do the bars of a phrase differ?

For a checkpoint (or an installed model) and a folder of paintings, generates ``--seeds`` phrases
per painting (seeded, in evaluation mode), binarises them at 0.5 and prints one JSON document of
Jaccard similarities (on cells / cells on in either; pairs where both are empty are left out):

- ``same_painting``: two noise draws for one painting (1: the noise is ignored);
- ``other_painting``: one draw each for two different paintings (1: the painting is ignored);
- ``next_bar``: bar k and bar k+1 of one phrase, for k = 1, 2, 3 (1: a bar repeated);
- ``on_rate``: the share of cells on;

and the same ``next_bar`` and ``on_rate`` for 256 real phrases of the embedded default (the Bach
chorales), with ``random_real_pair``: two different real phrases. Run from the repository root::

    python benchmarks/phrase_variety.py --checkpoint RUN --paintings FOLDER
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

import torch

from crossmodal import load_plugins
from crossmodal.generation.session import open_generation

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def jaccard(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over rows of |a and b| / |a or b| for bool tensors ``(N, ...)``; rows where both are empty are left out."""
    union = (a | b).flatten(1).sum(1).float()
    inter = (a & b).flatten(1).sum(1).float()
    keep = union > 0
    return round((inter[keep] / union[keep]).mean().item(), 3) if keep.any() else float("nan")


def next_bar(phrases: torch.Tensor) -> list[float]:
    """Similarity of bar k and k+1, for phrases ``(N, bars, steps, pitches, tracks)`` (bool)."""
    return [jaccard(phrases[:, k], phrases[:, k + 1]) for k in range(phrases.shape[1] - 1)]


def real_reference(count: int = 256) -> dict[str, Any]:
    from jukepix.default_data import default_phrase_set

    phrases = default_phrase_set()
    picks = torch.randperm(len(phrases), generator=torch.Generator().manual_seed(0))[:count]
    real = phrases.batch(picks) > 0.5
    other = phrases.batch(picks.roll(1)) > 0.5
    return {"phrases": len(picks), "next_bar": next_bar(real), "random_real_pair": jaccard(real, other),
            "on_rate": round(real.float().mean().item(), 4)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--checkpoint", help="a run folder or checkpoint file")
    source.add_argument("--model", help="an installed pretrained model (default: the one installed)")
    parser.add_argument("--paintings", type=Path, required=True, help="a folder of paintings")
    parser.add_argument("--count", type=int, default=12, help="paintings to use (the first, by name)")
    parser.add_argument("--seeds", type=int, default=4, help="noise draws per painting")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    generation = open_generation(load_plugins().registry, checkpoint=args.checkpoint, model=args.model, device="cpu")
    files = sorted(p for p in args.paintings.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[: args.count]
    conditions = torch.cat([generation.conditions(f).batch(torch.tensor([0])) for f in files])
    generated = generation.generator.generate(conditions, args.seeds, generator=torch.Generator().manual_seed(0)) > 0.5
    same = [jaccard(generated[:, i], generated[:, j]) for i, j in itertools.combinations(range(args.seeds), 2)]
    other = [jaccard(generated[:, 0], generated.roll(k, 0)[:, 0]) for k in range(1, min(4, len(files)))]
    result = {
        "benchmark": "phrase-variety",
        "source": generation.source,
        "paintings": len(files),
        "seeds": args.seeds,
        "same_painting": round(sum(same) / len(same), 3),
        "other_painting": round(sum(other) / len(other), 3),
        "next_bar": next_bar(generated.flatten(0, 1)),
        "on_rate": round(generated.float().mean().item(), 4),
        "real": real_reference(),
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
