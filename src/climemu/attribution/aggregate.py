"""The aggregate stage's numbers: contribution curves and the paper's findings as measures.

From the group explanation (paper Sec. 4.2, Fig. 4): per cell, the monthly contribution
curves (positive, negative, all), their normalised form, the locality radius (finding 1), the
e-folding month and the share of month -1 (finding 2), and the spread of the normalised curves
across cells (finding 3). With the synthetic source, the same measures on the exact
contributions and the agreement of each heatmap with them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from climemu.truth.agreement import quartiles
from climemu.attribution.measures import (curve_spread, efolding_month, group_monthly_contribution,
                                          map_measures, normalised_curve, share_before,
                                          share_of_last_month)
from climemu.core.config import Box


def _means(group: xr.Dataset, prefix: str = "") -> xr.Dataset:
    return xr.Dataset({k: group[f"{prefix}{k}"] for k in ("positive", "negative", "absolute")})


def curves(group: xr.Dataset, truth: bool = False) -> xr.Dataset:
    """Monthly contribution curves (cell, month) of the group means (or of the truth)."""
    return group_monthly_contribution(_means(group, "truth_" if truth else ""))


def contribution_table(group: xr.Dataset, lead: int) -> pd.DataFrame:
    """Long form (lead, method, cell, sign, month, contribution, normalised) for dvc plots."""
    frames = []
    sources = [(group.attrs["method"], False)] + ([("truth", True)] if "truth_absolute" in group else [])
    for method, is_truth in sources:
        c = curves(group, is_truth)
        for sign in ("positive", "negative", "all"):
            norm = normalised_curve(c[sign])
            for cell in c["cell"].values:
                frames.append(pd.DataFrame({
                    "lead": lead, "method": method, "cell": str(cell), "sign": sign,
                    "month": c["month"].values, "contribution": c[sign].sel(cell=cell).values,
                    "normalised": norm.sel(cell=cell).values}))
    return pd.concat(frames, ignore_index=True)


def truth_by_lead(curves: xr.DataArray) -> dict:
    """The truth's temporal measures at each lead (``truth_lead``, cell, month): finding 2's answer."""
    out = {}
    for lead in curves["truth_lead"].values:
        c = curves.sel(truth_lead=lead)
        out[str(int(lead))] = {
            "cells": {str(name): {"share_month_minus1": float(share_of_last_month(c.sel(cell=name))),
                                  "share_before_minus12": float(share_before(c.sel(cell=name))),
                                  "efolding_month": float(efolding_month(c.sel(cell=name), interpolate=True))}
                      for name in c["cell"].values},
            "curve_spread": float(curve_spread(c, dim="cell"))}
    return out


def measures(group: xr.Dataset, source_box: Box | None = None) -> dict:
    """Per-cell measures and across-cell spread, flat enough for ``dvc metrics diff``."""
    lat_idx = {float(v): i for i, v in enumerate(group["lat"].values)}
    lon_idx = {float(v): j for j, v in enumerate(group["lon"].values)}
    out: dict = {"method": group.attrs["method"], "n_samples": int(group.attrs["n_samples"])}
    has_truth = "truth_absolute" in group
    for is_truth in (False, True) if has_truth else (False,):
        key = "truth" if is_truth else "attribution"
        c = curves(group, is_truth)["all"]
        per_cell = {}
        for name in group["cell"].values:
            g = group.sel(cell=name)
            cell = (lat_idx[float(g["cell_lat"])], lon_idx[float(g["cell_lon"])])
            absolute = g["truth_absolute" if is_truth else "absolute"]     # (month, lat, lon)
            # The paper's "all" curve (positive + negative means), as the contribution table.
            per_cell[str(name)] = map_measures(absolute, cell, source_box, curve=c.sel(cell=name))
        out[key] = {"cells": per_cell, "curve_spread": float(curve_spread(c, dim="cell"))}
    if "truth_curve_by_lead" in group:
        out["truth"]["by_lead"] = truth_by_lead(group["truth_curve_by_lead"])
    if has_truth:
        agreement = {}
        for name in group["cell"].values:
            p = group["truth_pearson"].sel(cell=name).values
            s = group["truth_spearman"].sel(cell=name).values
            agreement[str(name)] = {**quartiles(p, "pearson"), **quartiles(s, "spearman")}
            norm_a = normalised_curve(curves(group)["all"].sel(cell=name))
            norm_t = normalised_curve(curves(group, True)["all"].sel(cell=name))
            agreement[str(name)]["curve_abs_error"] = float(np.abs(norm_a - norm_t).sum())
        out["agreement"] = agreement
    return out
