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


OUT = 3      # output cells of margin around the explained cell: the last two 3x3 convolutions reach 2


def nearest_index(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out,) the source index of each output row of ``interpolate(mode="nearest", size=...)``,
    read off torch itself so that it is the very map the network uses."""
    src = torch.arange(n_in, dtype=torch.float64).view(1, 1, n_in, 1)
    return nn.functional.interpolate(src, size=(n_out, 1), mode="nearest")[0, 0, :, 0].long()


class Axis:
    """One axis (rows or columns) of the three grids: bottleneck (n), middle (2n), output.

    Every cell gets windows of the same sizes, so that all cells of a pass run through the
    decoder as one batch; near an edge a window is shifted to end at the edge, where the
    crop's zero padding is the network's own.
    """

    def __init__(self, n_bott: int, n_out: int):
        self.n_bott, self.n_out = n_bott, n_out
        self.src = nearest_index(2 * n_bott, n_out)           # (n_out,) middle index per output
        self.out_size = min(2 * OUT + 1, n_out)
        needed = [self._needed(i) for i in range(n_out)]
        self.bott_size = max(hi - lo for lo, hi in needed)

    def _out_start(self, i: int) -> int:
        return min(max(i - OUT, 0), self.n_out - self.out_size)

    def _needed(self, i: int) -> tuple[int, int]:
        """Bottleneck rows [lo, hi) that the output window of ``i`` depends on, within the map."""
        o = self._out_start(i)
        rs = self.src[o:o + self.out_size]
        lo, hi = int(rs.min()) - HALO, int(rs.max()) + 1 + HALO      # on the middle grid
        return max(0, lo // 2), min(self.n_bott, math.ceil(hi / 2))

    def windows(self, i: int) -> tuple[int, int]:
        """Starts of the bottleneck and output windows of cell index ``i`` on this axis."""
        lo, _ = self._needed(i)
        return min(lo, self.n_bott - self.bott_size), self._out_start(i)


class DecoderCrop:
    """The decoder's DeepLift gradients for several output cells at once, on crops.

    Built once per engine: ``net`` is the engine's copy, its ReLUs swapped for the rescale
    rule; ``relus``: the decoder's, each holding the multiplier of the last forward pass in
    its attribute ``m`` (B, C, H, W) on the bottleneck, middle or output grid.
    """

    def __init__(self, net: nn.Module, relus, bottleneck: tuple[int, int], grid: tuple[int, int]):
        self.net, self.relus = net, list(relus)
        self.rows, self.cols = Axis(bottleneck[0], grid[0]), Axis(bottleneck[1], grid[1])
        self.bottleneck, self.grid = bottleneck, grid

    def starts(self, cells) -> dict[str, torch.Tensor]:
        """Per cell (K,): window starts on each grid, rows and columns."""
        (br, orow), (bc, ocol) = zip(*[self.rows.windows(i) for i, _ in cells]), \
            zip(*[self.cols.windows(j) for _, j in cells])
        return {"bott": (torch.tensor(br), torch.tensor(bc)), "out": (torch.tensor(orow), torch.tensor(ocol))}

    def _crops(self, t: torch.Tensor, r0, c0, size: tuple[int, int]) -> torch.Tensor:
        """(B, C, H, W) -> (K * B, C, size): the window of each of K cells, cell-major."""
        return torch.cat([t[..., r:r + size[0], c:c + size[1]] for r, c in zip(r0.tolist(), c0.tolist())])

    def grads(self, h: torch.Tensor, cells) -> tuple[torch.Tensor, dict]:
        """d out[:, 0, i, j] / d h on each cell's bottleneck window: (K, B, C, bh, bw), windows."""
        k, b = len(cells), h.shape[0]
        st = self.starts(cells)
        bsize = (self.rows.bott_size, self.cols.bott_size)
        msize = (2 * bsize[0], 2 * bsize[1])
        osize = (self.rows.out_size, self.cols.out_size)
        (br, bc), (orow, ocol) = st["bott"], st["out"]
        windows = {self.bottleneck: (br, bc, bsize), (2 * self.bottleneck[0], 2 * self.bottleneck[1]):
                   (2 * br, 2 * bc, msize), self.grid: (orow, ocol, osize)}
        m = {relu: self._crops(relu.m, *windows[tuple(relu.m.shape[-2:])]) for relu in self.relus}
        # the last upsampling's index map, per cell, into its middle window: (K, out rows / cols)
        ri = torch.stack([self.rows.src[o:o + osize[0]] - 2 * r for o, r in zip(orow.tolist(), br.tolist())])
        ci = torch.stack([self.cols.src[o:o + osize[1]] - 2 * c for o, c in zip(ocol.tolist(), bc.tolist())])
        x = self._crops(h.detach(), br, bc, bsize).requires_grad_(True)   # (K * B, C, bh, bw)
        y = x
        for name in DECODER:
            y = self._run(getattr(self.net, name), y, m, (k, b, ri.to(h.device), ci.to(h.device)))
        y = y.view(k, b, *osize)                                          # (K, B, out rows, out cols)
        li = torch.tensor([i for i, _ in cells]) - orow
        lj = torch.tensor([j for _, j in cells]) - ocol
        (g,) = torch.autograd.grad(y[torch.arange(k), :, li, lj].sum(), x)
        return g.view(k, b, *g.shape[1:]), st

    def _run(self, module: nn.Module, x: torch.Tensor, m: dict, gather) -> torch.Tensor:
        if isinstance(module, DenseLayer):
            return torch.cat([x, self._run(module.body, x, m, gather)], dim=1)
        if isinstance(module, nn.Sequential):
            for child in module:
                x = self._run(child, x, m, gather)
            return x
        if module in m:                         # a ReLU: the rescale rule's fixed multiplier
            return x * m[module]
        if isinstance(module, Upsample) and module.size is not None:
            k, b, ri, ci = gather               # to the grid: the network's own index map
            x = x.view(k, b, *x.shape[1:])                                # (K, B, C, mh, mw)
            c, mw = x.shape[2], x.shape[4]
            x = x.gather(3, ri.view(k, 1, 1, -1, 1).expand(k, b, c, ri.shape[1], mw))
            x = x.gather(4, ci.view(k, 1, 1, 1, -1).expand(k, b, c, ri.shape[1], ci.shape[1]))
            return x.reshape(k * b, c, ri.shape[1], ci.shape[1])
        return module(x)                        # convolution, BatchNorm (eval), x2 upsampling
