"""Several processes through PyTorch distributed, started by ``torchrun`` (docs/design.md).

A stage with ``nproc > 1`` starts itself again under ``torch.distributed.run`` (the module
behind the ``torchrun`` command): N processes, each told its rank by environment variables,
NCCL between GPUs and gloo between CPU processes. Work is split by rank (:func:`shard`) and the
results are combined with collective operations (:func:`all_reduce_sum`, :func:`gather`);
only rank 0 writes outputs. With one process every helper here is the identity, so the
library's code paths are the same with and without ``torchrun``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Sequence, TypeVar

import numpy as np
import torch
import torch.distributed as dist

from climemu.core.devices import resolve_device

T = TypeVar("T")


def under_torchrun() -> bool:
    """Whether this process was started by torchrun (it sets these variables)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def relaunch(nproc: int, script: str, key: str) -> bool:
    """Run ``script`` under ``torchrun --nproc_per_node nproc`` unless that is already done.

    Returns True when this (parent) process launched the workers and they all succeeded, so the
    caller should stop; False when the caller itself is a worker, or ``nproc`` is 1. ``key``
    names the param in error messages.
    """
    if nproc < 1:
        raise ValueError(f"{key} must be at least 1 (got {nproc})")
    if nproc == 1 or under_torchrun():
        return False
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", script]
    print(f"{key}={nproc}: {' '.join(command[1:])}", flush=True)
    done = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": _threads_per_rank(nproc)})
    if done.returncode:
        raise RuntimeError(f"torchrun with {nproc} processes failed (exit {done.returncode}); "
                           "see the worker output above")
    return True


def _threads_per_rank(nproc: int) -> str:
    if "OMP_NUM_THREADS" in os.environ:
        return os.environ["OMP_NUM_THREADS"]
    return str(max(1, (os.cpu_count() or 1) // nproc))


def setup(device: torch.device) -> None:
    """Join the process group when started by torchrun: NCCL on GPUs, gloo on CPUs."""
    if under_torchrun() and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def local_device(device: torch.device) -> torch.device:
    """This rank's device: its own GPU under torchrun, else ``device`` unchanged."""
    if device.type == "cuda" and under_torchrun():
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


def start(nproc: int, script: str, key: str, device_name: str) -> torch.device | None:
    """A stage's start under torchrun: ``None`` in the launching process once the ``nproc`` workers
    have finished (the stage returns), else this process's device with the process group joined."""
    if relaunch(nproc, script, key):
        return None
    device = local_device(resolve_device(device_name))
    setup(device)
    return device


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    return rank() == 0


def shard(items: Sequence[T]) -> list[T]:
    """This rank's contiguous block of ``items`` (block sizes differ by at most one).

    Contiguous, so that :func:`gather` of per-item results, in rank order, is in item order.
    """
    n, w, r = len(items), world(), rank()
    return list(items[r * n // w:(r + 1) * n // w])


def _backend_device() -> torch.device:
    if dist.is_initialized() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(array: np.ndarray) -> np.ndarray:
    """Element-wise sum of ``array`` over all ranks (float64 kept; identity with one process)."""
    if not dist.is_initialized():
        return array
    t = torch.from_numpy(np.ascontiguousarray(array)).to(_backend_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu().numpy()


def gather(values: list) -> list:
    """Concatenation, in rank order, of every rank's list (picklable items)."""
    if not dist.is_initialized():
        return list(values)
    parts: list = [None] * world()
    dist.all_gather_object(parts, list(values))
    return [v for part in parts for v in part]
