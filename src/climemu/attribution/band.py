"""The equivalence band: what any near-optimal predictor would show (docs/measures.md, "Equivalence band").

A measure of a heatmap says something about the data only where every predictor of nearly the
same skill shows about the same value; where near-optimal predictors disagree, a method's value
says nothing about the data, however far it lies from the truth's. For one output cell:

1. **Predictors.** Ridge regressions of the cell's normalised target on every input month of the
   ocean cells in a square neighbourhood (``radii``, in cells), fitted on the training split
   along a path of penalties (``penalties``, multiples of the mean eigenvalue of X^T X, so the
   path does not depend on the data's units). Each (radius, penalty) is one predictor.
2. **Near-optimal.** Those whose validation MSE is at most ``1 + tolerance`` times the best one's.
3. **Their measures.** A linear predictor ``f(x) = sum w x`` has exact contributions ``w * x``
   (DeepLift with the zero baseline, Integrated Gradients and Input x Gradient all return them),
   so each is explained on the same training samples as the group method and measured by the same
   code (:func:`climemu.attribution.aggregate.measures`): the paper's |.| measures and the
   identifiable variants.
4. **The band** of a measure is its range over the near-optimal predictors; the report judges a
   method's value "outside what any near-optimal predictor shows" only outside it
   (:func:`climemu.report.band.outside`).

The band is only as wide as the family of predictors is rich: ridge paths over a few
neighbourhoods are one family among many (a lower bound on the true band's width).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from climemu.attribution.aggregate import measures as aggregate_measures
from climemu.attribution.cells import cell_coords
from climemu.attribution.group import GroupSums, VariantSums
from climemu.core.config import Box
from climemu.data.window import WindowedData
from climemu.truth.identifiability import neighbourhood

VARIANTS = ("abs", "signed", "block")     # "abs": the paper's measures; the others as in aggregate


def design(data: WindowedData, split: str, mask: np.ndarray, cell: tuple[int, int],
           positions=None, months: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Features ``X (N, months * n)`` and targets ``y (N,)`` of the ``n`` cells of ``mask``.

    Features are the normalised inputs (the last ``months`` input months, default all, oldest
    first, then the cells of ``mask`` in row-major order), targets the cell's normalised target:
    the network's own inputs and target (:class:`~climemu.data.window.WindowedData`), restricted
    to the neighbourhood.
    """
    months = months or data.input_months
    if positions is None:
        positions = np.arange(data.n_samples(split))
    t = data.target_index(split, positions)                               # (N,) target months
    series = data.x[:, mask]                                              # (time, n) normalised
    first = t - data.lead - months + 1                                    # (N,) first month used
    index = first[:, None] + np.arange(months)                            # (N, months)
    X = series[index].reshape(len(t), -1).astype(np.float64)             # (N, months * n)
    y = data.x[t, cell[0], cell[1]].astype(np.float64)                    # (N,)
    return X, y


def ridge_path(X: np.ndarray, y: np.ndarray, penalties) -> np.ndarray:
    """Ridge weights ``(P, F)`` for each penalty, in multiples of the mean eigenvalue of X^T X.

    No intercept: inputs and targets are anomalies from the training climatology, and a
    predictor without one has exact zero-baseline contributions ``w * x`` that sum to f(x).
    One SVD serves the whole path: w = V diag(s / (s^2 + lambda)) U^T y.
    """
    u, s, vt = np.linalg.svd(X, full_matrices=False)                      # X = U S V^T
    scale = float((s ** 2).sum()) / X.shape[1]                            # mean eigenvalue of X^T X
    uy = u.T @ y                                                          # (r,)
    return np.stack([vt.T @ (s / (s ** 2 + p * scale) * uy) for p in penalties])


def near_optimal(val_mse: np.ndarray, tolerance: float) -> np.ndarray:
    """Indices of the predictors with validation MSE at most ``(1 + tolerance)`` x the best."""
    val_mse = np.asarray(val_mse, dtype=float)
    return np.flatnonzero(val_mse <= (1.0 + tolerance) * val_mse.min())


def predictor_maps(w: np.ndarray, mask: np.ndarray, months: int) -> np.ndarray:
    """Weights ``(m * n,)`` of the last m input months at the cells of ``mask`` as a full map
    ``(months, lat, lon)`` (earlier months zero)."""
    full = np.zeros((months, *mask.shape))
    m = w.size // int(mask.sum())
    full[months - m:, mask] = w.reshape(m, -1)
    return full


def explain_linear(weights: np.ndarray, inputs, cell: tuple[int, int], lat, lon, name: str,
                   block_cells: int, sigma: float, source_box: Box | None, batch_size: int = 16
                   ) -> xr.Dataset:
    """The group explanation of one linear predictor ``weights (36, lat, lon)`` at one cell.

    ``inputs``: ``(N, 36, lat, lon)`` array of the group samples. Contributions ``w * x`` go
    through the same running sums as a method's heatmaps; the result has the layout of
    ``explain/group.nc`` for one cell, ready for :func:`~.aggregate.measures`.
    """
    months = weights.shape[0]
    sums, variant = GroupSums(lat, lon), VariantSums(lat, lon, cell, block_cells, sigma, months, source_box)
    for start in range(0, len(inputs), batch_size):
        contributions = weights[None] * np.asarray(inputs[start:start + batch_size])   # (B, 36, H, W)
        sums.update(contributions)
        variant.update(contributions)
    ds = xr.concat([sums.mean()], dim="cell")
    for key, value in xr.concat([variant.mean()], dim="cell").data_vars.items():
        ds[key] = value
    ds = ds.assign_coords(cell_coords([name], [cell], lat, lon))
    ds.attrs.update({"method": "linear", "n_samples": len(inputs), "block_cells": block_cells,
                     "small_scale_sigma": sigma})
    return ds


def flatten(cell_measures: dict) -> dict[str, dict[str, float]]:
    """``{variant: {measure: value}}`` from one cell's entry of aggregate's measures."""
    out = {"abs": {k: v for k, v in cell_measures.items() if isinstance(v, float) and k != "small_scale_share"}}
    out["abs"]["small_scale_share"] = cell_measures.get("small_scale_share", float("nan"))
    for name, values in cell_measures.get("variants", {}).items():
        out[name] = dict(values)
    return out


def band_of(values: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, dict[str, float]]]:
    """``{variant: {measure: {"low", "high"}}}``: the range of each measure over predictors (NaN skipped)."""
    out: dict = {}
    for variant in values[0]:
        out[variant] = {}
        for key in values[0][variant]:
            v = np.array([m[variant][key] for m in values], dtype=float)
            v = v[np.isfinite(v)]
            out[variant][key] = ({"low": float(v.min()), "high": float(v.max())} if v.size
                                 else {"low": float("nan"), "high": float("nan")})
    return out


def cell_band(data: WindowedData, cell: tuple[int, int], name: str, radii, penalties, tolerance: float,
              group_inputs, block_cells: int, sigma: float, source_box: Box | None,
              exact: np.ndarray | None = None, months=(None,)) -> dict:
    """Fit the predictors of one cell, pick the near-optimal ones, measure them: one cell's band.

    ``exact``: the truth's coefficients ``(36, lat, lon)`` (synthetic source), whose validation
    MSE is reported beside the best predictor's: the skill the family leaves on the table.
    """
    candidates = []
    for radius in radii:
        mask = neighbourhood(data.ocean, cell, radius)                       # (lat, lon) bool
        for m in months:
            X, y = design(data, "train", mask, cell, months=m)
            Xv, yv = design(data, "val", mask, cell, months=m)
            for penalty, w in zip(penalties, ridge_path(X, y, penalties)):
                candidates.append({"radius": int(radius), "months": int(m or data.input_months),
                                   "penalty": float(penalty), "val_mse": float(np.mean((yv - Xv @ w) ** 2)),
                                   "weights": w, "mask": mask})
    chosen = near_optimal([c["val_mse"] for c in candidates], tolerance)
    measured = []
    for k in chosen:
        c = candidates[k]
        ds = explain_linear(predictor_maps(c["weights"], c["mask"], data.input_months), group_inputs,
                            cell, data.lat, data.lon, name, block_cells, sigma, source_box)
        measured.append(flatten(aggregate_measures(ds, source_box)["attribution"]["cells"][name]))
    out = {"best_val_mse": float(min(c["val_mse"] for c in candidates)),
           "n_predictors": len(candidates), "n_near_optimal": int(len(chosen)),
           "near_optimal": [{"radius": candidates[k]["radius"], "months": candidates[k]["months"],
                             "penalty": candidates[k]["penalty"], "val_mse": candidates[k]["val_mse"]}
                            for k in chosen],
           "band": band_of(measured)}
    if exact is not None:
        support = (exact != 0).any(axis=0) & data.ocean                     # (lat, lon)
        Xv, yv = design(data, "val", support, cell)
        out["truth_val_mse"] = float(np.mean((yv - Xv @ exact[:, support].ravel()) ** 2))
        # The truth measured by the same code on the same samples: whether the band holds it
        # (its coverage, report/band.py) needs no network, so it is known at every lead.
        ds = explain_linear(exact, group_inputs, cell, data.lat, data.lon, name, block_cells, sigma, source_box)
        out["truth"] = flatten(aggregate_measures(ds, source_box)["attribution"]["cells"][name])
    return out
