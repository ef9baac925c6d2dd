"""The variant the paper proposes (Sec. 4.3): Table 1 plus a fully connected layer at the bottleneck.

The convolutional network sees only a neighbourhood of each cell (its effective receptive field
is far smaller than the domain), so it cannot use a remote link. Following the authors' later
``DenseNetFNN`` (docs/model.md), at the 18 x 32 bottleneck the features are squeezed to
``fnn_channels`` maps by BN-ReLU-Conv3x3, flattened, mixed by one bias-free ``Linear`` (every
bottleneck cell reaches every other), reshaped, passed through a small BN-ReLU-Conv3x3 path and
concatenated back onto the convolutional features before the decoder. The decoder's first
transition then maps 192 + 16 channels to the same 96 as in Table 1.
"""

from __future__ import annotations

import torch
from torch import nn

from climemu.models.densenet import DenseNet, GROWTH, Up, bn_relu_conv


def conv_size(n: int, kernel: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - kernel) // stride + 1


def bottleneck_size(grid: tuple[int, int]) -> tuple[int, int]:
    """Grid after the stem (k5 s2 p2) and the down transition (k3 s2 p1): 70 x 125 -> 18 x 32."""
    return tuple(conv_size(conv_size(n, 5, 2, 2), 3, 2, 1) for n in grid)


class GlobalLink(nn.Module):
    """(B, C, h, w) -> (B, GROWTH, h, w): a bias-free dense map across all bottleneck cells."""

    def __init__(self, c_in: int, size: tuple[int, int], channels: int = 1):
        super().__init__()
        self.size, self.channels = size, channels
        self.squeeze = nn.Sequential(*bn_relu_conv(c_in, channels, 3))
        n = channels * size[0] * size[1]
        self.linear = nn.Linear(n, n, bias=False)
        self.expand = nn.Sequential(*bn_relu_conv(channels, GROWTH, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.squeeze(x).flatten(1)                                    # (B, channels * h * w)
        z = self.linear(z).view(-1, self.channels, *self.size)            # (B, channels, h, w)
        return self.expand(z)                                             # (B, 16, h, w)


class DenseNetFNN(DenseNet):
    BLOCKS = ("stem", "dense1", "down", "dense2", "link", "up", "dense3", "last")

    def __init__(self, grid: tuple[int, int] = (70, 125), months: int = 36, upsample: str = "nearest",
                 fnn_channels: int = 1, skip: int = 0):
        super().__init__(grid, months, upsample, skip)
        c = self.dense2.c_out
        self.link = GlobalLink(c, bottleneck_size(grid), fnn_channels)
        self.up = Up(c + GROWTH, upsample, c_out=self.up.c_out)          # 208 -> 96 channels

    def encode_decode(self, x: torch.Tensor) -> torch.Tensor:
        for name in ("stem", "dense1", "down", "dense2"):
            x = getattr(self, name)(x)
        x = torch.cat([x, self.link(x)], dim=1)                           # (B, 208, 18, 32)
        for name in ("up", "dense3", "last"):
            x = getattr(self, name)(x)
        return x                                                          # (B, 1, 70, 125)
