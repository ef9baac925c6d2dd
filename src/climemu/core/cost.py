"""The hardware limit that speed is measured against (docs/performance.md).

A stage's throughput means little on its own: the same code runs 3x faster on a quiet machine.
We therefore report it as a fraction of a limit measured in the same run: the dense fp32
matrix-multiply rate of this machine (FLOP/s), divided by the FLOPs one unit of work needs
(counted by ``torch.utils.flop_counter``, which counts matmuls and convolutions, forward and
backward, and nothing memory-bound such as BatchNorm, ReLU or concatenation).
"""

from __future__ import annotations

import time
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode


def synchronize(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def matmul_flops_per_second(device: torch.device | str = "cpu", n: int = 2048,
                            seconds: float = 1.0) -> float:
    """Best measured rate of an ``n x n`` fp32 matmul, ``2 n^3`` FLOPs per product (FLOP/s)."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    torch.mm(a, b)                                            # warm-up: threads, kernels
    synchronize(device)
    best, spent = float("inf"), 0.0
    while spent < seconds:
        start = time.perf_counter()
        torch.mm(a, b)
        synchronize(device)
        took = time.perf_counter() - start
        best, spent = min(best, took), spent + took
    return 2.0 * n ** 3 / best


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker: every FLOP counts under "Global" only.

    The tracker hooks every module's inputs for the backward pass, which fails when the
    counted call runs ``torch.autograd.grad`` with respect to a leaf input ("A leaf node was
    passed to _will_engine_execute_node"), as the attribution engines do. Per-module tables
    are not needed for a total.
    """

    parents = frozenset({"Global"})

    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of calling ``fn()`` once (matmuls and convolutions, forward and backward).

    ``fn`` may call ``torch.autograd.grad`` on leaf inputs: the counter tracks no modules.
    """
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()
    with counter:
        fn()
    return int(counter.get_total_flops())


def best_seconds(fn: Callable[[], object], repeats: int, device: torch.device | str = "cpu") -> float:
    """The fastest of ``repeats`` timed calls of ``fn`` (after one untimed warm-up call)."""
    fn()
    synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best
