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
from climemu.attribution.aggregate import variant_measures
from climemu.attribution.cells import cell_coords, cell_index
from climemu.attribution.group import GroupSums, VariantSums
from climemu.attribution.heatmaps import LAT, LON, MONTH, as_heatmaps, month_labels
from climemu.attribution.measures import block_sum, curve_spread, map_measures, normalised_curve
from climemu.attribution.methods import controls
from climemu.attribution.runner import AttributionRunner
from climemu.core.config import Box
from climemu.data.window import WindowedData

SCORES = ("pearson", "spearman", "pearson_support", "spearman_support")


def score_methods(model: nn.Module, data: WindowedData, methods: list[str], cells: list,
                  coefficients: dict[str, np.ndarray], n_samples: int, batch_size: int,
                  n_steps: int, shap_base: torch.Tensor | None = None,
                  channels_last: bool = True, *, block_cells: int, options=None) -> xr.Dataset:
    """Heatmaps of the first ``n_samples`` training samples, per method and cell, against the truth.

    ``cells``: :class:`~.cells.Cell` objects; ``coefficients[cell.name]``: ``(36, H, W)`` truth
    coefficients (:func:`climemu.truth.exact.coefficients`). Returns the four per-sample correlations
    ``(method, cell, sample)``, the mean |heatmap| ``absolute (method, cell, month, lat, lon)``
    and the truth's ``truth_absolute (cell, month, lat, lon)``, and, for figures, the first
    sample's heatmap summed over months (``example``, ``truth_example``). Where each cell is:
    :func:`~.aggregate.cell_coords`.

    The identifiable variants' pieces (docs/measures.md), with ``truth_`` counterparts, from the
    accumulator explain and band use (:class:`~.group.VariantSums`, blocks of ``block_cells`` x
    ``block_cells`` cells, no small-scale share): the mean signed curve ``signed_curve (method,
    cell, month)``, each sample's signed radii ``signed_radius50_km``, ``signed_radius90_km
    (method, cell, sample)``, the mean |block sum| ``block_absolute (method, cell, month,
    block_lat, block_lon)``; and the per-sample Pearson correlation of the block maps with the
    truth's, ``block_pearson (method, cell, sample)``.
    """
    # Captum's DeepLift too (fast=False): every method through the same reference implementation.
    runner = AttributionRunner(model, data, channels_last=channels_last, n_steps=n_steps,
                               shap_base=shap_base, options=options, fast=False)
    n = min(n_samples, data.n_samples("train"))
    shape = data.ocean.shape
    n_m = data.input_months
    # Per (method or "truth", cell): the |.| sums and the variants' pieces, as explain keeps them.
    sums = {(m, c.name): GroupSums() for m in [*methods, "truth"] for c in cells}
    variant = {(m, c.name): VariantSums(data.lat, data.lon, (c.i, c.j), block_cells, None, n_m)
               for m in [*methods, "truth"] for c in cells}
    scores = {k: np.full((len(methods), len(cells), n), np.nan) for k in SCORES}
    example = np.zeros((len(methods), len(cells)) + shape)
    truth_example = np.zeros((len(cells),) + shape)
    support = {c.name: coefficients[c.name] != 0 for c in cells}           # (36, H, W) each
    block_pearson = np.full((len(methods), len(cells), n), np.nan)
    method_seconds = np.zeros(len(methods))                                 # attribution time per method
    start = time.perf_counter()
    for positions, x in runner.batches(np.arange(n), batch_size, desc="score"):
        first = positions[0] == 0                                           # holds the example
        xn = x.numpy()                                                      # (B, 36, H, W)
        ij = [(c.i, c.j) for c in cells]
        truths = []
        for c_idx, c in enumerate(cells):
            true = coefficients[c.name][None] * xn                          # (B, 36, H, W)
            sums[("truth", c.name)].update(true)
            variant[("truth", c.name)].update(true)
            truths.append((true, block_sum(as_heatmaps(true), block_cells).values))   # blocks (B, 36, bH, bW)
            if first:
                truth_example[c_idx] = true[0].sum(0)
        for m_idx, method in enumerate(methods):
            # Every cell in one call: Occlusion's perturbed forwards serve them all (runner).
            tick = time.perf_counter()
            maps = runner.attribute(x, ij, method).maps                     # (C, B, 36, H, W)
            method_seconds[m_idx] += time.perf_counter() - tick
            for c_idx, c in enumerate(cells):
                attr, (true, true_blocks) = maps[c_idx], truths[c_idx]
                sums[(method, c.name)].update(attr)
                variant[(method, c.name)].update(attr)
                attr_blocks = block_sum(as_heatmaps(attr), block_cells).values   # (B, 36, bH, bW)
                block_pearson[m_idx, c_idx, positions] = pearson_rows(
                    attr_blocks.reshape(len(positions), -1), true_blocks.reshape(len(positions), -1))
                if first:
                    example[m_idx, c_idx] = attr[0].sum(0)
                p, r = correlations(attr, true, data.ocean)
                ps, rs = (correlations(attr, true, data.ocean, support[c.name])
                          if support[c.name].any() else (np.nan, np.nan))
                for key, value in zip(SCORES, (p, r, ps, rs)):
                    scores[key][m_idx, c_idx, positions] = value
    seconds = time.perf_counter() - start

    def means(m: str) -> xr.Dataset:
        """``absolute`` (float32, as before) and the variants' pieces of ``m``, along ``cell``."""
        per_cell = [xr.merge([sums[(m, c.name)].mean()[["absolute"]].astype(np.float32),
                              variant[(m, c.name)].mean()], combine_attrs="drop") for c in cells]
        return xr.concat(per_cell, dim="cell")

    methods_means = xr.concat([means(m) for m in methods], dim="method")   # (method, cell, ...)
    truth = means("truth")                                                  # (cell, ...)
    dims = ("method", "cell")
    ds = xr.Dataset(
        {**{k: (dims + ("sample",), v) for k, v in scores.items()},
         **methods_means.data_vars, **{f"truth_{k}": v for k, v in truth.data_vars.items()},
         "example": (dims + (LAT, LON), example.astype(np.float32)),
         "truth_example": (("cell", LAT, LON), truth_example.astype(np.float32)),
         "ocean": ((LAT, LON), data.ocean),
         "block_pearson": (dims + ("sample",), block_pearson),
         "seconds_per_attribution": ("method", method_seconds / max(n * len(cells), 1))},
        coords={"method": list(methods), MONTH: month_labels(n_m), LAT: data.lat, LON: data.lon,
                **cell_coords([c.name for c in cells], [(c.i, c.j) for c in cells], data.lat, data.lon)},
        attrs={"n_samples": n, "split": "train", "lead": data.lead, "seconds": seconds,
               "block_cells": block_cells,
               "attributions": n * len(cells) * len(methods)})
    return ds


def score_measures(ds: xr.Dataset, source_box: Box | None = None) -> dict:
    """Flat metrics for ``dvc metrics diff``: ``{method: {cell | "all": {measure: value}}}``.

    ``controls``: the controls among the methods (scored alike, judged apart by the report).
    ``truth`` holds the same map measures of the exact contributions; each method's
    ``*_error`` is its value minus the truth's. ``all`` pools the correlations of every cell
    and averages the absolute errors over cells; its ``curve_spread`` is finding 3's measure over
    the cells (the truth's: ``truth_curve_spread``).

    Each cell (truth and methods) also has ``variants`` (docs/measures.md, "Identifiable
    variants"): ``abs``, ``signed`` and ``block``, each with ``share_month_minus1`` and
    ``radius50_km`` and, for a method, their absolute errors against the truth's same variant
    (``share_month_minus1_abs_error``, ``radius50_km_abs_error``); ``block`` adds the quartiles
    of the block maps' Pearson correlation with the truth's (``pearson_median`` ...). ``all``
    averages the errors over cells and pools the correlations.
    """
    methods = [str(m) for m in ds["method"].values]
    out: dict = {"n_samples": int(ds.attrs["n_samples"]), "lead": int(ds.attrs["lead"]),
                 "seconds": round(float(ds.attrs["seconds"]), 2), "controls": controls(methods), "truth": {}}
    cells = [str(c) for c in ds["cell"].values]
    truth_curves = {}
    for name in cells:
        c = ds.sel(cell=name)
        t = map_measures(c["truth_absolute"], cell_index(c), source_box)
        truth_curves[name] = normalised_curve(c["truth_absolute"].sum((LAT, LON)))
        if "signed_curve" in ds:
            t["variants"] = _variants(t, c, source_box, "truth_")
        out["truth"][name] = t
    # finding 3's measure over the score cells (the group's is aggregate.json's)
    out["truth_curve_spread"] = float(curve_spread(xr.concat(list(truth_curves.values()), dim="cell",
                                                                 coords="minimal", compat="override")))
    for method in ds["method"].values:
        entry: dict = {}
        errors = {"radius50_abs_error_km": [], "radius90_abs_error_km": [], "curve_error": []}
        method_curves = []
        for name in cells:
            c = ds.sel({"cell": name, "method": method})
            cell_entry = {}
            for key in SCORES:
                cell_entry.update(quartiles(c[key].values, key))
            m = map_measures(c["absolute"], cell_index(c), source_box)
            t = out["truth"][name]
            m["radius50_error_km"] = m["radius50_km"] - t["radius50_km"]
            m["radius90_error_km"] = m["radius90_km"] - t["radius90_km"]
            curve = normalised_curve(c["absolute"].sum((LAT, LON)))
            method_curves.append(curve)
            m["curve_error"] = float(np.abs(curve - truth_curves[name]).sum())
            cell_entry.update(m)
            if "signed_curve" in ds:
                cell_entry["variants"] = _variant_errors(_variants(m, c, source_box),
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
        pooled["curve_spread"] = float(curve_spread(xr.concat(method_curves, dim="cell", coords="minimal",
                                                               compat="override")))
        if "signed_curve" in ds:
            pooled["variants"] = {
                variant: {key: float(np.mean([entry[name]["variants"][variant][key] for name in cells]))
                          for key in VARIANT_ERRORS}
                for variant in VARIANTS}
            pooled["variants"]["block"].update(
                quartiles(ds["block_pearson"].sel({"method": method}).values.ravel(), "pearson"))
        if "seconds_per_attribution" in ds:
            pooled["seconds_per_attribution"] = float(ds["seconds_per_attribution"].sel({"method": method}))
        entry["all"] = pooled
        out[str(method)] = entry
    out["pearson_support_vs_best"] = versus_best(ds["pearson_support"], [m for m in methods
                                                                      if m not in out["controls"]])
    return out


def versus_best(values: xr.DataArray, methods: list[str], level: float = 0.9, draws: int = 2000,
                seed: int = 0) -> dict:
    """Which methods the samples cannot tell from the best one: per method, the difference of its
    median (over cells and samples) from the highest median, with a paired percentile bootstrap
    interval at ``level`` (the same cells and samples drawn for every method, ``draws`` times).

    ``values``: ``(method, cell, sample)``. Returns ``{"best": name, "level": level, "methods":
    {name: {"difference", "low", "high", "distinguishable"}}}``; a method is distinguishable from
    the best when its whole interval lies below 0."""
    v = np.stack([values.sel({"method": m}).values.ravel() for m in methods])     # (M, cells * samples)
    keep = np.isfinite(v).all(0)
    v = v[:, keep]
    if v.shape[1] == 0:
        return {"best": None, "level": level, "methods": {}}
    medians = np.median(v, axis=1)
    best = int(np.argmax(medians))
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, v.shape[1], (draws, v.shape[1]))
    boot = np.median(v[:, picks], axis=2)                                          # (M, draws)
    diff = boot - boot[best]
    low, high = np.quantile(diff, [0.5 - level / 2, 0.5 + level / 2], axis=1)
    return {"best": methods[best], "level": level, "n": int(v.shape[1]),
            "methods": {m: {"difference": float(medians[k] - medians[best]), "low": float(low[k]),
                            "high": float(high[k]), "distinguishable": bool(high[k] < 0)}
                        for k, m in enumerate(methods)}}


VARIANTS = ("abs", "signed", "block")
VARIANT_MEASURES = ("share_month_minus1", "radius50_km")                 # what score compares
VARIANT_ERRORS = tuple(f"{k}_abs_error" for k in VARIANT_MEASURES)


def _variants(absolute: dict, c: xr.Dataset, source_box: Box | None, prefix: str = "") -> dict:
    """The :data:`VARIANT_MEASURES` of each variant for one cell (and method).

    ``absolute``: the cell's :func:`~.measures.map_measures` of the mean |heatmap| (the ``abs``
    variant, computed once by the caller); ``signed`` and ``block`` from the one assembler,
    :func:`~.aggregate.variant_measures`, so score.json and aggregate.json cannot drift apart.
    """
    both = {"abs": absolute, **variant_measures(c, source_box, prefix)}
    return {v: {k: both[v][k] for k in VARIANT_MEASURES} for v in VARIANTS}


def _variant_errors(method: dict, truth: dict) -> dict:
    """Each variant's values with their absolute errors against the truth's same variant."""
    return {variant: {**values,
                      **{f"{k}_abs_error": abs(values[k] - truth[variant][k]) for k in VARIANT_MEASURES}}
            for variant, values in method.items()}
