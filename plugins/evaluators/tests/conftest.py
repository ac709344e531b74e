"""Shared helpers for the evaluators tests: building piano rolls from note lists, and the oracle.

The loop-based reference metrics, ``metric_reference.py``, live beside the tests; this folder is
put on ``sys.path`` so that the test modules can ``import metric_reference``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterable

import pytest
import torch

if str(Path(__file__).parent) not in sys.path:  # metric_reference lives beside the tests
    sys.path.insert(0, str(Path(__file__).parent))

JUKEPIX_SHAPE = (4, 96, 128, 2)
"""One Jukepix phrase: (bars, time steps at 24 per beat, MIDI pitches, tracks)."""


def notes_to_roll(
    shape: tuple[int, ...], notes: Iterable[tuple[int, int, int, int, int]]
) -> torch.Tensor:
    """Bool roll ``(N, S, T, P, K)`` from notes ``(sample, track, pitch, start, length)``.

    ``start`` counts time steps along the bars one after the other (step ``s * T + t`` is step
    ``t`` of bar ``s``), so a note may run over a bar line.
    """
    n, s, t, p, k = shape
    flat = torch.zeros(n, s * t, p, k, dtype=torch.bool)
    for sample, track, pitch, start, length in notes:
        assert start + length <= s * t, "a note must end inside its sample"
        flat[sample, start : start + length, pitch, track] = True
    return flat.reshape(n, s, t, p, k)


@pytest.fixture(scope="session")
def make_roll():
    """The :func:`notes_to_roll` builder (session-scoped, so hypothesis tests may use it)."""
    return notes_to_roll
