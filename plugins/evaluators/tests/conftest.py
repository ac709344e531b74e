"""Shared helpers for the evaluators tests: building piano rolls from note lists."""

from __future__ import annotations

from typing import Iterable

import pytest
import torch

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
