"""Tiny networks with known answers for the attribution tests."""

import numpy as np
import pytest
import torch
from torch import nn

from climemu.data.window import WindowedData, build_windows
from tests.helpers import make_sst, section


def make_bn_relu_conv_net(seed: int = 0, months: int = 36) -> nn.Sequential:
    """BN-ReLU-Conv blocks as in the emulator (Table 1), with non-trivial BN statistics.

    BatchNorm with its default statistics is the identity, which would make DeepLift with a
    zero baseline equal gradient x input; random running statistics make the ReLU references
    non-zero, so the rescale rule matters.
    """
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(
        nn.BatchNorm2d(months), nn.ReLU(), nn.Conv2d(months, 6, 3, padding=1, bias=False),
        nn.BatchNorm2d(6), nn.ReLU(), nn.Conv2d(6, 1, 3, padding=1, bias=False))
    with torch.no_grad():
        for bn in (net[0], net[3]):
            n = bn.num_features
            bn.running_mean.copy_(torch.randn(n, generator=g))
            bn.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            bn.weight.copy_(torch.rand(n, generator=g) + 0.5)
            bn.bias.copy_(torch.randn(n, generator=g))
        for conv in (net[2], net[5]):
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * 0.3)
    return net.eval()


class CopyCell(nn.Module):
    """Output cell (i, j) is input month-channel m at cell (k, l): a roll of that channel."""

    def __init__(self, month: int, source: tuple[int, int], target: tuple[int, int]):
        super().__init__()
        self.month = month
        self.shift = (target[0] - source[0], target[1] - source[1])

    def forward(self, x):
        return x[:, self.month:self.month + 1].roll(self.shift, dims=(2, 3))   # (B, 1, H, W)


def conv_kernel_coefficients(conv: nn.Conv2d, i: int, j: int, shape: tuple[int, int]):
    """Exact coefficients of output cell (i, j) of a bias-free 3x3 conv: its kernel placed there."""
    import numpy as np
    w = conv.weight.detach().numpy()[0]                                   # (36, 3, 3)
    coef = np.zeros((w.shape[0],) + tuple(shape))
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if 0 <= i + di < shape[0] and 0 <= j + dj < shape[1]:
                coef[:, i + di, j + dj] = w[:, di + 1, dj + 1]
    return coef


@pytest.fixture(scope="session")
def kernel_coefficients():
    """``kernel_coefficients(conv, i, j, shape)`` (a fixture, so no test imports conftest)."""
    return conv_kernel_coefficients


@pytest.fixture
def bn_relu_conv_net():
    return make_bn_relu_conv_net()


@pytest.fixture
def copy_cell():
    """Factory ``copy_cell(month, source, target)`` (a fixture, so no test imports conftest)."""
    return CopyCell


@pytest.fixture(scope="module")
def windowed():
    """200 months of noise on a 6 x 7 all-ocean grid as windows of lead 1: 10 training samples."""
    rng = np.random.default_rng(0)
    x = rng.normal(15, 1, size=(200, 6, 7)).astype(np.float32)
    ds = make_sst(x, ocean=np.ones((6, 7), bool))
    ds.attrs["smoothing_months"] = 1
    return WindowedData(ds, build_windows(ds, section("window", n_train=10, n_val=4, n_test=4), lead=1))
