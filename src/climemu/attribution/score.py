"""Every attribution method scored against the exact contributions (the score stage).

The paper compares methods by eye (Fig. 2) and picks DeepLift. The synthetic source knows the
answer (:mod:`climemu.truth.exact`), so each method of ``explain.methods`` is scored, on the same
training samples and group cells, with the measures of docs/measures.md:

- per-sample Pearson and Spearman correlation with the truth, over every ocean input and over
  the truth's support (:mod:`~.agreement` says why both);
- the error of the locality radius (50% and 90% of the mean |attribution|) against the truth's;
- the error of the normalised monthly curve: sum over months of |share - true share| (0 when
  the curves agree, 2 when they share no month);
- the share of mean |attribution| in the planted teleconnection's source box, against the truth's.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import xarray as xr
from torch import nn

from climemu.truth.agreement import box_share, correlations, quartiles
from climemu.attribution.heatmaps import LAT, LON, MONTH, month_labels
from climemu.attribution.measures import locality_radius, normalised_curve, share_of_last_month
from climemu.attribution.methods import attribute, method_kwargs
from climemu.core.config import Box
from climemu.data.window import WindowedData
from climemu.core.progress import progress

SCORES = ("pearson", "spearman", "pearson_support", "spearman_support")


def score_methods(model: nn.Module, data: WindowedData, methods: list[str], cells: list,
                  coefficients: dict[str, np.ndarray], n_samples: int, batch_size: int,
                  n_steps: int, shap_base: torch.Tensor | None = None,
                  channels_last: bool = True) -> xr.Dataset:
    """Heatmaps of the first ``n_samples`` training samples, per method and cell, against the truth.

    ``cells``: :class:`~.study.Cell` objects; ``coefficients[cell.name]``: ``(36, H, W)`` truth
    coefficients (:func:`climemu.truth.exact.coefficients`). Returns the four per-sample correlations
    ``(method, cell, sample)``, the mean |heatmap| ``absolute (method, cell, month, lat, lon)``
    and the truth's ``truth_absolute (cell, month, lat, lon)``, and, for figures, the first
    sample's heatmap summed over months (``example``, ``truth_example``).
    """
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    n = min(n_samples, data.n_samples("train"))
    shape = data.ocean.shape
    n_m = data.input_months
    scores = {k: np.full((len(methods), len(cells), n), np.nan) for k in SCORES}
    absolute = np.zeros((len(methods), len(cells), n_m) + shape)           # running sums
    truth_absolute = np.zeros((len(cells), n_m) + shape)
    example = np.zeros((len(methods), len(cells)) + shape)
    truth_example = np.zeros((len(cells),) + shape)
    support = {c.name: coefficients[c.name] != 0 for c in cells}           # (36, H, W) each
    start = time.perf_counter()
    for s in progress(range(0, n, batch_size), desc="score", unit="batch"):
        positions = np.arange(s, min(s + batch_size, n))
        x = data.inputs("train", positions).contiguous(memory_format=layout)   # (B, 36, H, W)
        xn = x.numpy()
        for c_idx, c in enumerate(cells):
            true = coefficients[c.name][None] * xn                          # (B, 36, H, W)
            truth_absolute[c_idx] += np.abs(true).sum(0)
            if s == 0:
                truth_example[c_idx] = true[0].sum(0)
            for m_idx, method in enumerate(methods):
                attr = attribute(model, method, x, (c.i, c.j),
                                 **method_kwargs(method, n_steps, shap_base)).contiguous().numpy()
                absolute[m_idx, c_idx] += np.abs(attr).sum(0)
                if s == 0:
                    example[m_idx, c_idx] = attr[0].sum(0)
                p, r = correlations(attr, true, data.ocean)
                ps, rs = (correlations(attr, true, data.ocean, support[c.name])
                          if support[c.name].any() else (np.nan, np.nan))
                for key, value in zip(SCORES, (p, r, ps, rs)):
                    scores[key][m_idx, c_idx, positions] = value
    seconds = time.perf_counter() - start
    dims = ("method", "cell")
    grid = (MONTH, LAT, LON)
    ds = xr.Dataset(
        {**{k: (dims + ("sample",), v) for k, v in scores.items()},
         "absolute": (dims + grid, (absolute / n).astype(np.float32)),
         "truth_absolute": (("cell",) + grid, (truth_absolute / n).astype(np.float32)),
         "example": (dims + (LAT, LON), example.astype(np.float32)),
         "truth_example": (("cell", LAT, LON), truth_example.astype(np.float32)),
         "ocean": ((LAT, LON), data.ocean)},
        coords={"method": list(methods), "cell": [c.name for c in cells], MONTH: month_labels(n_m),
                LAT: data.lat, LON: data.lon,
                "cell_i": ("cell", [c.i for c in cells]), "cell_j": ("cell", [c.j for c in cells]),
                "cell_lat": ("cell", [c.lat for c in cells]), "cell_lon": ("cell", [c.lon for c in cells])},
        attrs={"n_samples": n, "split": "train", "lead": data.lead, "seconds": seconds,
               "attributions": n * len(cells) * len(methods)})
    return ds


def _map_measures(absolute: xr.DataArray, cell: tuple[int, int], source_box: Box | None) -> dict:
    """Radius, share of month -1 and source-box share of one mean |heatmap| (month, lat, lon)."""
    radius = locality_radius(absolute, absolute[LAT].values, absolute[LON].values, cell)
    curve = absolute.sum((LAT, LON))
    out = {"radius50_km": float(radius["radius_km"][0]), "radius90_km": float(radius["radius_km"][1]),
           "share_month_minus1": float(share_of_last_month(curve))}
    if source_box is not None:
        out["source_box_share"] = box_share(absolute, source_box)
    return out


def score_measures(ds: xr.Dataset, source_box: Box | None = None) -> dict:
    """Flat metrics for ``dvc metrics diff``: ``{method: {cell | "all": {measure: value}}}``.

    ``truth`` holds the same map measures of the exact contributions; each method's
    ``*_error`` is its value minus the truth's. ``all`` pools the correlations of every cell
    and averages the absolute errors over cells.
    """
    out: dict = {"n_samples": int(ds.attrs["n_samples"]), "lead": int(ds.attrs["lead"]),
                 "seconds": round(float(ds.attrs["seconds"]), 2), "truth": {}}
    cells = [str(c) for c in ds["cell"].values]
    truth_curves = {}
    for name in cells:
        c = ds.sel(cell=name)
        ij = (int(c["cell_i"]), int(c["cell_j"]))
        out["truth"][name] = _map_measures(c["truth_absolute"], ij, source_box)
        truth_curves[name] = normalised_curve(c["truth_absolute"].sum((LAT, LON)))
    for method in ds["method"].values:
        entry: dict = {}
        errors = {"radius50_abs_error_km": [], "radius90_abs_error_km": [], "curve_error": []}
        for name in cells:
            c = ds.sel({"cell": name, "method": method})
            ij = (int(c["cell_i"]), int(c["cell_j"]))
            cell_entry = {}
            for key in SCORES:
                cell_entry.update(quartiles(c[key].values, key))
            m = _map_measures(c["absolute"], ij, source_box)
            t = out["truth"][name]
            m["radius50_error_km"] = m["radius50_km"] - t["radius50_km"]
            m["radius90_error_km"] = m["radius90_km"] - t["radius90_km"]
            curve = normalised_curve(c["absolute"].sum((LAT, LON)))
            m["curve_error"] = float(np.abs(curve - truth_curves[name]).sum())
            cell_entry.update(m)
            errors["radius50_abs_error_km"].append(abs(m["radius50_error_km"]))
            errors["radius90_abs_error_km"].append(abs(m["radius90_error_km"]))
            errors["curve_error"].append(m["curve_error"])
            entry[name] = cell_entry
        pooled = {}
        for key in SCORES:
            pooled.update(quartiles(ds[key].sel({"method": method}).values.ravel(), key))
        pooled.update({k: float(np.mean(v)) for k, v in errors.items()})
        entry["all"] = pooled
        out[str(method)] = entry
    return out
