"""DeepLift's backward pass through the decoder on a small crop around the explained cell.

One output cell of the Table 1 network depends on the bottleneck features (the decoder's input,
(B, C, 18, 32)) only within about 6 x 6 of their cells, and on the decoder's layers within a few
cells of its own position (docs/performance.md, "Where the backward's FLOPs go"). The dense
backward pass nevertheless runs every decoder convolution over the whole map: about half of the
backward's FLOPs (the decoder's full-resolution Conv3x3 72 -> 36 alone is 0.41 of 2.28 GFLOP).

DeepLift's backward with fixed multipliers is the gradient of a linear network: every ReLU
becomes a product with its multiplier (computed in the forward pass, :mod:`.fast`), everything
else of the decoder (convolution, BatchNorm in eval mode, concatenation, nearest upsampling) is
linear already. So the gradient of the cell with respect to the bottleneck is computed exactly
by running that linear decoder on a crop of the bottleneck that holds the cell's whole
dependency cone, with the multipliers cropped alike; the crop's zero padding only changes values
outside the cone. The encoder's backward (dense: the cone covers most of its maps) then starts
from that gradient, placed in a map of zeros.

Exact only with nearest upsampling (the index map of each upsampling is reproduced on the crop);
:func:`supports` says whether a network qualifies, otherwise :mod:`.fast` uses the dense pass.
Checked against the dense backward and Captum in tests/attribution/test_attr_crop.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from climemu.models.densenet import DenseLayer, Upsample

DECODER = ("up", "dense3", "last")   # the blocks after the bottleneck, in both architectures
HALO = 4     # cells of margin on the middle grid: four 3x3 convolutions there (Up's last, dense3's three)


def supports(net: nn.Module) -> bool:
    """A DenseNet-family network whose decoder upsamples with nearest neighbours."""
    if not all(hasattr(net, name) for name in DECODER):
        return False
    ups = [m for name in DECODER for m in getattr(net, name).modules() if isinstance(m, Upsample)]
    return bool(ups) and all(u.mode == "nearest" for u in ups)


@dataclass(frozen=True)
class Window:
    """Rows [r0, r1) and columns [c0, c1) of one grid."""
    r0: int
    r1: int
    c0: int
    c1: int

    def of(self, t: torch.Tensor) -> torch.Tensor:
        return t[..., self.r0:self.r1, self.c0:self.c1]


def _clip(lo: int, hi: int, n: int) -> tuple[int, int]:
    return max(0, lo), min(n, hi)


def nearest_index(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out,) the source index of each output row of ``interpolate(mode="nearest", size=...)``,
    read off torch itself so that it is the very map the network uses."""
    src = torch.arange(n_in, dtype=torch.float64).view(1, 1, n_in, 1)
    return nn.functional.interpolate(src, size=(n_out, 1), mode="nearest")[0, 0, :, 0].long()


class DecoderCrop:
    """The decoder's DeepLift gradient for one output cell, on a crop of the bottleneck.

    Built once per engine: ``net`` is the engine's copy, its ReLUs swapped for the rescale
    rule; ``relus``: the decoder's, each holding the multiplier of the last forward pass in
    its attribute ``m`` (B, C, H, W).
    """

    def __init__(self, net: nn.Module, relus, bottleneck: tuple[int, int], grid: tuple[int, int]):
        self.net, self.relus = net, set(relus)
        self.bottleneck, self.grid = bottleneck, grid
        self.mid = (2 * bottleneck[0], 2 * bottleneck[1])        # after Up's x2: (36, 64)
        self.rows = nearest_index(self.mid[0], grid[0])          # (70,) mid-grid row of each row
        self.cols = nearest_index(self.mid[1], grid[1])          # (125,)

    def windows(self, i: int, j: int) -> tuple[Window, Window, Window]:
        """The cell's crops of the bottleneck, the middle (x2) grid and the output grid."""
        out = Window(*_clip(i - 3, i + 4, self.grid[0]), *_clip(j - 3, j + 4, self.grid[1]))
        rs, cs = self.rows[out.r0:out.r1], self.cols[out.c0:out.c1]
        lo_r, hi_r = int(rs.min()) - HALO, int(rs.max()) + 1 + HALO
        lo_c, hi_c = int(cs.min()) - HALO, int(cs.max()) + 1 + HALO
        bott = Window(*_clip(lo_r // 2, math.ceil(hi_r / 2), self.bottleneck[0]),
                      *_clip(lo_c // 2, math.ceil(hi_c / 2), self.bottleneck[1]))
        mid = Window(2 * bott.r0, 2 * bott.r1, 2 * bott.c0, 2 * bott.c1)
        return bott, mid, out

    def grad(self, h: torch.Tensor, i: int, j: int) -> torch.Tensor:
        """d out[:, 0, i, j] / d h for each sample, as a (B, C, 18, 32) map (zero off the crop)."""
        bott, mid, out = self.windows(i, j)
        x = bott.of(h.detach()).clone().requires_grad_(True)       # (B, C, crop rows, crop cols)
        state = {"window": bott, "mid": mid, "out": out}
        y = x
        for name in DECODER:
            y = self._run(getattr(self.net, name), y, state)         # (B, 1, out rows, out cols)
        (g,) = torch.autograd.grad(y[:, 0, i - out.r0, j - out.c0].sum(), x)
        full = torch.zeros_like(h)
        bott.of(full).copy_(g)
        return full

    def _run(self, module: nn.Module, x: torch.Tensor, state: dict) -> torch.Tensor:
        if isinstance(module, DenseLayer):
            return torch.cat([x, self._run(module.body, x, state)], dim=1)
        if isinstance(module, nn.Sequential):
            for child in module:
                x = self._run(child, x, state)
            return x
        if module in self.relus:                # a ReLU: the rescale rule's fixed multiplier
            return x * state["window"].of(module.m)
        if isinstance(module, Upsample):
            if module.size is None:             # x2 within the decoder: the crop is aligned
                state["window"] = state["mid"]
                return module(x)
            w, m = state["out"], state["mid"]   # to the grid: the network's own index map
            state["window"] = w
            r = (self.rows[w.r0:w.r1] - m.r0).to(x.device)
            c = (self.cols[w.c0:w.c1] - m.c0).to(x.device)
            return x.index_select(2, r).index_select(3, c)
        return module(x)                        # convolution, BatchNorm (eval): linear
