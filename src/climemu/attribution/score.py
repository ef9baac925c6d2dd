"""Every attribution method scored against the exact contributions (the score stage).

The paper compares methods by eye (Fig. 2) and picks DeepLift. The synthetic source knows the
answer (:mod:`climemu.truth.exact`), so each method of ``explain.methods`` is scored, on the same
training samples and group cells, with the measures of docs/measures.md:

- per-sample Pearson and Spearman correlation with the truth, over every ocean input and over
  the truth's support (:mod:`~.agreement` says why both);
- the map measures of the mean |attribution| (:func:`~.measures.map_measures`: locality
  radius, e-folding month, share of month -1, share in the planted teleconnection's source
  box) beside the truth's, and the error of the locality radius (50% and 90%) against it;
- the error of the normalised monthly curve: sum over months of |share - true share| (0 when
  the curves agree, 2 when they share no month);
- per identifiable variant (docs/measures.md, "Identifiable variants": ``abs``, ``signed``,
  ``block``), the absolute error of the share of month -1 and of the 50% radius against the
  truth's same variant, and for ``block`` the per-sample Pearson correlation of the block maps
  with the truth's.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import xarray as xr
from torch import nn

from climemu.truth.agreement import correlations, pearson_rows, quartiles
from climemu.attribution.heatmaps import LAT, LON, MONTH, as_heatmaps, month_labels
from climemu.attribution.measures import (block_cell, block_sum, map_measures, normalised_curve,
                                          share_of_last_month, signed_curve, signed_radius)
from climemu.attribution.runner import AttributionRunner
from climemu.core.config import Box
from climemu.data.window import WindowedData

SCORES = ("pearson", "spearman", "pearson_support", "spearman_support")


def score_methods(model: nn.Module, data: WindowedData, methods: list[str], cells: list,
                  coefficients: dict[str, np.ndarray], n_samples: int, batch_size: int,
                  n_steps: int, shap_base: torch.Tensor | None = None,
                  channels_last: bool = True, *, block_cells: int) -> xr.Dataset:
    """Heatmaps of the first ``n_samples`` training samples, per method and cell, against the truth.

    ``cells``: :class:`~.study.Cell` objects; ``coefficients[cell.name]``: ``(36, H, W)`` truth
    coefficients (:func:`climemu.truth.exact.coefficients`). Returns the four per-sample correlations
    ``(method, cell, sample)``, the mean |heatmap| ``absolute (method, cell, month, lat, lon)``
    and the truth's ``truth_absolute (cell, month, lat, lon)``, and, for figures, the first
    sample's heatmap summed over months (``example``, ``truth_example``).

    The identifiable variants' pieces (docs/measures.md), with ``truth_`` counterparts: the mean
    signed curve ``signed_curve (method, cell, month)``, each sample's signed 50% radius
    ``signed_radius50_km (method, cell, sample)``, the mean |block sum| over ``block_cells`` x
    ``block_cells`` cells ``block_absolute (method, cell, month, block_lat, block_lon)`` and the
    per-sample Pearson correlation of the block maps with the truth's ``block_pearson``.
    """
    # Captum's DeepLift too (fast=False): every method through the same reference implementation.
    runner = AttributionRunner(model, data, channels_last=channels_last, n_steps=n_steps,
                               shap_base=shap_base, fast=False)
    n = min(n_samples, data.n_samples("train"))
    shape = data.ocean.shape
    n_m = data.input_months
    scores = {k: np.full((len(methods), len(cells), n), np.nan) for k in SCORES}
    absolute = np.zeros((len(methods), len(cells), n_m) + shape)           # running sums
    truth_absolute = np.zeros((len(cells), n_m) + shape)
    example = np.zeros((len(methods), len(cells)) + shape)
    truth_example = np.zeros((len(cells),) + shape)
    support = {c.name: coefficients[c.name] != 0 for c in cells}           # (36, H, W) each
    grid = as_heatmaps(np.zeros((1, n_m) + shape), data.lat, data.lon)
    blocks = block_sum(grid, block_cells)                                   # (1, 36, bH, bW) coords
    curve = np.zeros((len(methods), len(cells), n_m))                       # running sums
    truth_curve = np.zeros((len(cells), n_m))
    block_abs = np.zeros((len(methods), len(cells)) + blocks.shape[1:])
    truth_block_abs = np.zeros((len(cells),) + blocks.shape[1:])
    radius = np.full((len(methods), len(cells), n), np.nan)
    truth_radius = np.full((len(cells), n), np.nan)
    block_pearson = np.full((len(methods), len(cells), n), np.nan)
    start = time.perf_counter()
    for positions, x in runner.batches(np.arange(n), batch_size, desc="score"):
        first = positions[0] == 0                                           # holds the example
        xn = x.numpy()                                                      # (B, 36, H, W)
        for c_idx, c in enumerate(cells):
            true = coefficients[c.name][None] * xn                          # (B, 36, H, W)
            truth_absolute[c_idx] += np.abs(true).sum(0)
            true_maps = as_heatmaps(true, data.lat, data.lon)
            true_blocks = block_sum(true_maps, block_cells)                 # (B, 36, bH, bW)
            truth_curve[c_idx] += signed_curve(true_maps).sum("sample").values
            truth_block_abs[c_idx] += np.abs(true_blocks).sum("sample").values
            truth_radius[c_idx, positions] = signed_radius(true_maps, data.lat, data.lon, (c.i, c.j)).values
            if first:
                truth_example[c_idx] = true[0].sum(0)
            for m_idx, method in enumerate(methods):
                attr = runner.attribute(x, [(c.i, c.j)], method).maps[0]    # (B, 36, H, W)
                absolute[m_idx, c_idx] += np.abs(attr).sum(0)
                maps = as_heatmaps(attr, data.lat, data.lon)
                attr_blocks = block_sum(maps, block_cells)                  # (B, 36, bH, bW)
                curve[m_idx, c_idx] += signed_curve(maps).sum("sample").values
                block_abs[m_idx, c_idx] += np.abs(attr_blocks).sum("sample").values
                radius[m_idx, c_idx, positions] = signed_radius(maps, data.lat, data.lon, (c.i, c.j)).values
                block_pearson[m_idx, c_idx, positions] = pearson_rows(
                    attr_blocks.values.reshape(len(positions), -1), true_blocks.values.reshape(len(positions), -1))
                if first:
                    example[m_idx, c_idx] = attr[0].sum(0)
                p, r = correlations(attr, true, data.ocean)
                ps, rs = (correlations(attr, true, data.ocean, support[c.name])
                          if support[c.name].any() else (np.nan, np.nan))
                for key, value in zip(SCORES, (p, r, ps, rs)):
                    scores[key][m_idx, c_idx, positions] = value
    seconds = time.perf_counter() - start
    dims = ("method", "cell")
    grid = (MONTH, LAT, LON)
    block_grid = (MONTH, "block_lat", "block_lon")
    ds = xr.Dataset(
        {**{k: (dims + ("sample",), v) for k, v in scores.items()},
         "absolute": (dims + grid, (absolute / n).astype(np.float32)),
         "truth_absolute": (("cell",) + grid, (truth_absolute / n).astype(np.float32)),
         "example": (dims + (LAT, LON), example.astype(np.float32)),
         "truth_example": (("cell", LAT, LON), truth_example.astype(np.float32)),
         "ocean": ((LAT, LON), data.ocean),
         "signed_curve": (dims + (MONTH,), curve / n),
         "truth_signed_curve": (("cell", MONTH), truth_curve / n),
         "signed_radius50_km": (dims + ("sample",), radius),
         "truth_signed_radius50_km": (("cell", "sample"), truth_radius),
         "block_absolute": (dims + block_grid, block_abs / n),
         "truth_block_absolute": (("cell",) + block_grid, truth_block_abs / n),
         "block_pearson": (dims + ("sample",), block_pearson)},
        coords={"method": list(methods), "cell": [c.name for c in cells], MONTH: month_labels(n_m),
                LAT: data.lat, LON: data.lon,
                "block_lat": blocks[LAT].values, "block_lon": blocks[LON].values,
                "cell_i": ("cell", [c.i for c in cells]), "cell_j": ("cell", [c.j for c in cells]),
                "cell_lat": ("cell", [c.lat for c in cells]), "cell_lon": ("cell", [c.lon for c in cells])},
        attrs={"n_samples": n, "split": "train", "lead": data.lead, "seconds": seconds,
               "block_cells": block_cells,
               "attributions": n * len(cells) * len(methods)})
    return ds


def score_measures(ds: xr.Dataset, source_box: Box | None = None) -> dict:
    """Flat metrics for ``dvc metrics diff``: ``{method: {cell | "all": {measure: value}}}``.

    ``truth`` holds the same map measures of the exact contributions; each method's
    ``*_error`` is its value minus the truth's. ``all`` pools the correlations of every cell
    and averages the absolute errors over cells.

    Each cell (truth and methods) also has ``variants`` (docs/measures.md, "Identifiable
    variants"): ``abs``, ``signed`` and ``block``, each with ``share_month_minus1`` and
    ``radius50_km`` and, for a method, their absolute errors against the truth's same variant
    (``share_month_minus1_abs_error``, ``radius50_km_abs_error``); ``block`` adds the quartiles
    of the block maps' Pearson correlation with the truth's (``pearson_median`` ...). ``all``
    averages the errors over cells and pools the correlations.
    """
    out: dict = {"n_samples": int(ds.attrs["n_samples"]), "lead": int(ds.attrs["lead"]),
                 "seconds": round(float(ds.attrs["seconds"]), 2), "truth": {}}
    cells = [str(c) for c in ds["cell"].values]
    truth_curves = {}
    for name in cells:
        c = ds.sel(cell=name)
        ij = (int(c["cell_i"]), int(c["cell_j"]))
        out["truth"][name] = map_measures(c["truth_absolute"], ij, source_box)
        truth_curves[name] = normalised_curve(c["truth_absolute"].sum((LAT, LON)))
        if "signed_curve" in ds:
            out["truth"][name]["variants"] = _variants(ds, c, ij, source_box, "truth_")
    for method in ds["method"].values:
        entry: dict = {}
        errors = {"radius50_abs_error_km": [], "radius90_abs_error_km": [], "curve_error": []}
        for name in cells:
            c = ds.sel({"cell": name, "method": method})
            ij = (int(c["cell_i"]), int(c["cell_j"]))
            cell_entry = {}
            for key in SCORES:
                cell_entry.update(quartiles(c[key].values, key))
            m = map_measures(c["absolute"], ij, source_box)
            t = out["truth"][name]
            m["radius50_error_km"] = m["radius50_km"] - t["radius50_km"]
            m["radius90_error_km"] = m["radius90_km"] - t["radius90_km"]
            curve = normalised_curve(c["absolute"].sum((LAT, LON)))
            m["curve_error"] = float(np.abs(curve - truth_curves[name]).sum())
            cell_entry.update(m)
            if "signed_curve" in ds:
                cell_entry["variants"] = _variant_errors(_variants(ds, c, ij, source_box),
                                                         out["truth"][name]["variants"])
                cell_entry["variants"]["block"].update(quartiles(c["block_pearson"].values, "pearson"))
            errors["radius50_abs_error_km"].append(abs(m["radius50_error_km"]))
            errors["radius90_abs_error_km"].append(abs(m["radius90_error_km"]))
            errors["curve_error"].append(m["curve_error"])
            entry[name] = cell_entry
        pooled = {}
        for key in SCORES:
            pooled.update(quartiles(ds[key].sel({"method": method}).values.ravel(), key))
        pooled.update({k: float(np.mean(v)) for k, v in errors.items()})
        if "signed_curve" in ds:
            pooled["variants"] = {
                variant: {key: float(np.mean([entry[name]["variants"][variant][key] for name in cells]))
                          for key in VARIANT_ERRORS}
                for variant in VARIANTS}
            pooled["variants"]["block"].update(
                quartiles(ds["block_pearson"].sel({"method": method}).values.ravel(), "pearson"))
        entry["all"] = pooled
        out[str(method)] = entry
    return out


VARIANTS = ("abs", "signed", "block")
VARIANT_ERRORS = ("share_month_minus1_abs_error", "radius50_km_abs_error")


def _variants(ds: xr.Dataset, c: xr.Dataset, ij: tuple[int, int], source_box: Box | None,
              prefix: str = "") -> dict:
    """``share_month_minus1`` and ``radius50_km`` of each variant for one cell (and method)."""
    absolute = map_measures(c[f"{prefix}absolute"], ij, source_box)
    radii = c[f"{prefix}signed_radius50_km"].values
    blocks = c[f"{prefix}block_absolute"].rename({"block_lat": LAT, "block_lon": LON})
    shape = (ds.sizes[LAT], ds.sizes[LON])
    block = map_measures(blocks, block_cell(ij, int(ds.attrs["block_cells"]), shape), source_box)
    return {"abs": {k: absolute[k] for k in ("share_month_minus1", "radius50_km")},
            "signed": {"share_month_minus1": float(share_of_last_month(c[f"{prefix}signed_curve"])),
                       "radius50_km": float(np.nanmedian(radii)) if np.isfinite(radii).any() else float("nan")},
            "block": {k: block[k] for k in ("share_month_minus1", "radius50_km")}}


def _variant_errors(method: dict, truth: dict) -> dict:
    """Each variant's values with their absolute errors against the truth's same variant."""
    return {variant: {**values,
                      **{f"{k}_abs_error": abs(values[k] - truth[variant][k])
                         for k in ("share_month_minus1", "radius50_km")}}
            for variant, values in method.items()}
