"""Training throughput against the hardware limit, and against the plain eager loop.

One training step (forward, masked MSE, backward, Adam) of the Table 1 network on random
inputs, per sample. The limit is the measured dense-matmul rate divided by 3x the forward FLOPs
of one sample (forward, input gradients, weight gradients; counted by
``torch.utils.flop_counter``). ``eager_plain`` is the loop as first written: contiguous
layout, batch 16. The other variants are the levers of docs/performance.md: memory layout,
batch size and, with ``--compile``, ``torch.compile`` (inductor fuses the BatchNorm-ReLU chains;
it needs a C++ compiler on the CPU and compiles for tens of seconds first).
"""

from __future__ import annotations

import torch

from climemu.core.cost import best_seconds, count_flops, matmul_flops_per_second
from climemu.models.densenet import DenseNet
from climemu.training.trainer import masked_mse


def _step_fn(device: str, layout, batch: int, compiled: bool):
    torch.manual_seed(0)
    net = DenseNet().to(device, memory_format=layout).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(batch, 36, 70, 125, device=device).contiguous(memory_format=layout)
    y = torch.randn(batch, 1, 70, 125, device=device)
    ocean = torch.rand(70, 125, generator=torch.Generator().manual_seed(0)).to(device) > 0.4
    fwd = torch.compile(net) if compiled else net

    def step():
        opt.zero_grad(set_to_none=True)
        masked_mse(fwd(x), y, ocean).backward()
        opt.step()
    return step


def run(device: str = "cpu", samples: int = 64, repeats: int = 2, compiled: bool = False,
        batches=(4, 8, 16), compile_batch: int = 8) -> dict:
    forward = count_flops(lambda: DenseNet().to(device)(torch.randn(1, 36, 70, 125, device=device)))
    variants = {"eager_plain": (torch.contiguous_format, 16, False)}
    for b in batches:
        variants[f"channels_last_b{b}"] = (torch.channels_last, b, False)
    if compiled:
        variants[f"compiled_channels_last_b{compile_batch}"] = (torch.channels_last, compile_batch, True)
    steps = {name: _step_fn(device, *v) for name, v in variants.items()}
    for step in steps.values():
        step()                                     # compile / warm up before any timing
    rate = matmul_flops_per_second(device)
    per_sample = {}
    for _ in range(repeats):                       # interleaved rounds, best of each
        for name, step in steps.items():
            batch = variants[name][1]
            n_steps = max(1, samples // batch)
            t = best_seconds(lambda: [step() for _ in range(n_steps)], 1, device) / (n_steps * batch)
            per_sample[name] = min(per_sample.get(name, float("inf")), t)
    limit = 3 * forward / rate                     # seconds per training sample
    best = min(per_sample, key=per_sample.get)
    return {"device": device, "samples": samples, "matmul_gflops": rate / 1e9,
            "forward_gflop": forward / 1e9, "limit_ms": limit * 1e3,
            "ms_per_sample": {k: v * 1e3 for k, v in per_sample.items()},
            "fraction_of_limit": {k: limit / v for k, v in per_sample.items()},
            "best": best, "best_fraction_of_limit": limit / per_sample[best],
            "best_vs_plain": per_sample["eager_plain"] / per_sample[best]}


def report(r: dict) -> str:
    lines = [f"training ({r['device']}, {r['samples']} samples per timing): matmul "
             f"{r['matmul_gflops']:.1f} GFLOP/s, 3 x {r['forward_gflop']:.2f} GFLOP per sample "
             f"-> limit {r['limit_ms']:.1f} ms/sample"]
    for k, ms in r["ms_per_sample"].items():
        lines.append(f"  {k:28s} {ms:7.1f} ms/sample  {r['fraction_of_limit'][k]:5.0%} of the limit")
    lines.append(f"  best: {r['best']} at {r['best_fraction_of_limit']:.0%} of the limit (target >= 75%), "
                 f"{r['best_vs_plain']:.2f}x the plain eager loop")
    return "\n".join(lines)
