"""Group DeepLift at many ocean cells: the paper's findings tested across the basin.

The paper explains a handful of cells and leaves "compare all ocean pixels" as future work
(Sec. 5). Here every cell of a stratified sample (or every ocean cell) gets the group
explanation of Sec. 4.2, reduced at once to the measures of finding 1 (locality radius),
finding 2 (e-folding month, share of month -1) and finding 3 (the spread of the normalised
monthly curves across cells). Only the reductions are kept: the mean |attribution| map of one
cell is 36 x H x W values, 1.9 GB for every ocean cell of the 70 x 125 box.

Several output cells share each forward pass (:class:`~.fast.DeepLiftCells`); under torchrun
each process explains its own block of cells (:mod:`climemu.core.distributed`).
"""

from __future__ import annotations

import time

import numpy as np
import torch
import xarray as xr
from torch import nn

from climemu.attribution.heatmaps import LAT, LON, as_heatmaps, month_labels
from climemu.attribution.measures import MAP_MEASURES, map_measures
from climemu.attribution.runner import AttributionRunner
from climemu.attribution.config import BasinConfig
from climemu.data.window import WindowedData
from climemu.core.distributed import gather, shard, world
from climemu.core.progress import progress

# The map measures per cell; the basin study plants no source box.
BASIN_MEASURES = tuple(k for k in MAP_MEASURES if k != "source_box_share")


def stratified_cells(ocean: np.ndarray, lat: np.ndarray, n_cells: int, band_degrees: float,
                     seed: int) -> np.ndarray:
    """Ocean cells ``(n, 2)`` of (i, j), sorted; ``n_cells = 0`` means every ocean cell.

    Otherwise the cells are drawn without replacement within latitude bands of
    ``band_degrees``, each band getting a share of ``n_cells`` proportional to its ocean cells
    (largest remainders), so that subpolar and subtropical waters are both represented.
    """
    ii, jj = np.nonzero(ocean)                                   # every ocean cell
    if n_cells == 0 or n_cells >= ii.size:
        return np.stack([ii, jj], axis=1)
    band = np.floor((np.asarray(lat)[ii] - np.min(lat)) / band_degrees).astype(int)
    bands, counts = np.unique(band, return_counts=True)
    quota = counts / counts.sum() * n_cells
    take = np.floor(quota).astype(int)
    short = n_cells - take.sum()
    take[np.argsort(-(quota - take), kind="stable")[:short]] += 1
    rng = np.random.default_rng(seed)
    picks = [rng.choice(np.flatnonzero(band == b), size=k, replace=False)
             for b, k in zip(bands, take) if k]
    chosen = np.sort(np.concatenate(picks))
    return np.stack([ii[chosen], jj[chosen]], axis=1)


def _measures(halves: np.ndarray, lat: np.ndarray, lon: np.ndarray, cell) -> dict:
    """Finding 1-2 measures of one cell from its mean |attribution| over two halves of the
    samples (alternate samples of an evenly spaced set) ``(2, 36, H, W)``.

    Half the difference of the two halves' normalised curves has the same sampling variance as
    the curve of all samples, so its spread across cells is what sampling noise alone gives.
    """
    absolute = as_heatmaps(halves.sum(axis=0), lat, lon)                   # (month, lat, lon)
    curve = absolute.sum((LAT, LON))                                       # (month,)
    parts = halves.sum(axis=(2, 3))                                        # (2, 36)
    parts = parts / np.maximum(parts.sum(axis=1, keepdims=True), 1e-300)
    return {"curve": (curve / curve.sum()).values, "half_difference": (parts[0] - parts[1]) / 2,
            **map_measures(absolute, cell, curve=curve)}


def explain_basin(model: nn.Module, data: WindowedData, cfg: BasinConfig, cells: np.ndarray,
                  device: torch.device = torch.device("cpu"), truth=None) -> tuple[xr.Dataset, dict]:
    """Per cell: the normalised monthly curve and the measures; every process returns all cells.

    ``truth``: optional callable (i, j) -> exact coefficients (36, H, W) of the synthetic
    source; the exact contributions of the same samples are then measured like a method's
    (``truth_*`` variables): the control of finding 3 across the basin (docs/measures.md).
    """
    runner = AttributionRunner(model, data, channels_last=cfg.channels_last, device=device,
                               pin_memory=cfg.pin_memory)
    shape = (data.input_months, *data.ocean.shape)                         # (36, H, W)
    # Samples spread evenly over the training period: the 12-month smoothed record changes
    # slowly, so n consecutive samples would describe far fewer independent states than n.
    n_train = data.n_samples("train")
    n = min(cfg.max_samples, n_train)
    chosen = np.unique(np.linspace(0, n_train - 1, n).round().astype(int))      # (n,) positions
    mine = shard([tuple(c) for c in cells])
    passes = [mine[k:k + cfg.cells_per_pass] for k in range(0, len(mine), cfg.cells_per_pass)]
    rows = []
    start = time.perf_counter()
    for group in progress(passes, desc="basin", unit="pass"):
        # Sums stay on the device until the pass ends: one copy to the host per pass, not per batch.
        halves = torch.zeros((len(group), 2, *shape), dtype=torch.float64, device=device)  # (K, 2, 36, H, W)
        # |c * x| = |c| * |x|: the exact contributions' half sums need only the sum of |x| over
        # each half, the same for every cell (docs/performance.md, "basin").
        abs_x = torch.zeros((2, *shape), dtype=torch.float64, device=device) if truth is not None else None
        for positions, x in runner.batches(chosen, cfg.batch_size):
            maps = runner.deeplift(x, group).abs_()                         # (K, B, 36, H, W)
            half = np.searchsorted(chosen, positions) % 2    # alternate samples: two independent halves
            for h in (0, 1):
                mine = torch.as_tensor(np.flatnonzero(half == h), device=maps.device)
                if len(mine):   # a few float32 terms per batch, then float64 across batches
                    halves[:, h] += maps.index_select(1, mine).sum(1)
                    if truth is not None:
                        abs_x[h] += x.index_select(0, mine).double().abs().sum(0)
        halves = halves.cpu().numpy()
        true_halves = (np.stack([np.abs(truth(*c))[None] * abs_x.cpu().numpy() for c in group])
                       if truth is not None else None)                       # (K, 2, 36, H, W)
        for k, c in enumerate(group):
            row = _measures(halves[k] / len(chosen), data.lat, data.lon, c)
            if truth is not None:
                row.update({f"truth_{key}": v for key, v in
                            _measures(true_halves[k] / len(chosen), data.lat, data.lon, c).items()})
            rows.append(row)
    seconds = time.perf_counter() - start
    rows, all_seconds = gather(rows), gather([seconds])
    prefixes = ["", "truth_"] if truth is not None else [""]
    ds = xr.Dataset(
        {**{f"{p}{k}": (("cell", "month"), np.array([r[f"{p}{k}"] for r in rows]))
            for p in prefixes for k in ("curve", "half_difference")},
         **{f"{p}{k}": ("cell", np.array([r[f"{p}{k}"] for r in rows]))
            for p in prefixes for k in BASIN_MEASURES}},
        coords={"cell": np.arange(len(cells)), "month": month_labels(shape[0]),
                "cell_lat": ("cell", data.lat[cells[:, 0]]), "cell_lon": ("cell", data.lon[cells[:, 1]]),
                "cell_i": ("cell", cells[:, 0]), "cell_j": ("cell", cells[:, 1])},
        attrs={"method": "deeplift", "n_samples": len(chosen), "split": "train", "lead": data.lead,
               "samples": "evenly spaced over the training split",
               "units_curve": "share of the mean |attribution| per input month"})
    wall = max(all_seconds)
    stats = {"seconds": wall, "processes": world(), "attributions": len(chosen) * len(cells),
             "seconds_per_cell": wall / max(len(cells), 1),
             "attributions_per_second": len(chosen) * len(cells) / wall}
    return ds, stats


def summary(ds: xr.Dataset, prefix: str = "") -> dict:
    """Basin-wide numbers for finding 3 and the spread of findings 1-2 across cells.

    With the exact contributions in ``ds`` (``truth_*``), the same numbers for them under
    ``truth``; ``prefix`` selects which variables are summarised.
    """
    curves = ds[f"{prefix}curve"]
    spread = float(curves.std("cell", ddof=0).max("month"))
    # What sampling noise alone gives (split halves), and the spread in excess of it.
    noise = float(ds[f"{prefix}half_difference"].std("cell", ddof=0).max("month"))
    out = {"n_cells": int(ds.sizes["cell"]),
           # Finding 3: the std across cells of the normalised curves, max over months.
           "curve_spread": spread, "curve_spread_noise": noise,
           "curve_spread_excess": float(np.sqrt(max(spread ** 2 - noise ** 2, 0.0)))}
    for key in ("efolding_month", "share_month_minus1", "radius50_km"):
        v = ds[f"{prefix}{key}"].values
        v = v[np.isfinite(v)]
        q = np.percentile(v, [10, 50, 90]) if v.size else [np.nan] * 3
        out[key] = {"p10": float(q[0]), "median": float(q[1]), "p90": float(q[2]),
                    "finite_cells": int(v.size)}
    if not prefix and "truth_curve" in ds:
        out["truth"] = summary(ds, "truth_")
    return out


def describe(metrics: dict) -> str:
    """One line for the log: size, speed and the curve spread of a basin run's metrics."""
    return (f"{metrics['n_cells']} cells x {metrics['attributions'] // max(metrics['n_cells'], 1)} samples "
            f"in {metrics['seconds']:.1f} s ({metrics['seconds_per_cell']:.2f} s per cell, "
            f"{metrics['attributions_per_second']:.1f} attributions/s on {metrics['processes']} "
            f"process(es)); curve spread {metrics['curve_spread']:.4f}")
