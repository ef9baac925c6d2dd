"""How fast is group-mode DeepLift for each batch size and memory layout? (explain.batch_size)

Times ``climemu.attribution.attribute(model, "deeplift", ...)`` on the Table 1 network at the
paper's grid for the same 16 samples, one cell, and prints attributions per second and the
ratio to batch size 1 in contiguous layout, all measured in this one run:

    python benchmarks/explain_batch.py [--samples 16] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from climemu.attribution.methods import attribute
from climemu.models.densenet import DenseNet


def rate(model, x, batch: int, layout, repeats: int) -> float:
    model = model.to(memory_format=layout)
    x = x.contiguous(memory_format=layout)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for s in range(0, len(x), batch):
            attribute(model, "deeplift", x[s:s + batch], (35, 62))
        best = min(best, time.perf_counter() - start)
    return len(x) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = DenseNet().eval()
    x = torch.randn(args.samples, 36, 70, 125)
    attribute(model, "deeplift", x[:2], (35, 62))   # warm-up
    base = None
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.samples} samples")
    for name, layout in (("contiguous", torch.contiguous_format), ("channels_last", torch.channels_last)):
        for batch in (1, 4, 8, 16):
            r = rate(model, x, batch, layout, args.repeats)
            base = base or r
            print(f"{name:13s} batch {batch:2d}: {r:6.2f} attributions/s  ({r / base:.2f}x batch 1 contiguous)")


if __name__ == "__main__":
    main()
