"""The training recipe: which registered names make a palette -> light-pattern GAN.

``crossmodal train --plugin palette`` builds the recipe registered as ``palette`` (a plugin's main
recipe is named after its entry point). :data:`DEMO_TRAINING` overrides the trainer's defaults so
that a run on the synthetic data takes a few seconds on one CPU core.
"""

from __future__ import annotations

from crossmodal import ComponentSpec, Recipe

from .constants import N_LAMPS

DEMO_TRAINING = {
    "steps": 30,
    "batch_size": 32,
    "warmup_generator_steps": 3,
    "critic_updates_warmup": 5,
    "critic_updates": 2,
    "eval_every": 0,
    "sample_every": 0,
    "checkpoint_every": 0,
    "eval_samples": 64,
    "write_samples": 2,
    "log_every": 10,
}
"""Demo schedule: 3 warm-up generator updates with 5 critic updates each, then 27 with 2
(69 critic and 30 generator updates at batch 32); metrics, samples and a checkpoint at the end
only (0 = at the end). Raise ``steps`` with ``--steps`` or ``--config`` for a real run."""


def palette() -> Recipe:
    """Palette -> light pattern for two lamps, on synthetic data by default."""
    return Recipe(
        name="palette",
        description=palette.__doc__,
        encoder=ComponentSpec("palette-encoder"),
        temporal=ComponentSpec("segment-temporal", {"noise_dim": 8, "temporal_dim": 8}),
        decoder=ComponentSpec("lamp-decoder", {"feature_dim": 16, "temporal_dim": 8}),
        n_tracks=N_LAMPS,
        critic=ComponentSpec("pattern-critic"),
        conditions=ComponentSpec("palettes"),
        targets=ComponentSpec("light-patterns"),
        evaluators=("level", "flicker", "together"),
        writer=ComponentSpec("light-pattern-csv"),
        training=DEMO_TRAINING,
    )
