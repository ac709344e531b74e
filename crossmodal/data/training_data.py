"""The data a job trains on, as a pairing and a loss term's module see it when the job is built.

:func:`~crossmodal.job.build.build_job` makes one :class:`TrainingData` per job and hands it to the
factory of the recipe's registered ``pairing`` and of each of its ``loss-term`` entries
(``factory(data, **options)``; :mod:`crossmodal.data.pairing`, :mod:`crossmodal.losses.terms`). Descriptor
values over a whole sample set are computed the first time one of them asks, and kept, so a job
whose pairing and loss terms ask for none pays nothing and one that asks twice pays once.

Importing this module imports no torch (describing does).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from crossmodal.errors import RecipeError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from crossmodal.contract.interfaces import Descriptor, SampleSet

__all__ = ["DESCRIBE_BATCH", "TrainingData", "standardize"]

DESCRIBE_BATCH = 256
"""Items described per call when a whole sample set is described: bounds memory (256 Jukepix
phrases are 100 MB of float32) without paying a call per item."""


class TrainingData:
    """The job's two sample sets and, on first use, their descriptor values.

    :param conditions, targets: the job's sample sets.
    :param condition_descriptor, sample_descriptor: the recipe's descriptors (``None`` when it
        names none: asking for those values then raises :class:`~crossmodal.errors.RecipeError`).
    :param origin: names the recipe in messages (``recipe 'toy'``).

    :ivar seconds: wall-clock seconds each side's description took (``"conditions"``,
        ``"targets"``), once computed.
    """

    def __init__(
        self,
        conditions: SampleSet,
        targets: SampleSet,
        condition_descriptor: Descriptor | None = None,
        sample_descriptor: Descriptor | None = None,
        origin: str = "the recipe",
    ) -> None:
        self.conditions, self.targets = conditions, targets
        self.condition_descriptor, self.sample_descriptor = condition_descriptor, sample_descriptor
        self.origin = origin
        self.seconds: dict[str, float] = {}
        self._values: dict[str, dict[str, torch.Tensor]] = {}

    @property
    def condition_descriptors(self) -> dict[str, torch.Tensor]:
        """``{name: values}`` of the condition descriptor over every condition, float64
        ``(len(conditions),)`` each, NaN where undefined; computed once.

        :raises RecipeError: the recipe names no ``condition_descriptor``, or it describes another
            number of items than it was given.
        """
        return self._described("conditions", self.conditions, self.condition_descriptor, "condition_descriptor")

    @property
    def target_descriptors(self) -> dict[str, torch.Tensor]:
        """``{name: values}`` of the sample descriptor over every target, float64
        ``(len(targets),)`` each, NaN where undefined; computed once.

        :raises RecipeError: the recipe names no ``sample_descriptor``, or it describes another
            number of items than it was given.
        """
        return self._described("targets", self.targets, self.sample_descriptor, "sample_descriptor")

    def _described(self, role: str, data: SampleSet, descriptor: Descriptor | None,
                   field: str) -> dict[str, torch.Tensor]:
        if role in self._values:
            return self._values[role]
        if descriptor is None:
            raise RecipeError(
                f"{self.origin} names no {field}, but its pairing or an extra loss term needs the {role}' "
                f"descriptors; set {field} to a registered descriptor (crossmodal list-components --kind descriptor)"
            )
        import torch

        began = time.perf_counter()
        parts: dict[str, list[torch.Tensor]] = {}
        with torch.no_grad():
            for start in range(0, len(data), DESCRIBE_BATCH):
                items = data.batch(torch.arange(start, min(start + DESCRIBE_BATCH, len(data))))
                for name, value in descriptor.described(items).items():
                    parts.setdefault(name, []).append(value)
        values = {name: torch.cat(chunks) for name, chunks in parts.items()}
        for name, value in values.items():
            if value.shape != (len(data),):
                raise RecipeError(
                    f"{self.origin}: {field} {type(descriptor).__name__} gave {value.shape[0]} values of "
                    f"{name!r} for {len(data)} {role}; describe() must give one per item"
                )
        self.seconds[role] = time.perf_counter() - began
        self._values[role] = values
        return values


def standardize(features: torch.Tensor) -> torch.Tensor:
    """Each column to mean 0 and standard deviation 1 over the rows, float64 ``(N, D)``.

    Computed over the finite values of a column; NaN (undefined for that item) becomes 0, the
    column's mean, so it pulls no item towards any other. A constant column becomes 0.
    """
    import torch

    values = features.double().reshape(features.shape[0], -1)
    finite = torch.isfinite(values)
    count = finite.sum(dim=0).clamp_min(1)
    filled = torch.where(finite, values, torch.zeros_like(values))
    mean = filled.sum(dim=0) / count
    centred = torch.where(finite, values - mean, torch.zeros_like(values))
    std = (centred.pow(2).sum(dim=0) / count).sqrt()
    return torch.where(std > 0, centred / std.clamp_min(1e-300), torch.zeros_like(centred))
