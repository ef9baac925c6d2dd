"""The GPU benchmark in one command: fractions of the limits for attribution, training (fp32 and
bf16) and the whole basin.

    python benchmarks/gpu.py                       # on a machine with one CUDA GPU
    python benchmarks/gpu.py --device cpu --attr-samples 4 --basin-batch 2 --basin-cells 4 \
        --train-samples 8 --train-batches 4       # the same code path on a CPU, small

Strict fp32 (TF32 off, as in ``benchmarks/run.py``): the fp32 limit is the best measured rate of
matmuls of several sizes and the network's convolution (``climemu.core.cost``), and the
attributions must match Captum's to 1e-4; training is also timed in bf16 against the bf16 limit. Prints, each against the FLOPs of the
work actually done (``benchmarks/attribution.py``):

- attribution: the group path (3 cells per forward) and the basin path (``--basin-cells`` per
  forward, ``--basin-batch`` samples per pass): fraction of the honest limit;
- training: the best ``channels_last`` batch of ``--train-batches`` in fp32 and in bf16 (and
  ``--compile``), each against the limit of its precision;
- the whole basin: 5,226 ocean cells x ``--basin-samples`` samples (128) at the basin path's
  measured rate: the projected time and its fraction of the limit. The projection covers the
  attributions only; the stage's per-cell measures run on the host (docs/performance.md).

The basin stage takes the same shapes from params.yaml (``basin.batch_size``,
``basin.cells_per_pass``, ``basin.pin_memory``): run it with the shapes that measure best here,
e.g. ``dvc exp run -S basin.n_cells=0 -S basin.max_samples=128 -S basin.batch_size=32
-S basin.cells_per_pass=32``. Writes ``benchmarks/results/gpu.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import attribution  # noqa: E402
import training  # noqa: E402
from run import machine  # noqa: E402

from climemu.core.io import write_json  # noqa: E402

OCEAN_CELLS = 5226          # ocean cells of the default 70 x 125 box (basin.n_cells: 0)


def whole_basin(attr: dict, cells: int, samples: int) -> dict:
    """The whole basin projected from the basin path's measured rate (attributions only)."""
    n = cells * samples
    seconds = n / attr["basin_attributions_per_second"]
    limit = n * attr["basin_limit_ms"] / 1e3
    return {"cells": cells, "samples_per_cell": samples, "attributions": n,
            "projected_seconds": seconds, "limit_seconds": limit, "fraction": limit / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--attr-samples", type=int, default=64)
    parser.add_argument("--attr-batch", type=int, default=16)
    parser.add_argument("--basin-batch", type=int, default=32)
    parser.add_argument("--basin-cells", type=int, default=16)
    parser.add_argument("--basin-samples", type=int, default=128, help="samples per cell, whole basin")
    parser.add_argument("--train-samples", type=int, default=1280)
    parser.add_argument("--train-batches", default="32,64,128")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (training)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=None, help="default benchmarks/results/gpu.json")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu.py: no CUDA device here (torch.cuda.is_available() is False); run it on a "
                 "GPU machine, or pass --device cpu with small sizes to try the code path")
    torch.backends.cudnn.allow_tf32 = False          # strict fp32
    torch.backends.cuda.matmul.allow_tf32 = False
    results = {"machine": machine(args.device)}
    print(json.dumps(results["machine"]), flush=True)
    attr = attribution.run(args.device, args.attr_samples, args.attr_batch, args.repeats,
                           args.basin_batch, args.basin_cells)
    print(attribution.report(attr), flush=True)
    batches = [int(b) for b in args.train_batches.split(",")]
    train = training.run(args.device, args.train_samples, args.repeats, args.compile, batches,
                         max(batches))
    print(training.report(train), flush=True)
    basin = whole_basin(attr, OCEAN_CELLS, args.basin_samples)
    results.update({"attribution": attr, "training": train, "whole_basin": basin})
    print(f"fractions of the strict-fp32 limit: attribution group {attr['group_fraction']:.0%}, "
          f"basin {attr['basin_fraction']:.0%} (target >= 50%); training "
          f"{train['best_fraction_of_limit']['fp32']:.0%} (target >= 50%)")
    print(f"whole basin, {basin['cells']} cells x {basin['samples_per_cell']} samples: "
          f"{basin['projected_seconds'] / 60:.1f} min projected (target < 5 min; limit "
          f"{basin['limit_seconds'] / 60:.1f} min, {basin['fraction']:.0%})")
    out = Path(args.out or Path(__file__).parent / "results" / "gpu.json")
    write_json(results, out)
    print(f"written {out}")


if __name__ == "__main__":
    main()
