"""The paper's DenseNet encoder-decoder (Appendix Table 1; docs/model.md).

Input (B, 36, 70, 125): the 36 preceding months are channels. Output (B, 1, 70, 125).
Row by row (parameters): stem 129,600; dense K16L3 70,080; down 101,952; dense K16L6 119,136;
up 101,952; dense K16L3 49,056; last 34,524; total 606,300.

``skip`` (not in Table 1; ``model.skip``, docs/model.md): a bias-free skip x skip convolution from
the input months straight to the output, added to the decoder's output. Table 1's network reaches
every output cell only through a stride-2 stem and an 18 x 32 bottleneck, so it has no
full-resolution path; in the exact setting it plateaus at about 1.19 times the true predictor's MSE
where one linear 3 x 3-cell filter reaches 1.03 (docs/results.md, "The headline run").

For attribution (Captum DeepLift and DeepLiftShap apply their rule to modules only): every
ReLU is its own ``nn.ReLU`` instance, none in place, and no functional activations.
"""

from __future__ import annotations

import torch
from torch import nn

GROWTH = 16          # K in Table 1
STEM_CHANNELS = 144   # Table 1, row "Convolution"
LAST_CHANNELS = 36    # the last transition's Conv3x3 72 -> 36


def bn_relu_conv(c_in: int, c_out: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    """The paper's composite function: BatchNorm, ReLU, bias-free Conv."""
    return [nn.BatchNorm2d(c_in), nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False)]


class DenseLayer(nn.Module):
    def __init__(self, c_in: int, growth: int = GROWTH):
        super().__init__()
        self.body = nn.Sequential(*bn_relu_conv(c_in, growth, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)   # (B, C + K, H, W)


class DenseBlock(nn.Sequential):
    """L dense layers; each adds K channels to everything before it (Huang et al. 2017)."""

    def __init__(self, c_in: int, layers: int, growth: int = GROWTH):
        super().__init__(*[DenseLayer(c_in + i * growth, growth) for i in range(layers)])
        self.c_out = c_in + layers * growth


class Down(nn.Sequential):
    """BN-ReLU-Conv1x1 halving the channels, then BN-ReLU-Conv3x3 with stride 2."""

    def __init__(self, c_in: int):
        c_out = c_in // 2
        super().__init__(*bn_relu_conv(c_in, c_out, 1), *bn_relu_conv(c_out, c_out, 3, stride=2))
        self.c_out = c_out


class Upsample(nn.Module):
    """Interpolation to a scale factor or to a fixed size; no parameters."""

    def __init__(self, mode: str, scale: int | None = None, size: tuple[int, int] | None = None):
        super().__init__()
        self.mode, self.scale, self.size = mode, scale, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        align = False if self.mode in ("bilinear", "bicubic") else None
        return nn.functional.interpolate(x, size=self.size, scale_factor=self.scale,
                                         mode=self.mode, align_corners=align)


class Up(nn.Sequential):
    """BN-ReLU-Conv1x1 halving the channels, BN-ReLU, upsample x2, Conv3x3 (the decoder of
    Zhu et al. 2019; Table 1 says nearest, the text bicubic)."""

    def __init__(self, c_in: int, mode: str, c_out: int | None = None):
        c_out = c_out or c_in // 2
        super().__init__(*bn_relu_conv(c_in, c_out, 1), nn.BatchNorm2d(c_out), nn.ReLU(),
                         Upsample(mode, scale=2),
                         nn.Conv2d(c_out, c_out, 3, padding=1, bias=False))
        self.c_out = c_out


class Last(nn.Sequential):
    """Last transition: BN-ReLU-Conv1x1 144->72, BN-ReLU, upsample to the grid,
    Conv3x3 72->36, BN-ReLU, Conv3x3 36->1."""

    def __init__(self, c_in: int, size: tuple[int, int], mode: str):
        mid = c_in // 2
        super().__init__(*bn_relu_conv(c_in, mid, 1), nn.BatchNorm2d(mid), nn.ReLU(),
                         Upsample(mode, size=size),
                         nn.Conv2d(mid, LAST_CHANNELS, 3, padding=1, bias=False),
                         *bn_relu_conv(LAST_CHANNELS, 1, 3))


class DenseNet(nn.Module):
    """Table 1 of the paper, block by block."""

    def __init__(self, grid: tuple[int, int] = (70, 125), months: int = 36,
                 upsample: str = "nearest", skip: int = 0):
        super().__init__()
        stem = STEM_CHANNELS
        self.stem = nn.Conv2d(months, stem, 5, stride=2, padding=2, bias=False)   # (B, 144, 35, 63)
        self.dense1 = DenseBlock(stem, 3)                                          # (B, 192, 35, 63)
        self.down = Down(self.dense1.c_out)                                        # (B, 96, 18, 32)
        self.dense2 = DenseBlock(self.down.c_out, 6)                               # (B, 192, 18, 32)
        self.up = Up(self.dense2.c_out, upsample)                                  # (B, 96, 36, 64)
        self.dense3 = DenseBlock(self.up.c_out, 3)                                 # (B, 144, 36, 64)
        self.last = Last(self.dense3.c_out, grid, upsample)                        # (B, 1, 70, 125)
        self.skip = nn.Conv2d(months, 1, skip, padding=skip // 2, bias=False) if skip else None
        if skip:   # the sanity cascade re-initialises it last: like the stem, it reads the input
            self.BLOCKS = ("skip",) + type(self).BLOCKS

    # Table 1's blocks in forward order (the sanity cascade re-initialises them output first)
    BLOCKS = ("stem", "dense1", "down", "dense2", "up", "dense3", "last")

    def encode_decode(self, x: torch.Tensor) -> torch.Tensor:
        for name in type(self).BLOCKS:
            x = getattr(self, name)(x)
        return x                                                                   # (B, 1, 70, 125)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.encode_decode(x)
        return y if self.skip is None else y + self.skip(x)                        # (B, 1, 70, 125)
