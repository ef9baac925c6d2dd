"""The aggregate stage's numbers: contribution curves and the paper's findings as measures.

From the group explanation (paper Sec. 4.2, Fig. 4): per cell, the monthly contribution
curves (positive, negative, all), their normalised form, the locality radius (finding 1), the
e-folding month and the share of month -1 (finding 2), and the spread of the normalised curves
across cells (finding 3). With the synthetic source, the same measures on the exact
contributions and the agreement of each heatmap with them.

Each map measure comes in three variants (docs/measures.md, "Identifiable variants"): the
paper's |.| one under the existing keys, and ``variants: {"signed": ..., "block": ...}`` beside
it, with the small-scale share; the contribution table marks its rows with ``variant``
(``abs``, ``signed``, ``block``).

Where the explained cell is, every stage that explains one writes with :func:`~.cells.cell_coords`
and this module reads with :func:`~.cells.cell_index`; the variants' measures of one cell are
assembled here once (:func:`variant_measures`: aggregate.json and score.json).
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import xarray as xr

from climemu.truth.agreement import quartiles
from climemu.attribution.cells import cell_index
from climemu.attribution.heatmaps import LAT, LON
from climemu.attribution.measures import (block_cell, curve_spread, efolding_month,
                                          group_monthly_contribution, map_measures,
                                          normalised_curve, share_before, share_of_last_month,
                                          signed_measures)
from climemu.core.config import Box


def _means(group: xr.Dataset, prefix: str = "") -> xr.Dataset:
    return xr.Dataset({k: group[f"{prefix}{k}"] for k in ("positive", "negative", "absolute")})


def curves(group: xr.Dataset, truth: bool = False, prefix: str | None = None) -> xr.Dataset:
    """Monthly contribution curves (cell, month) of the group means (or of the truth; or of the
    maps named with ``prefix``, e.g. ``table1_``)."""
    return group_monthly_contribution(_means(group, ("truth_" if truth else "") if prefix is None else prefix))


def has_variants(group: xr.Dataset) -> bool:
    """Whether the group results hold the identifiable variants' pieces (explain since they exist)."""
    return "signed_curve" in group and "block_absolute" in group


def block_map(group: xr.Dataset, truth: bool = False) -> xr.DataArray:
    """The mean |block sum| maps (cell, month, lat, lon), lat/lon the blocks' centres."""
    b = group[("truth_" if truth else "") + "block_absolute"]
    return b.rename({"block_lat": LAT, "block_lon": LON})


def variant_curves(group: xr.Dataset, truth: bool = False) -> dict[str, xr.DataArray]:
    """The "all" curve (cell, month) of each variant: ``abs``, and ``signed``, ``block`` when held."""
    out = {"abs": curves(group, truth)["all"]}
    if has_variants(group):
        prefix = "truth_" if truth else ""
        out["signed"] = group[f"{prefix}signed_curve"]
        out["block"] = block_map(group, truth).sum((LAT, LON))
    return out


def contribution_table(group: xr.Dataset, lead: int) -> pd.DataFrame:
    """Long form (lead, method, cell, variant, sign, month, contribution, normalised) for dvc plots.

    ``variant`` ``abs``: the paper's curves, signs positive, negative and all; ``signed`` (the
    mean |sum over cells| per month) and ``block`` (the mean |block sum| summed over blocks):
    sign ``all`` only.
    """
    frames = []
    sources = [(group.attrs["method"], False)] + ([("truth", True)] if "truth_absolute" in group else [])
    for method, is_truth in sources:
        c = curves(group, is_truth)
        by_variant = [("abs", sign, c[sign]) for sign in ("positive", "negative", "all")]
        by_variant += [(name, "all", curve) for name, curve in variant_curves(group, is_truth).items()
                       if name != "abs"]
        for variant, sign, curve in by_variant:
            norm = normalised_curve(curve)
            for cell in curve["cell"].values:
                frames.append(pd.DataFrame({
                    "lead": lead, "method": method, "cell": str(cell), "variant": variant, "sign": sign,
                    "month": curve["month"].values, "contribution": curve.sel(cell=cell).values,
                    "normalised": norm.sel(cell=cell).values}))
    return pd.concat(frames, ignore_index=True)


def variant_measures(cell: xr.Dataset, source_box: Box | None, prefix: str = "") -> dict:
    """``{"signed": ..., "block": ...}``: the identifiable variants' measures of one explained cell.

    ``cell``: one cell (and method) of a dataset with the pieces of
    :meth:`~.group.VariantSums.mean`, named with ``prefix`` (``truth_`` for the truth's), the
    cell's index (:func:`cell_index`), the ``lat``/``lon`` grid and the ``block_cells`` attr.
    ``signed``: :func:`~.measures.signed_measures` (its ``source_box_share`` when the signed
    box sums are held); ``block``: :func:`~.measures.map_measures` of the mean |block sum| map
    around the cell's block. The one assembler of these: aggregate.json, band.json and
    score.json all hold what it returns (score a subset).
    """
    box = None
    if source_box is not None and f"{prefix}signed_box_inside" in cell:
        box = (cell[f"{prefix}signed_box_inside"], cell[f"{prefix}signed_box_outside"])
    signed = signed_measures(cell[f"{prefix}signed_curve"], cell[f"{prefix}signed_radius50_km"].values,
                             cell[f"{prefix}signed_radius90_km"].values, box)
    blocks = cell[f"{prefix}block_absolute"].rename({"block_lat": LAT, "block_lon": LON})   # (month, lat, lon)
    shape = (cell.sizes[LAT], cell.sizes[LON])
    at = block_cell(cell_index(cell), int(cell.attrs["block_cells"]), shape)
    return {"signed": signed, "block": map_measures(blocks, at, source_box)}


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
    out: dict = {"method": group.attrs["method"], "n_samples": int(group.attrs["n_samples"])}
    has_truth = "truth_absolute" in group
    # the network's maps; the exact contributions; Table 1's part of the maps (without the skip path)
    sources = [("attribution", "")] + [(k, p) for k, p in (("truth", "truth_"), ("table1", "table1_"))
                                       if f"{p}absolute" in group]
    for key, prefix in sources:
        c = curves(group, prefix=prefix)["all"]
        per_cell = {}
        for name in group["cell"].values:
            g = group.sel(cell=name)
            absolute = g[f"{prefix}absolute"]                                # (month, lat, lon)
            # The paper's "all" curve (positive + negative means), as the contribution table.
            entry = map_measures(absolute, cell_index(g), source_box, curve=c.sel(cell=name))
            if has_variants(group):
                entry["small_scale_share"] = float(g[f"{prefix}small_scale_share"])
                entry["variants"] = variant_measures(g, source_box, prefix)
            per_cell[str(name)] = entry
        out[key] = {"cells": per_cell, "curve_spread": float(curve_spread(c, dim="cell"))}
    if "skip_share" in group:          # the share of the |map| mass through the skip path
        out["table1"]["skip_share"] = {str(n): float(group["skip_share"].sel(cell=n)) for n in group["cell"].values}
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
