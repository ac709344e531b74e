"""The sample writer: each generated pattern as a ``.csv`` table and a ``.txt`` drawing."""

from __future__ import annotations

from pathlib import Path

import torch

from crossmodal import check_shape
from crossmodal.storage.outputs import write_new_group

from .constants import N_LAMPS, PATTERN_SHAPE

__all__ = ["PatternWriter"]

SHADES = " .:-=+*#%@"
"""Characters for brightness 0 to 1 in ten even steps, in the ``.txt`` drawing."""


class PatternWriter:
    """Writes light patterns as ``.csv`` tables (one row per step) and ``.txt`` drawings (one line per lamp).

    A :class:`crossmodal.SampleWriter`. Sample ``i`` of the batch is written as ``STEM-i.csv``
    and ``STEM-i.txt`` (``STEM-0.csv``, ``STEM-0.txt``, ``STEM-1.csv``, ...), a batch of one
    included, as the interface asks. Existing files are
    never replaced: a taken name gets the first free ``-2``, ``-3``... shared by the pair
    (:func:`crossmodal.storage.outputs.write_new_group`). The CSV has the columns ``segment, step, lamp1, lamp2``
    with brightness in [0, 1]; the text file draws each lamp as a line of :data:`SHADES`,
    segments separated by ``|``.

    :param decimals: digits after the decimal point in the CSV.
    """

    def __init__(self, decimals: int = 3) -> None:
        self.decimals = decimals

    def write(self, samples: torch.Tensor, directory: Path, stem: str) -> list[Path]:
        """Write ``samples`` float ``(B, 2, 8, 2)`` in [0, 1]; returns the ``2 * B`` paths written."""
        check_shape(self, "samples", samples, (None, *PATTERN_SHAPE))
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for index, pattern in enumerate(samples.detach().float().clamp(0, 1).cpu()):  # (segments, steps, lamps)
            header = "segment,step," + ",".join(f"lamp{lamp + 1}" for lamp in range(N_LAMPS))
            rows = [
                f"{segment},{step}," + ",".join(f"{v:.{self.decimals}f}" for v in pattern[segment, step].tolist())
                for segment in range(pattern.shape[0])
                for step in range(pattern.shape[1])
            ]
            name = f"{stem}-{index}"
            table = "\n".join([header, *rows]) + "\n"
            levels = (pattern * (len(SHADES) - 1)).round().long()  # (segments, steps, lamps), 0-9
            lines = [
                f"lamp{lamp + 1} |" + "|".join("".join(SHADES[v] for v in segment.tolist()) for segment in levels[..., lamp]) + "|"
                for lamp in range(N_LAMPS)
            ]
            drawing = "\n".join(lines) + "\n"
            written += write_new_group([
                (directory / f"{name}.csv", lambda handle, text=table: handle.write(text.encode("utf-8"))),
                (directory / f"{name}.txt", lambda handle, text=drawing: handle.write(text.encode("utf-8"))),
            ])
        return written
