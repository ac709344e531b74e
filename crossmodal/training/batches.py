"""Training batches: this process's share of every global batch, on the device.

Every process draws the same *global* batch of indices and noise from identically seeded
generators and keeps its own slice of it, so the slices partition the global batch and every
RNG state stays the same on every process (see :mod:`crossmodal.training.trainer`).
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from crossmodal.job.build import Job
from crossmodal.training.config import TrainConfig
from crossmodal.errors import RecipeError
from crossmodal.contract.interfaces import SampleSet
from crossmodal.training.updates import Batch

DEVICE_CACHE_LIMIT_BYTES = 2 * 1024**3
"""A dataset whose float32 items fit in this many bytes is copied to a CUDA device once."""

_CACHE_CHUNK = 1024  # items per host -> device copy when caching a dataset on the device


def local_batch(batch_size: int, world_size: int) -> int:
    """Pairs per process when the global ``batch_size`` is split over ``world_size`` processes.

    :raises RecipeError: when it does not split evenly.
    """
    if batch_size % world_size:
        raise RecipeError(
            f"batch_size {batch_size} (the global batch) cannot be split evenly over {world_size} "
            f"processes; choose a multiple of {world_size}"
        )
    return batch_size // world_size


class DeviceItems:
    """Fetches items of a :class:`SampleSet` onto the device; small sets are kept on a GPU."""

    def __init__(self, data: SampleSet, device: torch.device) -> None:
        self.data = data
        self.device = device
        self.cached: torch.Tensor | None = None
        n_bytes = len(data) * math.prod(data.sample_shape) * 4  # float32
        if device.type == "cuda" and n_bytes <= DEVICE_CACHE_LIMIT_BYTES:
            chunks = [
                data.batch(torch.arange(start, min(start + _CACHE_CHUNK, len(data)))).to(device)
                for start in range(0, len(data), _CACHE_CHUNK)
            ]
            self.cached = torch.cat(chunks)

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.device.type == "cuda":  # pinned, so the copy does not wait for queued kernels
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device)

    def __call__(self, indices: torch.Tensor) -> torch.Tensor:
        """Items ``(len(indices), *item_shape)`` on the device."""
        if self.cached is not None:
            return self.cached[self._to_device(indices)]
        return self._to_device(self.data.batch(indices))


class BatchDraws:
    """Draws this process's share ``b = batch_size / world_size`` of each global batch.

    Indices come from the CPU generator :attr:`rng` (pairings are drawn on the CPU); noise and
    the penalty's mixing weights from :attr:`device_rng` on the device (``rng`` itself on a
    CPU), so no host-to-device copy is needed. Both are part of a checkpoint.

    :param sample_noise: ``sample_noise(n, generator, device)``, the generator's noise ``(n, noise_dim)``.
    :raises RecipeError: when ``batch_size`` is not a multiple of ``world_size``.
    """

    def __init__(
        self,
        job: Job,
        config: TrainConfig,
        device: torch.device,
        sample_noise: Callable[[int, torch.Generator, torch.device], torch.Tensor],
        world_size: int,
        rank: int,
    ) -> None:
        share = local_batch(config.batch_size, world_size)
        self.local = slice(rank * share, (rank + 1) * share)
        self.batch_size, self.world_size, self.rank = config.batch_size, world_size, rank
        self.device = device
        self.pairing = job.pairing
        self.sizes = (len(job.conditions), len(job.targets))
        self.sample_noise = sample_noise
        self.rng = torch.Generator().manual_seed(config.seed)
        self.device_rng = (
            self.rng if device.type == "cpu" else torch.Generator(device=device).manual_seed(config.seed)
        )
        self.conditions = DeviceItems(job.conditions, device)
        self.targets = DeviceItems(job.targets, device)

    def batch(self, with_targets: bool = True) -> Batch:
        """Conditions, targets (``None`` unless ``with_targets``), noise and the pairs' indices of
        this process's share."""
        condition_idx, target_idx = self.pairing(*self.sizes, self.batch_size, self.rng)
        condition_idx, target_idx = condition_idx[self.local], target_idx[self.local]
        conditions = self.conditions(condition_idx)
        real = self.targets(target_idx) if with_targets else None
        noise = self.sample_noise(self.batch_size, self.device_rng, self.device)[self.local]
        return Batch(conditions, real, noise, condition_idx, target_idx)

    def penalty_rng(self) -> torch.Generator:
        """The generator from which the gradient penalty draws this process's ``b`` mixing weights.

        Alone: ``device_rng``, as always. With N processes: a copy of the shared CPU ``rng``
        advanced past the lower ranks' ``b`` weights each, while ``rng`` itself skips the global
        batch's ``batch_size`` weights; so the processes' weights are consecutive slices of one
        draw (on a CPU run the very values one process would draw) and ``rng`` stays the same
        on every rank. (A CUDA generator draws in a different order per call size, hence the CPU.)
        """
        if self.world_size == 1:
            return self.device_rng
        share = torch.Generator().set_state(self.rng.get_state())
        for _ in range(self.rank):
            torch.rand(self.local.stop - self.local.start, generator=share)
        torch.rand(self.batch_size, generator=self.rng)
        return share
