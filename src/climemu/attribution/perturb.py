"""The methods beyond the paper's four, and the two controls (docs/measures.md, "The methods").

Each class is built on the explained function (the network reduced to one output cell,
``(B, months, H, W) -> (B,)``, :class:`~.pixel.PixelOutput`) and has Captum's interface,
``attribute(inputs, **kwargs)`` returning a map of the inputs' shape, so the registry in
:mod:`.methods` holds them beside Captum's own classes:

- :class:`SmoothGrad`: the gradient averaged over noisy copies of the input (Smilkov et al.
  2017), Captum's NoiseTunnel over Saliency with the sign kept;
- :class:`BlockOcclusion`: each block of ``window`` (months x cells x cells) set to the zero
  anomaly, the output's drop spread over the block (Zeiler & Fergus 2014): Captum's Occlusion,
  computed here so that one forward pass serves every explained cell (:func:`occlusion_maps`);
- :class:`SuperpixelKernelShap`: Shapley values of superpixels (months x cells x cells)
  estimated by Captum's KernelShap, each superpixel's value spread evenly over its inputs, so a
  map sums to the estimate of f(x) - f(0) as the other maps do;
- the controls, which every evaluation should include (Adebayo et al. 2018; Hedström et al.
  2023): :class:`RandomMap`, Gaussian noise that knows neither the model nor the input, and
  :class:`EdgeMap`, the Sobel edge magnitude of each input month, which knows the input but not
  the model. A judge that cannot rank both below every real method cannot tell a method from a
  control.

The random draws (SmoothGrad's noise, KernelShap's coalitions, the random map) come from a
generator seeded by the explained cell, so a rerun gives the same maps.
"""

from __future__ import annotations

import numpy as np
import torch
from captum.attr import KernelShap, NoiseTunnel, Saliency
from scipy import ndimage
from torch import nn


def _cell_seed(forward: nn.Module) -> int:
    """A seed from the explained cell (i, j) of a :class:`~.pixel.PixelOutput`, 0 otherwise."""
    i, j = getattr(forward, "cell", (0, 0))
    return 100_003 * int(i) + int(j)


class SmoothGrad:
    """The signed gradient averaged over ``samples`` noisy copies (noise std ``stdev``)."""

    def __init__(self, forward: nn.Module):
        self.forward = forward

    def attribute(self, inputs: torch.Tensor, *, samples: int, stdev: float) -> torch.Tensor:
        # NoiseTunnel draws from torch's global generator: fork it so the caller's stream is untouched.
        with torch.random.fork_rng():
            torch.manual_seed(_cell_seed(self.forward))
            return NoiseTunnel(Saliency(self.forward)).attribute(
                inputs, nt_type="smoothgrad", nt_samples=samples, nt_samples_batch_size=inputs.shape[0],
                stdevs=stdev, abs=False)                              # (B, 36, H, W)


def blocks(shape: tuple[int, int, int], window: tuple[int, int, int]) -> list[tuple[slice, ...]]:
    """The blocks of ``window`` tiling ``shape`` (months, H, W) from the origin, partial at the far
    edges, so that every input lies in exactly one block."""
    starts = [range(0, n, w) for n, w in zip(shape, window)]
    return [tuple(slice(s, s + w) for s, w in zip(corner, window))
            for corner in np.stack(np.meshgrid(*starts, indexing="ij"), -1).reshape(-1, 3)]


@torch.no_grad()
def occlusion_maps(outputs, inputs: torch.Tensor, window: tuple[int, int, int],
                   per_eval: int) -> torch.Tensor:
    """Occlusion maps ``(K, B, months, H, W)`` of the K outputs of ``outputs`` (``(N, months, H, W)
    -> (N, K)``): each block of ``window`` set to zero, the K outputs' drop f(x) - f(x without
    the block) spread evenly over the block's inputs, so a map sums to the drops' sum.

    One forward pass serves every output (the runner's K cells share it), ``per_eval`` perturbed
    inputs at a time. A block whose inputs are all zero (land, or a zero anomaly) is skipped: its
    removal changes nothing, so its drop is exactly 0. Where the blocks tile the input this is
    Captum's Occlusion with ``strides = sliding_window_shapes`` divided by the block's size
    (tests/attribution/test_attr_methods.py); Captum leaves inputs past the last whole block
    unexplained, here they form partial blocks."""
    base = outputs(inputs)                                              # (B, K)
    maps = torch.zeros((base.shape[1],) + tuple(inputs.shape), dtype=inputs.dtype, device=inputs.device)
    tiles = blocks(tuple(inputs.shape[1:]), window)
    for k in range(inputs.shape[0]):
        live = [t for t in tiles if bool(inputs[k][t].ne(0).any())]
        for start in range(0, len(live), per_eval):
            chunk = live[start:start + per_eval]
            xs = inputs[k].expand(len(chunk), *inputs.shape[1:]).clone()   # (n, months, H, W)
            for n, t in enumerate(chunk):
                xs[(n, *t)] = 0.0
            drops = base[k] - outputs(xs)                               # (n, K)
            for n, t in enumerate(chunk):
                size = float(xs[(n, *t)].numel())           # partial blocks at the edges are smaller
                maps[(slice(None), k, *t)] = (drops[n] / size)[:, None, None, None]
    return maps


class BlockOcclusion:
    """f(x) - f(x with one block set to zero), spread over the block's inputs (one cell)."""

    def __init__(self, forward: nn.Module):
        self.forward = forward

    def attribute(self, inputs: torch.Tensor, *, window: tuple[int, int, int],
                  per_eval: int) -> torch.Tensor:
        return occlusion_maps(lambda xs: self.forward(xs)[:, None], inputs, window, per_eval)[0]


def superpixels(shape: tuple[int, int, int], size: tuple[int, int, int]) -> torch.Tensor:
    """Feature ids ``(1, months, H, W)``: consecutive blocks of ``size``, partial at the far edges."""
    ids = [np.arange(n) // s for n, s in zip(shape, size)]
    counts = [int(i[-1]) + 1 for i in ids]
    grid = (ids[0][:, None, None] * counts[1] + ids[1][None, :, None]) * counts[2] + ids[2][None, None, :]
    return torch.from_numpy(grid.astype(np.int64))[None]


class SuperpixelKernelShap:
    """KernelShap on superpixels, one sample at a time (Captum fits one model per example)."""

    def __init__(self, forward: nn.Module):
        self.forward = forward

    def attribute(self, inputs: torch.Tensor, *, superpixel: tuple[int, int, int], samples: int,
                  per_eval: int) -> torch.Tensor:
        mask = superpixels(tuple(inputs.shape[1:]), superpixel)          # (1, 36, H, W)
        sizes = torch.bincount(mask.ravel()).to(inputs.dtype)             # inputs per superpixel
        out = []
        with torch.random.fork_rng():
            torch.manual_seed(_cell_seed(self.forward))
            for k in range(inputs.shape[0]):
                attr = KernelShap(self.forward).attribute(
                    inputs[k:k + 1], baselines=0.0, feature_mask=mask, n_samples=samples,
                    perturbations_per_eval=per_eval)                      # (1, 36, H, W)
                out.append(attr / sizes[mask])
        return torch.cat(out)                                            # (B, 36, H, W)


class RandomMap:
    """Control: standard Gaussian noise of the inputs' shape, seeded by the explained cell."""

    def __init__(self, forward: nn.Module):
        self.forward = forward

    def attribute(self, inputs: torch.Tensor) -> torch.Tensor:
        gen = torch.Generator().manual_seed(_cell_seed(self.forward))
        return torch.randn(inputs.shape, generator=gen).to(inputs)


class EdgeMap:
    """Control: the Sobel edge magnitude of each input month; it never looks at the model."""

    def __init__(self, forward: nn.Module):
        self.forward = forward

    def attribute(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs.detach().cpu().numpy().astype(np.float64)              # (B, 36, H, W)
        # Each month's map on its own: ndimage.sobel on the 4-d array would also smooth across
        # samples and months, so the 3 x 3 kernels are given as (1, 1, 3, 3).
        east = np.outer([1.0, 2.0, 1.0], [-1.0, 0.0, 1.0])[None, None]    # d/dlon, smoothed along lat
        edges = np.hypot(ndimage.correlate(x, east), ndimage.correlate(x, np.swapaxes(east, 2, 3)))
        return torch.from_numpy(edges).to(inputs)
