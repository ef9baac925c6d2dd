"""Every benchmark of issue 8 in one command; ratios are measured within this one run.

    python benchmarks/run.py                      # CPU: attribution, training, data
    python benchmarks/run.py --device cuda --attr-samples 64 --attr-batch 16 \
        --train-samples 1280 --train-batches 16,32,64 --compile --compile-batch 32
    python benchmarks/run.py --only attribution

Prints each section's figures and writes them, with the machine's description, to
``benchmarks/results/<name>.json`` (``--out``), which docs/performance.md quotes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import attribution  # noqa: E402
import data  # noqa: E402
import training  # noqa: E402

from climemu.config import load_params  # noqa: E402
from climemu.core.io import write_json  # noqa: E402


def machine(device: str) -> dict:
    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads()}
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--only", choices=["attribution", "training", "data"], action="append")
    # The attribution paths' shapes default to the stages' own (params.yaml): explain's batch,
    # basin's batch and cells per forward pass.
    params = load_params()
    parser.add_argument("--attr-samples", type=int, default=8)
    parser.add_argument("--attr-batch", type=int, default=params.explain.batch_size)
    parser.add_argument("--basin-batch", type=int, default=params.basin.batch_size)
    parser.add_argument("--basin-cells", type=int, default=params.basin.cells_per_pass)
    parser.add_argument("--train-samples", type=int, default=64)
    parser.add_argument("--train-batches", default="4,8,16", help="channels_last batch sizes to time")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--compile-batch", type=int, default=8)
    parser.add_argument("--data-years", type=int, default=None, help="default: params.yaml's years")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=None, help="default benchmarks/results/<device>.json")
    args = parser.parse_args()
    # Strict fp32 everywhere: the limit is the fp32 matmul rate, and the attributions are
    # compared with Captum at fp32 precision (cuDNN would otherwise use TF32 convolutions).
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    sections = args.only or ["attribution", "training", "data"]
    results = {"machine": machine(args.device)}
    print(json.dumps(results["machine"]))
    if "attribution" in sections:
        results["attribution"] = attribution.run(args.device, args.attr_samples, args.attr_batch, args.repeats,
                                                 args.basin_batch, args.basin_cells)
        print(attribution.report(results["attribution"]), flush=True)
    if "training" in sections:
        batches = [int(b) for b in args.train_batches.split(",")]
        results["training"] = training.run(args.device, args.train_samples, args.repeats, args.compile,
                                           batches, args.compile_batch)
        print(training.report(results["training"]), flush=True)
    if "data" in sections:
        results["data"] = data.run(args.data_years)
        print(data.report(results["data"]), flush=True)
    out = Path(args.out or Path(__file__).parent / "results" / f"{args.device}.json")
    if args.only and out.exists():   # keep the sections not run this time (their machine too)
        previous = json.loads(out.read_text())
        previous_machine = previous.pop("machine", None)
        results = {**previous, **results}
        if previous_machine != results["machine"]:
            results["machine_of_other_sections"] = previous_machine
    write_json(results, out)
    print(f"written {out}")


if __name__ == "__main__":
    main()
