"""The hardware limit that speed is measured against (docs/performance.md).

A stage's throughput means little on its own: the same code runs 3x faster on a quiet machine.
We therefore report it as a fraction of a limit measured in the same run: the best rate this
machine reaches in the precision the work runs in (:func:`peak_flops_per_second`: dense matmuls of
several sizes and a convolution of the network's own shape, FLOP/s), divided by the FLOPs one unit
of work needs (counted by ``torch.utils.flop_counter``, which counts matmuls and convolutions,
forward and backward, and nothing memory-bound such as BatchNorm, ReLU or concatenation).
A fraction above 100% means the limit was measured too low, never that the work beat it.
"""

from __future__ import annotations

import time
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode


def synchronize(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _best_rate(fn: Callable[[], object], flops: float, device, seconds: float) -> float:
    """``flops`` over the fastest call of ``fn`` within ``seconds`` of calls (after a warm-up)."""
    fn()                                                      # warm-up: threads, kernels, packing
    synchronize(device)
    best, spent = float("inf"), 0.0
    while spent < seconds:
        start = time.perf_counter()
        fn()
        synchronize(device)
        took = time.perf_counter() - start
        best, spent = min(best, took), spent + took
    return flops / best


def matmul_flops_per_second(device: torch.device | str = "cpu", n: int = 2048,
                            seconds: float = 1.0, dtype: torch.dtype = torch.float32) -> float:
    """Best measured rate of an ``n x n`` matmul in ``dtype``, ``2 n^3`` FLOPs per product (FLOP/s)."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    return _best_rate(lambda: torch.mm(a, b), 2.0 * n ** 3, device, seconds)


def conv_flops_per_second(device: torch.device | str = "cpu", seconds: float = 1.0,
                          dtype: torch.dtype = torch.float32) -> float:
    """Best measured rate of a 3 x 3 convolution of the DenseNet's dense blocks (a batch of 8,
    192 -> 48 channels on the stem's 35 x 63 grid, ``channels_last``), forward only (FLOP/s)."""
    conv = torch.nn.Conv2d(192, 48, 3, padding=1, bias=False).to(device, dtype=dtype,
                                                                  memory_format=torch.channels_last)
    x = torch.randn(8, 192, 35, 63, device=device).to(dtype).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        flops = count_flops(lambda: conv(x))
        return _best_rate(lambda: conv(x), flops, device, seconds)


MATMUL_SIZES = (512, 1024, 2048, 4096)


def peak_flops_per_second(device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                          seconds: float = 0.5, sizes=MATMUL_SIZES) -> dict:
    """The limit in ``dtype``: the best rate over matmuls of ``sizes`` and the network's convolution.

    Returns ``{"flops_per_second": best, "by_kernel": {"matmul_<n>": rate, "conv3x3": rate}}``
    (FLOP/s): the best is the limit, the others show how far from it each shape runs.
    """
    rates = {f"matmul_{n}": matmul_flops_per_second(device, n, seconds, dtype) for n in sizes}
    rates["conv3x3"] = conv_flops_per_second(device, seconds, dtype)
    return {"flops_per_second": max(rates.values()), "by_kernel": rates}


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
