"""The seed ensemble: the group method's maps averaged over the networks of one study cell (lead x
arm), scored against the exact contributions beside each single network (docs/study.md, "The seed
ensemble").

Krell, Mamalakis et al. (2025) find that networks of equal skill on correlated inputs learn
different attribution patterns and recommend averaging over trainings. Each study experiment keeps
a :func:`summary` of its group results (``maps.nc``, ~0.1 MB instead of the ~70 MB ``group.nc``):
per group cell the mean |attribution| map summed over the 36 input months ``(cell, lat, lon)``,
and the monthly "all" curve ``(cell, month)`` (paper Sec. 4.2, Fig. 4), with the truth's of the
same samples. Those two pieces are all the paper's measures read: the locality radii sum |A| over
months first (:func:`~climemu.attribution.measures.locality_radius`) and the temporal measures read
the curve. Both are means over samples, so their mean over networks is the ensemble's heatmap as the
paper builds one from a group of samples: the mean of the networks' |attribution|, not the |.| of
their mean attribution (which would need every sample's signed map, ~25 MB per experiment).

:func:`scores` measures one summary (a network's or the ensemble's) against the truth's: the
Pearson correlation of the month-summed map with the truth's over ocean cells, the absolute errors
of r50 and r90 (km), and the L1 distance of the normalised curves.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from climemu.attribution.aggregate import curves
from climemu.attribution.cells import cell_index
from climemu.attribution.heatmaps import LAT, LON
from climemu.attribution.measures import MONTH, locality_radius, normalised_curve
from climemu.truth.agreement import pearson_rows

MAPS = "maps.nc"             # in each study experiment's folder
SCORES = ("map_pearson", "r50_error_km", "r90_error_km", "curve_error")
BETTER_HIGH = {"map_pearson"}  # the others are errors: lower is closer to the truth


def summary(group: xr.Dataset) -> xr.Dataset:
    """What the ensemble needs of one experiment's group results (explain's ``group.nc``)."""
    ds = xr.Dataset({
        "absolute": group["absolute"].sum(MONTH),                     # (cell, lat, lon) mean |A|, degC
        "truth_absolute": group["truth_absolute"].sum(MONTH),         # the exact contributions' likewise
        "curve": curves(group)["all"],                                # (cell, month) degC
        "truth_curve": curves(group, truth=True)["all"],
        "ocean": group["ocean"]})
    keep = [c for c in ("cell_i", "cell_j", "cell_lat", "cell_lon") if c in group.coords]
    ds = ds.assign_coords({c: group[c] for c in keep})
    ds.attrs = {k: group.attrs[k] for k in ("method", "n_samples", "lead") if k in group.attrs}
    return ds


def write_summary(group_path, out_path) -> None:
    """:func:`summary` of a ``group.nc`` to ``out_path`` (float32, compressed: it goes into git)."""
    with xr.open_dataset(group_path) as g:
        ds = summary(g.load())
    encoding = {v: {"zlib": True, "complevel": 9} for v in ds.data_vars}
    for v in ("absolute", "truth_absolute", "curve", "truth_curve"):
        encoding[v]["dtype"] = "float32"
    ds.to_netcdf(out_path, encoding=encoding)


def mean(members: list[xr.Dataset]) -> xr.Dataset:
    """The ensemble: every map and curve averaged over the members (same cells and grid)."""
    stacked = xr.concat([m.drop_vars("ocean") for m in members], dim="member", coords="minimal",
                        compat="override")
    out = stacked.mean("member", keep_attrs=True)
    return out.assign(ocean=members[0]["ocean"])


def scores(ds: xr.Dataset) -> dict[str, dict[str, float]]:
    """``{cell: {score: value}}`` of one summary against its truth (see the module's docstring)."""
    out = {}
    ocean = ds["ocean"].values.astype(bool).ravel()
    lat, lon = ds[LAT].values, ds[LON].values
    for name in ds["cell"].values:
        c = ds.sel(cell=name)
        at = cell_index(c)
        a, t = c["absolute"].astype(float), c["truth_absolute"].astype(float)   # (lat, lon)
        ra = locality_radius(a, lat, lon, at)["radius_km"].values
        rt = locality_radius(t, lat, lon, at)["radius_km"].values
        r = pearson_rows(a.values.ravel()[ocean][None], t.values.ravel()[ocean][None])[0]
        curve_error = float(np.abs(normalised_curve(c["curve"].astype(float))
                                   - normalised_curve(c["truth_curve"].astype(float))).sum())
        out[str(name)] = {"map_pearson": float(r), "r50_error_km": float(abs(ra[0] - rt[0])),
                          "r90_error_km": float(abs(ra[1] - rt[1])), "curve_error": curve_error}
    return out


def cell_mean(s: dict[str, dict[str, float]]) -> dict[str, float]:
    """Each score averaged over the group cells."""
    return {k: float(np.mean([v[k] for v in s.values()])) for k in SCORES}


def jackknife(members: list[xr.Dataset]) -> dict[str, dict[str, float]]:
    """Per score (averaged over cells): the single networks' mean, the ensemble's value, and the
    gain (ensemble closer to the truth: positive) with its jackknife standard error over members.

    gain = ensemble - mean of singles for the Pearson, mean of singles - ensemble for the errors.
    The jackknife (leave one network out, n - 1 members each) gives the gain's spread over
    trainings without a bootstrap's repeated members, whose average is not an ensemble of
    distinct networks.
    """
    n = len(members)
    singles = [cell_mean(scores(m)) for m in members]

    def gain(idx: list[int]) -> dict[str, float]:
        ens = cell_mean(scores(mean([members[i] for i in idx])))
        single = {k: float(np.mean([singles[i][k] for i in idx])) for k in SCORES}
        return {k: (ens[k] - single[k]) if k in BETTER_HIGH else (single[k] - ens[k]) for k in SCORES} | {
            f"{k}.ensemble": ens[k] for k in SCORES} | {f"{k}.single": single[k] for k in SCORES}

    full = gain(list(range(n)))
    leave = [gain([i for i in range(n) if i != j]) for j in range(n)] if n >= 3 else []
    out = {}
    for k in SCORES:
        g = np.array([x[k] for x in leave])
        se = float(np.sqrt((n - 1) / n * ((g - g.mean()) ** 2).sum())) if leave else float("nan")
        out[k] = {"single": full[f"{k}.single"], "ensemble": full[f"{k}.ensemble"], "gain": full[k],
                  "gain_se": se, "singles": [s[k] for s in singles]}
    return out
