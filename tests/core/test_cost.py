"""FLOP counting and the matmul rate behind the benchmarks' fractions of the limit."""

import torch
from torch import nn

from climemu.core.cost import best_seconds, count_flops, matmul_flops_per_second, peak_flops_per_second


def test_counts_a_convolution_by_hand():
    # Conv 3x3, 4 -> 8 channels, no bias, on 10 x 12 with padding 1: each output value is
    # 4 * 9 multiply-adds, 8 * 10 * 12 outputs: 2 * 36 * 960 = 69,120 FLOPs.
    conv = nn.Conv2d(4, 8, 3, padding=1, bias=False)
    assert count_flops(lambda: conv(torch.randn(1, 4, 10, 12))) == 69_120


def test_counts_the_input_gradient_of_a_frozen_linear_layer():
    # y = x W^T with x (2, 5), W (3, 5): forward 2*2*5*3 = 60; the input gradient is another
    # (2, 3) x (3, 5) product, 60; frozen weights: no weight gradient.
    lin = nn.Linear(5, 3, bias=False).requires_grad_(False)
    x = torch.randn(2, 5, requires_grad=True)
    assert count_flops(lambda: lin(x).sum().backward()) == 120


def test_matmul_rate_is_positive_and_timing_returns_the_best():
    assert matmul_flops_per_second(n=64, seconds=0.01) > 0
    calls = []
    assert best_seconds(lambda: calls.append(1), repeats=3) >= 0
    assert len(calls) == 4          # one warm-up, three timed


def test_counts_autograd_grad_on_a_leaf_input():
    # FlopCounterMode's module tracker fails on torch.autograd.grad with respect to a leaf;
    # count_flops tracks no modules. Conv 1x1, 2 -> 3 channels on (2, 2, 4, 5): forward
    # 2 * 2*4*5 * 2*3 = 480; input gradient (frozen weights) another 480: 960.
    conv = nn.Conv2d(2, 3, 1, bias=False).requires_grad_(False)
    x = torch.randn(2, 2, 4, 5, requires_grad=True)
    assert count_flops(lambda: torch.autograd.grad(conv(x).sum(), x)) == 960


def test_the_limit_is_the_best_of_its_kernels():
    peak = peak_flops_per_second(seconds=0.01, sizes=(32, 64))
    assert set(peak["by_kernel"]) == {"matmul_32", "matmul_64", "conv3x3"}
    assert peak["flops_per_second"] == max(peak["by_kernel"].values()) > 0
    assert peak_flops_per_second(dtype=torch.bfloat16, seconds=0.01, sizes=(32,))["flops_per_second"] > 0
