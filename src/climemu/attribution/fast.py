"""DeepLift for many samples and many output cells at once, with Captum's rescale rule.

Captum's ``DeepLift`` (paper Sec. 3.1) runs the input and its baseline through the network as
one doubled batch on every call, hooks every ReLU, and explains one output cell per call. For a
group study (paper Sec. 4.2) that repeats three things that need doing only once
(docs/performance.md):

1. The baseline's activations. With the paper's zero baseline, and BatchNorm in eval mode, every
   layer's reference input is the same for every sample: we compute the references of each ReLU
   once, on one baseline sample, and broadcast them over the batch.
2. The forward pass. The rescale multipliers depend on the input, not on the explained cell, so
   one forward serves every cell: each further cell costs only a backward pass.
3. Weight gradients. Parameters are frozen, so autograd computes input gradients only.

The rule itself is Captum's ``nonlinear`` rule for ReLU: the gradient through a ReLU becomes
``(relu(x) - relu(x0)) / (x - x0)`` where ``|x - x0| >= eps`` and the ordinary gradient
elsewhere, and the attribution is ``(input - baseline) * multiplier``. Every other layer of
the emulator (convolution, BatchNorm in eval mode, concatenation, upsampling) is linear, so
plain gradients are exact through it. The benchmark ``benchmarks/attribution.py`` and the tests
check the result against Captum itself.
"""

from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import nn

from climemu.attribution import crop as decoder_crop
from climemu.attribution.pixel import check_cell

EPS = 1e-10   # captum.attr._core.deep_lift: the rule falls back to the gradient below this |x - x0|


def rescale_multiplier(z: torch.Tensor, y: torch.Tensor, z0: torch.Tensor, y0: torch.Tensor) -> torch.Tensor:
    """Captum's rescale multiplier ``(y - y0) / (z - z0)``, the ReLU's gradient ``z > 0`` where
    ``|z - z0| < EPS``. ``y = relu(z)``; ``z0, y0`` (1, C, H, W) broadcast over the batch.

    This runs once per ReLU and batch, and its passes over the activations were most of the
    forward pass's non-convolution time (docs/performance.md): so every pass is a float one
    (on a CPU a comparison that writes booleans took 3x a float pass, a ``where`` mixing bool
    and float 40x), new tensors are reused in place, and the fallback's mask is only built when
    some ``|z - z0|`` is that small (land, for one: there input and baseline are both 0).
    """
    dz = z - z0                                              # (B, C, H, W)
    m = torch.sub(y, y0).div_(dz)                            # inf/nan where dz = 0: replaced below
    small = dz.abs_()
    if small.numel() and small.amin() < EPS:
        m = torch.where(small < EPS, torch.sign(y), m)       # sign(relu(z)) = (z > 0), as float
    return m


class _RescaleFunction(torch.autograd.Function):
    """``relu(bn(x))`` forward; DeepLift's rescale multiplier backward (BatchNorm folded in).

    The multiplier depends on the input only, not on the explained cell, so it is computed
    once in the forward pass and each cell's backward pass is one product ``grad * m``: the
    rule's elementwise work is done once per batch instead of once per cell (1.26x faster per
    attribution with 3 cells per forward, 1.41x with 8 or 16: docs/performance.md).
    """

    @staticmethod
    def forward(ctx, x, unit):
        y, m = unit.rescale(x)
        ctx.save_for_backward(m)
        return y

    @staticmethod
    def backward(ctx, grad):
        (m,) = ctx.saved_tensors
        return grad * m, None


class _RescaleReLU(nn.Module):
    """Stands in for one ``nn.ReLU`` (and the eval-mode ``bn`` before it, if given): records its
    reference (baseline) input, then rescales.

    When an eval-mode BatchNorm feeds the ReLU (every ReLU of the emulator, paper Table 1), it
    is applied here and its per-channel scale is folded into the multiplier, so its backward
    costs nothing more: ``d relu(s x + t) / dx = m s`` (docs/performance.md).
    """

    def __init__(self, bn: nn.BatchNorm2d | None = None):
        super().__init__()
        self.bn = bn
        self.x0 = self.y0 = None       # (1, C, H, W): the baseline's ReLU input and output here
        self.keep, self.m = False, None   # keep: hold the last multiplier (B, C, H, W) in m

    @property
    def scale(self) -> torch.Tensor:
        """(1, C, 1, 1): the BatchNorm's slope ``weight / sqrt(running_var + eps)``."""
        bn = self.bn
        s = torch.rsqrt(bn.running_var + bn.eps)
        if bn.weight is not None:
            s = s * bn.weight
        return s.view(1, -1, 1, 1)

    def relu_input(self, x: torch.Tensor) -> torch.Tensor:
        """``bn(x)``, or ``x`` where no BatchNorm was folded in."""
        return x if self.bn is None else self.bn(x)

    def rescale(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``relu(bn(x))`` and the multiplier of ``x`` (B, C, H, W); records no graph."""
        with torch.no_grad():
            z = self.relu_input(x)
            y = torch.relu(z)
            m = rescale_multiplier(z, y, self.x0, self.y0)
            if self.bn is not None:
                m.mul_(self.scale)                           # (1, C, 1, 1): BatchNorm's slope
        if self.keep:                                        # read by the cropped decoder (.crop)
            self.m = m
        return y, m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.x0 is None:            # the reference pass
            z = self.relu_input(x)
            self.x0, self.y0 = z.detach(), torch.relu(z).detach()
            return self.y0
        return _RescaleFunction.apply(x, self)


class DeepLiftCells:
    """DeepLift (zero or one fixed baseline) of several output cells of ``model``.

    ``model`` must use one ``nn.ReLU`` module per activation (docs/model.md), as
    Captum's DeepLift requires too. A private copy in eval mode with frozen parameters is
    explained; the caller's model is untouched. ``baseline``: None (zeros, the paper) or one
    sample ``(36, H, W)`` or ``(1, 36, H, W)``, the same for every input.
    """

    def __init__(self, model: nn.Module, input_shape: Sequence[int], baseline=None,
                 memory_format=torch.contiguous_format, crop: bool = True):
        self.net = copy.deepcopy(model).eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.relus = self._swap_relus(self.net)    # none: a linear model, DeepLift = grad x input
        self.crop, self._h = None, None
        if crop and decoder_crop.supports(self.net):
            # the decoder's backward on a crop around each cell (.crop): h is the decoder's input
            self.net.up.register_forward_pre_hook(lambda module, args: setattr(self, "_h", args[0]))
            # a skip path (model.skip) bypasses the decoder: its output's gradient is added below
            self._skip_out = None
            if getattr(self.net, "skip", None) is not None:
                self.net.skip.register_forward_hook(lambda module, args, out: setattr(self, "_skip_out", out))
            self._decoder_relus = [m for name in decoder_crop.DECODER
                                   for m in getattr(self.net, name).modules() if isinstance(m, _RescaleReLU)]
            for relu in self._decoder_relus:
                relu.keep = True
        self.memory_format = memory_format
        self.net = self.net.to(memory_format=memory_format)
        c, h, w = (int(s) for s in input_shape[-3:])
        device = next(self.net.parameters(), torch.empty(0)).device
        base = torch.zeros(1, c, h, w) if baseline is None else torch.as_tensor(baseline, dtype=torch.float32)
        self.baseline = base.reshape(1, c, h, w).to(device).contiguous(memory_format=memory_format)
        with torch.no_grad():
            self.f0 = self.net(self.baseline)[0, 0]              # (H, W): f(baseline), refs recorded
        if self._h is not None:
            self.crop = decoder_crop.DecoderCrop(self.net, self._decoder_relus,
                                                 tuple(self._h.shape[-2:]), (h, w))

    @staticmethod
    def _swap_relus(net: nn.Module) -> list[_RescaleReLU]:
        """Every ``nn.ReLU`` becomes a :class:`_RescaleReLU`; a BatchNorm right before it in the
        same ``nn.Sequential`` (the paper's BN-ReLU-Conv) moves into it, an identity in its place."""
        swapped = []
        for parent in list(net.modules()):
            before = None                                     # (name, module) of the previous child
            for name, child in list(parent.named_children()):
                if isinstance(child, nn.ReLU):
                    if child.inplace:
                        raise ValueError(f"ReLU {name!r} is in-place; DeepLift needs out-of-place ReLUs")
                    bn = None
                    if isinstance(parent, nn.Sequential) and before is not None \
                            and type(before[1]) is nn.BatchNorm2d and before[1].track_running_stats:
                        bn = before[1]
                        setattr(parent, before[0], nn.Identity())
                    new = _RescaleReLU(bn)
                    setattr(parent, name, new)
                    swapped.append(new)
                before = (name, child)
        return swapped

    def to(self, device) -> "DeepLiftCells":
        self.net = self.net.to(device)
        self.baseline = self.baseline.to(device)
        for r in self.relus:
            r.x0, r.y0 = r.x0.to(device), r.y0.to(device)
        self.f0 = self.f0.to(device)
        return self

    def attribute(self, inputs: torch.Tensor, cells: Sequence[tuple[int, int]]
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attributions ``(K, B, 36, H, W)`` of K cells for B samples, and the outputs ``(B, H, W)``.

        One forward pass for the batch, then one backward pass per cell. (Batching the cells'
        backward passes into one with ``is_grads_batched`` measured slower on a CPU:
        docs/performance.md.)
        """
        x = inputs.detach().to(self.baseline.device, torch.float32)
        x = x.contiguous(memory_format=self.memory_format).requires_grad_(True)   # (B, 36, H, W)
        with torch.enable_grad():
            out = self.net(x)[:, 0]                                   # (B, H, W)
            delta = x.detach() - self.baseline                            # (B, 36, H, W), once
            cells = [check_cell(cell, out.shape[1], out.shape[2]) for cell in cells]
            if self.crop is not None:   # the decoder on crops, all cells at once (.crop)
                g, starts = self.crop.grads(self._h, cells)            # (K, B, C, bh, bw)
                (r0, c0), size = starts["bott"], g.shape[-2:]
            # (K, B, 36, H, W), each map in the layout of its gradient: one dense write per cell
            maps = torch.empty_strided((len(cells), *delta.shape), (delta.numel(), *delta.stride()),
                                       dtype=delta.dtype, device=delta.device)
            for k, (i, j) in enumerate(cells):
                keep = k < len(cells) - 1
                if self.crop is None:
                    (grad,) = torch.autograd.grad(out[:, i, j].sum(), x, retain_graph=keep)
                else:                   # then the encoder's dense backward from the bottleneck
                    g_h = torch.zeros_like(self._h)                               # (B, C, 18, 32)
                    r, c = int(r0[k]), int(c0[k])
                    g_h[..., r:r + size[0], c:c + size[1]] = g[k]
                    if self._skip_out is None:
                        (grad,) = torch.autograd.grad(self._h, x, grad_outputs=g_h, retain_graph=keep)
                    else:       # plus the skip path's: a one at the cell of its output
                        g_s = torch.zeros_like(self._skip_out)                    # (B, 1, H, W)
                        g_s[:, 0, i, j] = 1.0
                        (grad,) = torch.autograd.grad((self._h, self._skip_out), x,
                                                      grad_outputs=(g_h, g_s), retain_graph=keep)
                torch.mul(grad, delta, out=maps[k])                          # (B, 36, H, W)
        return maps, out.detach()
