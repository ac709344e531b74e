"""Jukepix's shipped model, ``jukepix-default``: the default recipe trained on the embedded data.

``crossmodal generate --image my.jpg --render`` uses it when no ``--checkpoint`` is given, and
``crossmodal serve`` serves it. How it was made, what it gives and how to make it again:
``docs/model-card-jukepix-default.md``. The file is checked against :data:`MODEL_SHA256` at every
load (:func:`crossmodal.storage.model_file.load_model`).
"""

from __future__ import annotations

from pathlib import Path

from crossmodal.storage.model_file import PretrainedModel

__all__ = ["MODEL_CARD", "MODEL_FILE", "MODEL_SHA256", "default_model"]

MODEL_FILE = Path(__file__).with_name("weights") / "jukepix-default.pt"
"""The model file, shipped as package data (float16 generator weights and the job record)."""

MODEL_SHA256 = "187583d60c237c4ded7827eed71c171cd7caab19c59158df0d211026bd3c1243"
"""The SHA-256 ``crossmodal export-model`` printed for :data:`MODEL_FILE`."""

MODEL_CARD = "docs/model-card-jukepix-default.md"
"""The model card, in the repository."""


def default_model() -> PretrainedModel:
    """Jukepix's default model: the ``jukepix`` recipe, 800 steps on the Bach chorales and the bundled pictures."""
    return PretrainedModel(MODEL_FILE, MODEL_SHA256, MODEL_CARD, default_model.__doc__.splitlines()[0])
