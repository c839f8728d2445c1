"""Where this process stands in a distributed job, and the few collectives the package runs itself.

Everything here works unchanged in a single process (no ``torch.distributed``
process group): the rank is 0 of 1, a gather returns the local object alone and
a reduction leaves the value as it is. Metrics are not gathered here: they are
torchmetrics metrics (:mod:`iqa.metrics`, :mod:`iqa.ladder`), which gather
their own state.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist

__all__ = ["all_reduce_max_", "dist_info", "gather_to_all", "is_distributed", "worker_info"]


def is_distributed() -> bool:
    """Whether a ``torch.distributed`` process group is up in this process."""
    return dist.is_available() and dist.is_initialized()


def dist_info() -> tuple[int, int]:
    """``(rank, world size)`` from torch.distributed, else from the launcher's environment (``RANK``, ``WORLD_SIZE``).

    The environment fallback matters in DataLoader workers and before Lightning
    has set the process group up, when the launcher has already decided the rank.
    """
    if is_distributed():
        return dist.get_rank(), dist.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def worker_info() -> tuple[int, int]:
    """``(worker id, number of workers)`` inside a DataLoader worker, ``(0, 1)`` in the main process."""
    info = torch.utils.data.get_worker_info()
    return (info.id, info.num_workers) if info is not None else (0, 1)


def gather_to_all(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order, on every rank; ``[obj]`` in a single process.

    A collective: under DDP every rank must call it, the same number of times.
    """
    if is_distributed() and dist.get_world_size() > 1:
        out: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(out, obj)
        return out
    return [obj]


def all_reduce_max_(tensor: torch.Tensor) -> torch.Tensor:
    """In place: the element-wise maximum of ``tensor`` over ranks (a collective); returned for chaining."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return tensor
