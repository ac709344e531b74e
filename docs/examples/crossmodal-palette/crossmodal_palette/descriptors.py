"""Descriptors (kind ``descriptor``): a few numbers per palette and per light pattern.

=============  =============  ==============================================================
descriptor     value          definition
=============  =============  ==============================================================
palette        ``lightness``  mean of the 15 channel values (0-1)
palette        ``spread``     standard deviation of the 5 colours' means (0-0.5)
light-pattern  ``level``      mean brightness over both lamps and the 16 steps (0-1)
light-pattern  ``flicker``    mean ``|x[t+1] - x[t]|`` over both lamps (0-1)
=============  =============  ==============================================================

Used by ``crossmodal evaluate --conditioning`` and by pairings and loss terms that read
descriptors (the core's ``descriptor-pairs`` pairing, an information loss term).
"""

from __future__ import annotations

import torch

from crossmodal import Descriptor, check_shape

from .constants import PALETTE_KIND, PALETTE_SHAPE, PATTERN_SHAPE, SAMPLE_KIND

__all__ = ["PaletteDescriptor", "PatternDescriptor"]


class PaletteDescriptor(Descriptor):
    """Palette: lightness, spread."""

    name = "palette"
    sample_kind = PALETTE_KIND

    def describe(self, items: torch.Tensor) -> dict[str, torch.Tensor]:
        """``lightness`` and ``spread`` of palettes ``(N, 5, 3)``, float64 ``(N,)`` each."""
        check_shape(self, "items", items, (None, *PALETTE_SHAPE))
        colours = items.double().mean(dim=2)  # (N, colours): each colour's mean channel
        return {"lightness": colours.mean(dim=1), "spread": colours.std(dim=1, unbiased=False)}


class PatternDescriptor(Descriptor):
    """Pattern: level, flicker."""

    name = "light-pattern"
    sample_kind = SAMPLE_KIND

    def describe(self, items: torch.Tensor) -> dict[str, torch.Tensor]:
        """``level`` and ``flicker`` of patterns ``(N, 2, 8, 2)``, float64 ``(N,)`` each."""
        check_shape(self, "items", items, (None, *PATTERN_SHAPE))
        steps = items.double().flatten(1, 2)  # (N, 16 steps, lamps)
        return {"level": steps.mean(dim=(1, 2)), "flicker": (steps[:, 1:] - steps[:, :-1]).abs().mean(dim=(1, 2))}
