"""Conditioning strength: does the painting change the music? One pairing method, trained and then measured.

Trains the ``jukepix`` recipe for ``--steps`` generator updates (one CPU thread) with its own
descriptor pairing and information term (``--method matched``, the default recipe), only one of
them (``--method pairing``: random pairs are not used, no information term; ``--method
information``: random pairs with the information term), or the paper's independent random pairs
and no information term (``--method random``), on ``--conditions``
paintings and ``--targets`` phrases, then prints ``crossmodal evaluate --checkpoint RUN
--conditioning HELD_OUT --seeds 16`` for the held-out paintings (identifiability, distance
ratio, descriptor agreement; docs/evaluators.md). Run from the repository root::

    python benchmarks/conditioning_strength.py --method random  --conditions TRAIN --targets data/piano \\
        --held-out HELD_OUT --steps 200 --out benchmarks/out/conditioning
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import types
from pathlib import Path

import torch

from crossmodal import ComponentSpec, hookimpl, load_plugins
from crossmodal.job.build import get_recipe
from crossmodal.cli import make_cli
from crossmodal.training.launch import start_training


def _plugin(recipe):
    """An in-process plugin registering ``recipe`` under the name ``conditioning-<method>``."""

    @hookimpl
    def crossmodal_register_components(register):
        register("recipe", recipe.name, lambda: recipe, "the recipe under test")

    module = types.ModuleType("conditioning_strength_recipe")
    module.crossmodal_register_components = crossmodal_register_components
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=("matched", "pairing", "information", "random"), default="matched")
    parser.add_argument("--conditions", required=True, help="training paintings (not the held-out ones)")
    parser.add_argument("--targets", required=True, help="training phrases")
    parser.add_argument("--held-out", required=True, help="held-out paintings to measure on")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/conditioning"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    recipe = get_recipe(load_plugins().registry, "jukepix")
    recipe = dataclasses.replace(recipe, name=f"conditioning-{args.method}")
    if args.method in ("random", "information"):
        recipe = dataclasses.replace(recipe, pairing=ComponentSpec("random-pairs"))
    if args.method in ("random", "pairing"):
        recipe = dataclasses.replace(recipe, generator_losses=())
    plugin = _plugin(recipe)
    plugins = load_plugins(extra=[("conditioning-strength", plugin)])
    trainer = start_training(plugins.registry, recipe.name, condition_source=args.conditions,
                             target_source=args.targets,
                             overrides={"steps": args.steps, "out_dir": str(args.out / args.method),
                                        "eval_every": 50, "sample_every": args.steps, "checkpoint_every": 50})
    start = time.process_time()
    trainer.train()
    trainer.close()
    print(f"trained {args.steps} steps in {time.process_time() - start:.0f} CPU-s: {trainer.run_dir}", flush=True)
    cli = make_cli(extra_plugins=[("conditioning-strength", plugin)])
    cli(["evaluate", "--checkpoint", str(trainer.run_dir), "--conditioning", args.held_out,
         "--seeds", str(args.seeds)], standalone_mode=False)


if __name__ == "__main__":
    main()
