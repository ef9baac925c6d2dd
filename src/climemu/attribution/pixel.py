"""Pixel-wise explanation: one output cell of the emulator at a time (paper Sec. 3.2).

Attribution methods explain a scalar score, as for one class of a classifier; the emulator
outputs a whole map. The paper therefore explains one selected output pixel per run.

We wrap the model in a module returning that one cell, ``(B,)``, rather than passing Captum a
target tuple ``(0, i, j)``: (1) every method, and the completeness check below, then evaluate
exactly the same scalar function, so f(x) - f(baseline) in :func:`relative_delta` is the
quantity Captum's convergence delta refers to; (2) the cell is checked once against the output
grid with a clear message instead of an IndexError deep inside Captum's target selection;
(3) the wrapper is an ordinary module, so tests can call it and compare with hand-made values.
It adds no modules with hooks of its own, so DeepLift's rules still see only the emulator's
ReLUs.
"""

from __future__ import annotations

import torch
from torch import nn

from climemu.attribution.frozen import frozen_eval


def check_cell(cell, n_lat: int, n_lon: int) -> tuple[int, int]:
    """``cell`` as a pair of non-negative ints inside an ``n_lat x n_lon`` grid."""
    try:
        i, j = (int(c) for c in cell)
    except (TypeError, ValueError):
        raise ValueError(f"cell must be a pair of grid indices (i, j); got {cell!r}") from None
    if not (0 <= i < n_lat and 0 <= j < n_lon):
        raise ValueError(f"cell {(i, j)} lies outside the {n_lat} x {n_lon} (lat x lon) grid")
    return i, j


class PixelOutput(nn.Module):
    """``model`` reduced to one output cell: ``(B, C, H, W) -> (B,) = model(x)[:, 0, i, j]``."""

    def __init__(self, model: nn.Module, cell: tuple[int, int]):
        super().__init__()
        self.model = model
        self.cell = tuple(int(c) for c in cell)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)                                  # (B, 1, H, W)
        if out.ndim != 4 or out.shape[1] != 1:
            raise ValueError(f"the emulator must output (batch, 1, lat, lon); "
                             f"got {tuple(out.shape)}")
        i, j = check_cell(self.cell, out.shape[2], out.shape[3])
        return out[:, 0, i, j]                               # (B,)


def relative_delta(model: nn.Module, inputs: torch.Tensor, cell: tuple[int, int],
                   delta: torch.Tensor, baselines=None, eps: float = 1e-12) -> torch.Tensor:
    """Completeness error relative to the output change it should explain, per sample ``(B,)``.

    DeepLift and Integrated Gradients satisfy "summation to delta" (paper Sec. 3.1): the
    attributions of a sample sum to f(x) - f(x'). Captum's convergence delta is the absolute
    misfit sum(attr) - (f(x) - f(x')); dividing by |f(x) - f(x')| makes it comparable across
    cells and samples whose outputs differ in size. ``baselines``: None (zero, as in the paper),
    a number, or a tensor broadcastable to ``inputs``. ``eps`` guards against a zero change
    (the result is then |delta| / eps, i.e. huge unless delta is also zero).
    """
    x = torch.as_tensor(inputs, dtype=torch.float32)
    if isinstance(baselines, torch.Tensor):
        base = baselines.to(x)
        base = base.unsqueeze(0) if base.ndim == x.ndim - 1 else base   # (1 or B, 36, H, W)
    else:
        # One baseline sample serves the whole batch: f(x') is the same for every sample.
        value = 0.0 if baselines is None else float(baselines)
        base = torch.full_like(x[:1], value)                  # (1, 36, H, W)
    if base.shape[0] not in (1, x.shape[0]) or base.shape[1:] != x.shape[1:]:
        raise ValueError(f"baselines of shape {tuple(base.shape)} do not match inputs "
                         f"{tuple(x.shape)}")
    pixel = PixelOutput(model, cell)
    with frozen_eval(model), torch.no_grad():
        change = pixel(x) - pixel(base)                      # (B,)
    return delta.detach().abs().to(change) / change.abs().clamp_min(eps)
