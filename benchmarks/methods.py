"""The cost of one attribution (one sample, one output cell) for every registered method.

    python benchmarks/methods.py                  # the default box, params.yaml's settings
    python benchmarks/methods.py --lat 40 --lon 48 --out benchmarks/results/methods_small.json

The network is the default architecture (params.yaml's ``model``) with seeded weights and
randomised BatchNorm statistics, on random inputs of the box's shape: the cost of a method does
not depend on what the network learnt. Each method explains the same ``--samples`` samples at one
cell, through :func:`climemu.attribution.methods.attribute` (Captum), in fp32 as the stages run
it, ``--repeats`` times; the best round counts. Prints seconds per attribution and the ratio to
DeepLift measured in this run, and writes both to ``benchmarks/results/methods.json`` (``--out``),
which docs/measures.md quotes.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

from climemu.attribution.methods import METHODS, attribute, method_kwargs
from climemu.config import load_params
from climemu.core.io import write_json
from climemu.models.registry import build_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attribution import randomise_batchnorm  # noqa: E402  (benchmarks/attribution.py)


def network(params, lat: int, lon: int) -> torch.nn.Module:
    torch.manual_seed(0)
    net = build_model(params.model, (lat, lon), params.window.input_months)
    return randomise_batchnorm(net)


def main() -> None:
    params = load_params()
    box = params.data.box
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lat", type=int, default=round((box.lat_max - box.lat_min) / params.data.resolution))
    parser.add_argument("--lon", type=int, default=round((box.lon_max - box.lon_min) / params.data.resolution))
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--out", default="benchmarks/results/methods.json")
    args = parser.parse_args()
    explain = params.explain
    net = network(params, args.lat, args.lon)
    x = torch.randn(args.samples, params.window.input_months, args.lat, args.lon,
                    generator=torch.Generator().manual_seed(1))
    cell = (args.lat // 2, args.lon // 2)
    shap_base = torch.randn(explain.shap_n_baselines, *x.shape[1:], generator=torch.Generator().manual_seed(2))
    seconds = {}
    for method in args.methods.split(","):
        kw = method_kwargs(method, explain.n_steps, shap_base, explain.options)
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            attribute(net, method, x, cell, **kw)
            best = min(best, time.perf_counter() - start)
        seconds[method] = best / args.samples
        print(f"{method:22s} {seconds[method]:9.3f} s per attribution", flush=True)
    ref = seconds.get("deeplift")
    result = {"machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                          "torch": torch.__version__, "threads": torch.get_num_threads()},
              "shape": [params.window.input_months, args.lat, args.lon], "samples": args.samples,
              "repeats": args.repeats, "n_steps": explain.n_steps, "shap_n_baselines": explain.shap_n_baselines,
              "options": explain.options.model_dump(mode="json"),
              "seconds_per_attribution": seconds,
              "ratio_to_deeplift": {m: s / ref for m, s in seconds.items()} if ref else {}}
    if ref:
        print("ratio to DeepLift: " + ", ".join(f"{m} {s / ref:.1f}" for m, s in seconds.items()))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(result, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
