"""Data-parallel training on ``torch.distributed``: the process group and the few collectives the trainer needs.

A run is distributed when it is launched by ``torchrun`` (or ``python -m torch.distributed.run``),
which sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` for every process::

    torchrun --nproc-per-node 2 -m crossmodal train --plugin NAME ...

:func:`init` joins the process group (gloo for CPU training, NCCL for CUDA), :func:`device_for`
gives each process its own GPU (``cuda:LOCAL_RANK``), :func:`wrap` puts a module in
:class:`~torch.nn.parallel.DistributedDataParallel`, and :func:`teardown` leaves the group.
Everything here is a no-op, or returns the single-process answer, when no process group is
initialised, so the trainer calls these functions unconditionally.
"""

from __future__ import annotations

import os
import warnings
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from crossmodal.training.config import resolve_device
from crossmodal.errors import RecipeError

__all__ = [
    "all_reduce_mean",
    "barrier",
    "broadcast_object",
    "check_same",
    "device_for",
    "env_world_size",
    "init",
    "is_distributed",
    "is_main_process",
    "local_rank",
    "rank",
    "teardown",
    "world_size",
    "wrap",
]

TIMEOUT = timedelta(minutes=30)
"""How long a collective waits for the other processes (rank 0 evaluates and writes alone meanwhile)."""


def env_world_size() -> int:
    """``WORLD_SIZE`` as set by torchrun (1 when not launched by it)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_distributed() -> bool:
    """Whether this process is in an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    """Number of training processes (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank, 0 to ``world_size() - 1`` (0 without a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def local_rank() -> int:
    """This process's index on its machine (``LOCAL_RANK``; the global rank when unset)."""
    return int(os.environ.get("LOCAL_RANK", rank()))


def is_main_process() -> bool:
    """True on rank 0: the one process that logs, evaluates and writes files."""
    return rank() == 0


def device_for(name: str) -> torch.device:
    """Resolve a device name (``auto``, ``cpu``, ``cuda``, ``cuda:N``) for this process.

    In a distributed run every process trains on its own GPU, ``cuda:LOCAL_RANK``, whatever
    index was asked for, and that GPU becomes the current CUDA device.
    """
    device = resolve_device(name)
    if device.type == "cuda" and is_distributed():
        device = torch.device("cuda", local_rank())
        torch.cuda.set_device(device)
    return device


def init(
    device_name: str = "auto",
    *,
    init_method: str = "env://",
    world_size: int | None = None,
    rank: int | None = None,
) -> bool:
    """Join the process group when this process is one of several; returns whether it is distributed.

    The backend follows the device: NCCL when ``device_name`` resolves to CUDA, gloo on the CPU.
    Without arguments, the group is read from torchrun's environment variables (nothing is done
    when ``WORLD_SIZE`` is unset or 1); tests pass ``init_method="file://..."``, ``world_size``
    and ``rank``. Calling it again in an initialised process does nothing.
    """
    if dist.is_initialized():
        return is_distributed()
    size = env_world_size() if world_size is None else world_size
    if size <= 1:
        return False
    if not dist.is_available():
        raise RecipeError(f"WORLD_SIZE={size} but this torch build has no torch.distributed")
    backend = "nccl" if resolve_device(device_name).type == "cuda" else "gloo"
    if backend == "nccl":  # NCCL collectives (object broadcasts too) run on the current GPU: ours
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank or 0)))
    options: dict[str, Any] = {"backend": backend, "init_method": init_method, "timeout": TIMEOUT}
    if world_size is not None:
        options["world_size"] = world_size
    if rank is not None:
        options["rank"] = rank
    dist.init_process_group(**options)
    return True


TEARDOWN_TIMEOUT = timedelta(minutes=2)
"""How long :func:`teardown` waits for the other processes to reach it before leaving anyway."""


def teardown() -> None:
    """Wait until every process gets here, then leave the process group (nothing to do without one).

    Rank 0 keeps working after the last collective of a run (evaluating, writing, printing),
    and gloo's threads and connections outlive ``destroy_process_group`` once DDP has used the
    group (something keeps the backend alive until the process exits). Without this barrier
    rank 1 began exiting while rank 0 was still busy, so each process's exit could close
    connections that the other's gloo thread was still watching; the likely cause of an
    occasional ``terminate called without an active exception`` abort. The barrier makes the
    processes leave together; it is bounded (:data:`TEARDOWN_TIMEOUT`) and a failure of it
    (a peer that crashed or never comes) is ignored, so an error path neither hangs nor hides
    the original error.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    try:
        if is_distributed():
            if dist.get_backend() == "gloo":
                dist.monitored_barrier(timeout=TEARDOWN_TIMEOUT)
            else:
                dist.barrier()
    except Exception as err:  # noqa: BLE001 - a peer is gone: leave anyway, the caller reports the real error
        warnings.warn(f"leaving the process group without waiting for every process: {err}", RuntimeWarning)
    finally:
        dist.destroy_process_group()


def barrier() -> None:
    """Wait until every process gets here (e.g. until rank 0 has written a checkpoint)."""
    if is_distributed():
        dist.barrier()


def broadcast_object(value: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``value`` (any picklable object) on every process; ``value`` itself when alone."""
    if not is_distributed():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def check_same(value: Any, what: str) -> None:
    """Raise :class:`RecipeError` unless every process holds an equal ``value`` (e.g. the options).

    :param what: names the value in the message, e.g. ``"training options"``.
    """
    if not is_distributed():
        return
    values: list[Any] = [None] * world_size()
    dist.all_gather_object(values, value)
    differing = [r for r, other in enumerate(values) if other != values[0]]
    if differing:
        raise RecipeError(
            f"the {what} differ between processes: rank 0 has {values[0]!r}, rank {differing[0]} has "
            f"{values[differing[0]]!r}; start every process with the same command line"
        )


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """The mean of ``tensor`` over all processes (on its device; NCCL needs it on the GPU)."""
    if not is_distributed():
        return tensor
    total = tensor.clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total / world_size()


def wrap(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` in :class:`~torch.nn.parallel.DistributedDataParallel`, or itself when alone.

    The wrapper shares the module's parameters, averages their gradients over the processes
    during ``backward()`` and broadcasts rank 0's buffers (e.g. BatchNorm running statistics)
    before each forward. ``find_unused_parameters`` stays off: every parameter must take part in
    each backward that follows a forward through the wrapper.
    """
    if not is_distributed():
        return module
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        return DistributedDataParallel(module, device_ids=[device.index], output_device=device.index)
    return DistributedDataParallel(module)
