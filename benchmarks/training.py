"""Training throughput against the hardware limit of its precision, and against the plain loop.

One training step (forward, masked MSE, backward, Adam) of the Table 1 network on random
inputs, per sample. The limit is the measured peak rate of the step's precision
(:func:`climemu.core.cost.peak_flops_per_second`: matmuls of several sizes and a convolution of
the network's shape, in fp32 or bf16) divided by 3x the forward FLOPs of one sample (forward,
input gradients, weight gradients; counted by ``torch.utils.flop_counter``). ``eager_plain`` is
the loop as first written: contiguous layout, batch 16, fp32. The other variants are the levers
of docs/performance.md: memory layout, batch size, precision (``bf16_*``: the forward under
bf16 autocast, the loss and Adam in fp32, as ``train.precision: bf16``) and, with ``--compile``,
``torch.compile`` (inductor fuses the BatchNorm-ReLU chains; it needs a C++ compiler on the CPU
and compiles for tens of seconds first).
"""

from __future__ import annotations

import torch

from climemu.core.cost import best_seconds, count_flops, peak_flops_per_second
from climemu.core.devices import autocast, cpu_supports_bf16
from climemu.models.densenet import DenseNet
from climemu.training.trainer import masked_mse


def _step_fn(device: str, layout, batch: int, compiled: bool, precision: str = "fp32"):
    torch.manual_seed(0)
    net = DenseNet().to(device, memory_format=layout).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(batch, 36, 70, 125, device=device).contiguous(memory_format=layout)
    y = torch.randn(batch, 1, 70, 125, device=device)
    ocean = torch.rand(70, 125, generator=torch.Generator().manual_seed(0)).to(device) > 0.4
    fwd = torch.compile(net) if compiled else net
    where = torch.device(device)

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast(precision, where):
            pred = fwd(x)
        masked_mse(pred.float(), y, ocean).backward()
        opt.step()
    return step


def _has_bf16(device: str) -> bool:
    return torch.cuda.is_bf16_supported() if device == "cuda" else cpu_supports_bf16()


def run(device: str = "cpu", samples: int = 64, repeats: int = 2, compiled: bool = False,
        batches=(4, 8, 16), compile_batch: int = 8) -> dict:
    forward = count_flops(lambda: DenseNet().to(device)(torch.randn(1, 36, 70, 125, device=device)))
    precisions = ["fp32", "bf16"] if _has_bf16(device) else ["fp32"]
    variants = {"eager_plain": (torch.contiguous_format, 16, False, "fp32")}
    for precision in precisions:
        prefix = "" if precision == "fp32" else "bf16_"
        for b in batches:
            variants[f"{prefix}channels_last_b{b}"] = (torch.channels_last, b, False, precision)
    if compiled:
        variants[f"compiled_channels_last_b{compile_batch}"] = (torch.channels_last, compile_batch, True, "fp32")
    steps = {name: _step_fn(device, *v) for name, v in variants.items()}
    for step in steps.values():
        step()                                     # compile / warm up before any timing
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    peaks = {p: peak_flops_per_second(device, dtypes[p]) for p in precisions}
    per_sample = {}
    for _ in range(repeats):                       # interleaved rounds, best of each
        for name, step in steps.items():
            batch = variants[name][1]
            n_steps = max(1, samples // batch)
            t = best_seconds(lambda: [step() for _ in range(n_steps)], 1, device) / (n_steps * batch)
            per_sample[name] = min(per_sample.get(name, float("inf")), t)
        for p in precisions:                       # the limits too: best of every round
            again = peak_flops_per_second(device, dtypes[p])
            if again["flops_per_second"] > peaks[p]["flops_per_second"]:
                peaks[p] = again
    limit = {p: 3 * forward / peaks[p]["flops_per_second"] for p in precisions}   # seconds per sample
    of = {name: variants[name][3] for name in variants}
    best = {p: min((n for n in per_sample if of[n] == p), key=per_sample.get) for p in precisions}
    out = {"device": device, "samples": samples, "forward_gflop": forward / 1e9,
           "limit_gflops": {p: peaks[p]["flops_per_second"] / 1e9 for p in precisions},
           "limit_by_kernel_gflops": {p: {k: v / 1e9 for k, v in peaks[p]["by_kernel"].items()}
                                      for p in precisions},
           "limit_ms": {p: v * 1e3 for p, v in limit.items()},
           "ms_per_sample": {k: v * 1e3 for k, v in per_sample.items()},
           "precision": of,
           "fraction_of_limit": {k: limit[of[k]] / v for k, v in per_sample.items()},
           "best": best, "best_fraction_of_limit": {p: limit[p] / per_sample[best[p]] for p in precisions},
           "best_vs_plain": per_sample["eager_plain"] / per_sample[best["fp32"]]}
    if "bf16" in precisions:
        out["bf16_speedup"] = per_sample[best["fp32"]] / per_sample[best["bf16"]]
    return out


def report(r: dict) -> str:
    lines = [f"training ({r['device']}, {r['samples']} samples per timing), 3 x {r['forward_gflop']:.2f} GFLOP "
             "per sample; limits: " + ", ".join(
                 f"{p} {g:.0f} GFLOP/s -> {r['limit_ms'][p]:.1f} ms/sample" for p, g in r["limit_gflops"].items())]
    for k, ms in r["ms_per_sample"].items():
        lines.append(f"  {k:28s} {ms:7.1f} ms/sample  {r['fraction_of_limit'][k]:5.0%} of the {r['precision'][k]} limit")
    for p, name in r["best"].items():
        lines.append(f"  best {p}: {name} at {r['best_fraction_of_limit'][p]:.0%} of the {p} limit")
    lines.append(f"  best fp32 vs the plain eager loop: {r['best_vs_plain']:.2f}x")
    if "bf16_speedup" in r:
        lines.append(f"  bf16 vs fp32, best of each: {r['bf16_speedup']:.2f}x faster per sample (target >= 1.6x)")
    return "\n".join(lines)
