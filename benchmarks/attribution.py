"""Group-mode DeepLift against Captum used the plain way, and against the hardware limit.

Same Table 1 network (seeded, BatchNorm statistics randomised so every ReLU reference matters),
same inputs, same output cells:

- ``captum_plain``: ``captum.attr.DeepLift`` as a user would call it: one sample and one cell per
  call, the model in its default (contiguous) memory layout, parameters requiring gradients;
- ``captum_tuned``: the same Captum call with frozen parameters, ``channels_last`` and a batch of
  samples per call (one cell per call): the levers available without leaving Captum;
- ``project``: :class:`climemu.attribution.fast.DeepLiftCells` as the explain and basin stages
  use it: baseline activations once, several cells per forward, frozen, ``channels_last``.

The attributions must agree with ``captum_plain`` to a relative difference of 1e-4 (max abs
difference over max abs value). The limit: the measured dense-matmul rate divided by the FLOPs
of one attribution, counted by ``torch.utils.flop_counter`` as one forward pass plus the input
gradient of one output cell for one sample (the "forward + gradient floor" of
docs/performance.md). All figures come from this one run.
"""

from __future__ import annotations

import copy
import warnings

import torch
from captum.attr import DeepLift

from climemu.attribution.fast import DeepLiftCells
from climemu.attribution.frozen import frozen_eval
from climemu.attribution.pixel import PixelOutput
from climemu.core.cost import best_seconds, count_flops, matmul_flops_per_second
from climemu.models.densenet import DenseNet

CELLS = [(35, 62), (20, 100), (55, 30)]     # (i, j) output cells of the 70 x 125 grid


def network(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = DenseNet()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return net.eval()


def floor_flops(net: torch.nn.Module, x: torch.Tensor, cell) -> int:
    """FLOPs of one forward and the input gradient of one cell, for one sample, frozen weights."""
    def one():
        xx = x[:1].clone().requires_grad_(True)
        net(xx)[0, 0, cell[0], cell[1]].backward()
    with frozen_eval(net):
        return count_flops(one)


def run(device: str = "cpu", samples: int = 8, batch: int = 4, repeats: int = 2) -> dict:
    warnings.filterwarnings("ignore", message=r"Setting (forward, )?backward hooks")
    net = network().to(device)
    x = torch.randn(samples, 36, 70, 125, generator=torch.Generator().manual_seed(1)).to(device)

    plain = DeepLift_plain(net, x)
    flops = floor_flops(net, x, CELLS[0])
    engine = DeepLiftCells(net, x.shape, memory_format=torch.channels_last).to(device)

    def project():
        return [engine.attribute(x[s:s + batch], CELLS)[0] for s in range(0, samples, batch)]

    tuned_net = copy.deepcopy(net).to(memory_format=torch.channels_last)   # net stays contiguous

    def captum_tuned():
        out = []
        with frozen_eval(tuned_net):
            for cell in CELLS:
                dl = DeepLift(PixelOutput(tuned_net, cell))
                for s in range(0, samples, batch):
                    xb = x[s:s + batch].contiguous(memory_format=torch.channels_last).requires_grad_(True)
                    out.append(dl.attribute(xb, baselines=0.0).detach())
        return out

    ours = torch.cat(project(), dim=1)                                   # (K, S, 36, H, W)
    reference = plain.result()                                           # (K, S, 36, H, W)
    rel = ((ours - reference).abs().max() / reference.abs().max()).item()
    # The project's path runs one forward per batch and one input-gradient backward per cell:
    # per attribution, forward / K + (floor - forward). (FlopCounterMode cannot wrap the
    # engine's torch.autograd.grad on a leaf input, so its count is composed from the parts.)
    forward = count_flops(lambda: net(x[:1]))
    project_flops = forward / len(CELLS) + (flops - forward)

    rate = matmul_flops_per_second(device)
    n = samples * len(CELLS)
    seconds = {}
    for _ in range(repeats):      # interleaved, so a burst of machine load hits every path
        for name, fn in (("captum_plain", plain.run), ("captum_tuned", captum_tuned), ("project", project)):
            seconds[name] = min(seconds.get(name, float("inf")), best_seconds(fn, 1, device) / n)
    limit = flops / rate                                                 # seconds per attribution
    result = {
        "device": device, "samples": samples, "cells": len(CELLS), "batch": batch,
        "matmul_gflops": rate / 1e9, "attribution_gflop": flops / 1e9,
        "project_gflop_per_attribution": project_flops / 1e9,
        "limit_ms": limit * 1e3, "max_relative_difference": rel,
        **{f"{k}_ms": v * 1e3 for k, v in seconds.items()},
        "speedup_vs_plain": seconds["captum_plain"] / seconds["project"],
        "speedup_tuned_vs_plain": seconds["captum_plain"] / seconds["captum_tuned"],
        "fraction_of_limit": limit / seconds["project"],
        "plain_fraction_of_limit": limit / seconds["captum_plain"],
        "project_flop_efficiency": project_flops / seconds["project"] / rate,
    }
    return result


class DeepLift_plain:
    """Captum's DeepLift the plain way: one sample, one cell per call, default layout."""

    def __init__(self, net, x):
        self.net, self.x = net, x

    def run(self):
        out = []
        for cell in CELLS:
            dl = DeepLift(PixelOutput(self.net, cell))
            for s in range(len(self.x)):
                out.append(dl.attribute(self.x[s:s + 1].clone().requires_grad_(True), baselines=0.0).detach())
        return out

    def result(self) -> torch.Tensor:
        maps = self.run()
        return torch.stack([torch.cat(maps[k * len(self.x):(k + 1) * len(self.x)]) for k in range(len(CELLS))])


def report(r: dict) -> str:
    return "\n".join([
        f"attribution ({r['device']}, {r['samples']} samples x {r['cells']} cells, batch {r['batch']}):",
        f"  matmul {r['matmul_gflops']:.1f} GFLOP/s; one attribution {r['attribution_gflop']:.2f} GFLOP "
        f"-> limit {r['limit_ms']:.1f} ms",
        f"  captum plain {r['captum_plain_ms']:.1f} ms, captum tuned {r['captum_tuned_ms']:.1f} ms, "
        f"project {r['project_ms']:.1f} ms per attribution",
        f"  speed-up vs plain Captum: {r['speedup_vs_plain']:.2f}x (target >= 3); tuned Captum "
        f"{r['speedup_tuned_vs_plain']:.2f}x",
        f"  fraction of the limit: project {r['fraction_of_limit']:.0%} (target >= 60%), plain Captum "
        f"{r['plain_fraction_of_limit']:.0%}",
        f"  project executes {r['project_gflop_per_attribution']:.2f} GFLOP per attribution at "
        f"{r['project_flop_efficiency']:.0%} of the matmul rate",
        f"  max relative difference to plain Captum: {r['max_relative_difference']:.1e} (must be <= 1e-4)",
    ])
