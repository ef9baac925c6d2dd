"""Does bf16 training give the network fp32 gives? (docs/performance.md, "Half precision")

    dvc repro window                        # data/smoothed.nc, data/windows.nc at params.yaml's sizes
    python benchmarks/precision.py          # seeds 0-2 x fp32, bf16: about 15 min on 2 cores
    python benchmarks/precision.py --attribution    # group DeepLift of models/model.pt, fp32 vs bf16

Trains the network of ``params.yaml`` (model, train) on the pipeline's windows once per seed and
precision, exactly as the train stage does except for ``train.precision``, then scores every
network the same way, in fp32 (as the evaluate stage runs the checkpoint): the masked MSE over
ocean cells on the validation and the test split, in degC^2. bf16 is "equivalent" when its mean
MSE over the seeds lies within two standard deviations (over fp32's seeds) of fp32's mean.

Writes ``benchmarks/results/precision.json`` and prints the table docs/performance.md carries.

``--attribution``: the explain stage's DeepLift engine (:class:`DeepLiftCells`) on the pipeline's
network at its group cells, validation samples, once in fp32 and once under bf16 autocast: the
Pearson correlation of each map with its fp32 map, the largest relative difference (max |diff|
over max |fp32 value|, the bound the engine meets against Captum is 1e-4), the completeness gap
(|sum of the map - (f(x) - f(0))| over |f(x) - f(0)|) in each precision, and the largest change
of the monthly |contribution| shares (the report's curves). Writes
``benchmarks/results/precision_attribution.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from climemu.config import load_params
from climemu.core import paths
from climemu.core.devices import cpu_supports_bf16
from climemu.core.io import write_json
from climemu.data.window import WindowedData
from climemu.training.trainer import masked_mse, train

OUT = Path(__file__).resolve().parent / "results" / "precision.json"


@torch.no_grad()
def split_mse(model: torch.nn.Module, data: WindowedData, split: str, batch: int = 32) -> float:
    """Masked MSE over ocean cells in degC^2, the network run in fp32 (the checkpoint's use)."""
    model.eval()
    ocean = torch.from_numpy(data.ocean)
    positions = np.arange(data.n_samples(split))
    total = 0.0
    for chunk in np.array_split(positions, max(1, len(positions) // batch)):
        pred = model(data.inputs(split, chunk))
        total += masked_mse(pred, data.targets_of(split, chunk), ocean).item() * len(chunk)
    return total / len(positions) * data.scale ** 2


def attribution(samples: int, out: Path) -> dict:
    """fp32 against bf16 autocast for the group DeepLift engine (the module docstring)."""
    from climemu.attribution.cells import resolve_cells
    from climemu.attribution.fast import DeepLiftCells
    from climemu.core.devices import autocast
    from climemu.training.checkpoint import load_checkpoint

    params = load_params()
    model, _ = load_checkpoint(paths.MODEL)
    data = WindowedData.open(paths.SMOOTHED, paths.WINDOWS)
    cells = resolve_cells(params.explain.group_cells, data.lat, data.lon, data.ocean)
    x = data.inputs("val", np.arange(min(samples, data.n_samples("val"))))       # (B, 36, H, W)
    engine = DeepLiftCells(model, x.shape, memory_format=torch.channels_last)
    ij = [(c.i, c.j) for c in cells]
    maps, outs = {}, {}
    for precision in ("fp32", "bf16"):
        got, f = [], []
        for start in range(0, len(x), 4):
            with autocast(precision, torch.device("cpu")):
                m, o = engine.attribute(x[start:start + 4], ij)               # (K, b, 36, H, W)
            got.append(m.float())
            f.append(o.float())
        maps[precision], outs[precision] = torch.cat(got, 1), torch.cat(f, 0)   # (K, B, ...), (B, H, W)
    f0 = engine.f0.float()
    rows = {}
    for k, cell in enumerate(cells):
        a, b = maps["fp32"][k].flatten(1).double(), maps["bf16"][k].flatten(1).double()   # (B, n)
        ac, bc = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
        pearson = (ac * bc).sum(1) / (ac.norm(dim=1) * bc.norm(dim=1))
        rel = (a - b).abs().amax(1) / a.abs().amax(1)
        gap = {}
        for p, m in (("fp32", a), ("bf16", b)):
            target = (outs["fp32"][:, cell.i, cell.j] - f0[cell.i, cell.j]).double()
            gap[p] = float(((m.sum(1) - target).abs() / target.abs()).max())
        shares = {p: m[k].abs().sum((-2, -1)).mean(0) for p, m in maps.items()}     # (36,)
        shares = {p: v / v.sum() for p, v in shares.items()}
        rows[cell.name] = {"pearson_min": float(pearson.min()), "max_rel_diff": float(rel.max()),
                           "completeness_gap_fp32": gap["fp32"], "completeness_gap_bf16": gap["bf16"],
                           "monthly_share_max_change": float((shares["fp32"] - shares["bf16"]).abs().max())}
        print(cell.name, json.dumps(rows[cell.name]), flush=True)
    result = {"samples": len(x), "cells": rows}
    write_json(result, out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--attribution", action="store_true", help="compare the DeepLift maps instead")
    parser.add_argument("--samples", type=int, default=16, help="--attribution: validation samples")
    args = parser.parse_args()
    if not cpu_supports_bf16() and not torch.cuda.is_available():
        sys.exit("this CPU reports no bf16 support: train.precision auto runs fp32 here, "
                 "there is nothing to compare")
    if args.attribution:
        attribution(args.samples, args.out or OUT.with_name("precision_attribution.json"))
        return
    params = load_params()
    data = WindowedData.open(paths.SMOOTHED, paths.WINDOWS, allow_test=True)
    rows = []
    for seed in args.seeds:
        for precision in ("fp32", "bf16"):
            cfg = params.train.model_copy(update={"precision": precision, "nproc": 1})
            result = train(params.model, data, cfg, seed)
            model = result.model.float().cpu()
            rows.append({"seed": seed, "precision": result.precision,
                         "val_mse": split_mse(model, data, "val"),
                         "test_mse": split_mse(model, data, "test"),
                         "seconds": result.seconds, "best_epoch": result.best_epoch})
            print(json.dumps(rows[-1]), flush=True)
    summary = {}
    for precision in ("fp32", "bf16"):
        mine = [r for r in rows if r["precision"] == precision]
        summary[precision] = {
            f"{split}_mse": {"mean": float(np.mean([r[f"{split}_mse"] for r in mine])),
                             "std": float(np.std([r[f"{split}_mse"] for r in mine], ddof=1))}
            for split in ("val", "test")}
        summary[precision]["seconds_mean"] = float(np.mean([r["seconds"] for r in mine]))
    for split in ("val", "test"):
        f, b = summary["fp32"][f"{split}_mse"], summary["bf16"][f"{split}_mse"]
        summary[f"{split}_within_2sd"] = bool(abs(b["mean"] - f["mean"]) <= 2 * f["std"])
    result = {"params": {"windows": data.n_samples("train"), "epochs": params.train.epochs,
                         "batch_size": params.train.batch_size, "lead": data.lead,
                         "arch": params.model.arch},
              "runs": rows, "summary": summary}
    write_json(result, args.out or OUT)
    print("\n| precision | val MSE (degC^2), mean +- sd | test MSE (degC^2), mean +- sd | training s |")
    print("|---|---|---|---|")
    for precision in ("fp32", "bf16"):
        s = summary[precision]
        print(f"| {precision} | {s['val_mse']['mean']:.5f} +- {s['val_mse']['std']:.5f} "
              f"| {s['test_mse']['mean']:.5f} +- {s['test_mse']['std']:.5f} | {s['seconds_mean']:.0f} |")
    print(f"\nbf16 within 2 sd of fp32: val {summary['val_within_2sd']}, test {summary['test_within_2sd']}")


if __name__ == "__main__":
    main()
