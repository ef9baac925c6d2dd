"""The measures this project reports on heatmaps, each defined once (docs/measures.md).

They turn the paper's three findings (Sec. 4) into numbers:
1. locality: :func:`locality_radius`;
2. longer lead, importance reaches further back: :func:`efolding_month`,
   :func:`share_of_last_month` on the :func:`monthly_contribution` curve;
3. the temporal decay does not depend on location: :func:`curve_spread`.

:func:`map_measures` reduces one mean |attribution| map to all of them at once, under the one
set of keys (:data:`MAP_MEASURES`) that every stage reporting a map measure uses.

Inputs are xarray objects with named dims ``month`` (labels -36..-1), ``lat``, ``lon`` or
numpy arrays in that axis order (see :func:`~.heatmaps.as_heatmaps`); results are xarray.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from climemu.attribution.heatmaps import LAT, LON, MONTH, as_heatmaps, month_labels
from climemu.attribution.pixel import check_cell
from climemu.core.config import Box
from climemu.core.grid import box_mask, great_circle_km

# The keys of :func:`map_measures`, in the metrics of aggregate, score, sanity and basin.
MAP_MEASURES = ("radius50_km", "radius90_km", "radius50_cells", "radius90_cells",
                "efolding_month", "share_month_minus1", "share_before_minus12", "source_box_share")


def _heatmaps(attr) -> xr.DataArray:
    a = attr if isinstance(attr, xr.DataArray) else as_heatmaps(attr)
    missing = {MONTH, LAT, LON} - set(a.dims)
    if missing:
        raise ValueError(f"heatmaps need dims month, lat, lon; missing {sorted(missing)}")
    return a


def _curve(curve):
    """A curve with a ``month`` dim in ascending order (-36 ... -1); numpy: month is last."""
    if not isinstance(curve, (xr.DataArray, xr.Dataset)):
        values = np.asarray(curve, dtype=float)
        dims = [f"dim_{k}" for k in range(values.ndim - 1)] + [MONTH]
        curve = xr.DataArray(values, dims=dims, coords={MONTH: month_labels(values.shape[-1])})
    if MONTH not in curve.dims:
        raise ValueError(f"a contribution curve needs a 'month' dim; got dims {tuple(curve.dims)}")
    return curve.sortby(MONTH) if MONTH in curve.coords else curve


# --- monthly contribution (paper Sec. 4.1 and 4.2, Figs. 3-4) --------------------------------

def monthly_contribution(attr) -> xr.Dataset:
    """Per month, the sum over grid cells of |attribution|: ``positive``, ``negative``, ``all``.

    ``positive`` sums the positive values, ``negative`` the magnitude of the negative ones
    (so both are >= 0) and ``all = positive + negative = sum |attr|``, as the paper's
    "positive", "negative" and "all" curves. Any dims besides lat/lon (e.g. ``sample``) are kept.
    """
    a = _heatmaps(attr)
    positive = a.clip(min=0).sum((LAT, LON))
    negative = (-a.clip(max=0)).sum((LAT, LON))
    return xr.Dataset({"positive": positive, "negative": negative, "all": positive + negative})


def group_monthly_contribution(means: xr.Dataset) -> xr.Dataset:
    """The same curves from group mean maps (:meth:`~.group.GroupSums.mean`).

    Summation over cells and averaging over samples commute, so this equals the mean over
    samples of :func:`monthly_contribution` of each sample's heatmap.
    """
    positive = means["positive"].sum((LAT, LON))
    negative = (-means["negative"]).sum((LAT, LON))
    return xr.Dataset({"positive": positive, "negative": negative, "all": positive + negative})


def normalised_curve(curve):
    """The curve divided by its sum over months (so months sum to one); NaN if it sums to 0.

    Makes curves comparable across leads and cells whose attributions differ in size.
    """
    c = _curve(curve)
    total = c.sum(MONTH)
    return c / total.where(total > 0)


def share_of_last_month(curve):
    """Share of month -1 in the curve: the normalised curve at month -1."""
    c = normalised_curve(curve)
    return c.sel({MONTH: -1}) if MONTH in c.coords else c.isel({MONTH: -1})


def share_before(curve, month: int = -12):
    """Share of the months before ``month`` (by default -13 and earlier: more than a year back).

    Finding 2's measure of reach: a longer lead should move mass to earlier months (paper
    Sec. 4.2); the planted re-emergence (docs/data.md) makes this share grow with lead.
    """
    c = normalised_curve(curve)
    months = c[MONTH].values if MONTH in c.coords else month_labels(c.sizes[MONTH])
    return c.isel({MONTH: np.flatnonzero(months < month)}).sum(MONTH).where(c.notnull().any(MONTH))


# --- temporal reach -----------------------------------------------------------------------

def _efolding_1d(c: np.ndarray, months: np.ndarray, interpolate: bool) -> float:
    reference = c[-1]                         # month -1
    if not np.isfinite(reference) or reference <= 0:
        return np.nan
    level = reference / np.e
    for k in range(len(c) - 2, -1, -1):       # month -2, -3, ... going back
        if c[k] < level:
            if not interpolate:
                return float(months[k])
            upper = c[k + 1]                  # >= level > 0: every later month stayed above
            if c[k] > 0:                      # log-linear: exact for exponential decay
                t = (np.log(upper) - np.log(level)) / (np.log(upper) - np.log(c[k]))
            else:
                t = (upper - level) / (upper - c[k])
            return float(months[k + 1] + t * (months[k] - months[k + 1]))
    return np.nan                             # the reach exceeds the input window


def efolding_month(curve, interpolate: bool = False):
    """The month where the contribution curve has fallen to 1/e of its month -1 value.

    Going back from month -1, the first month m whose value is strictly below
    ``curve[-1] / e``. Without interpolation that month's label is returned (an integer such
    as -4; -2 is the earliest possible). With ``interpolate=True``, the crossing is placed
    between m and the month after it by linear interpolation of log(curve): for a curve
    decaying as exp(-k / tau) with k months before month -1 this gives exactly -1 - tau.
    NaN when month -1 has no contribution or the curve never falls below the level within
    the 36 months. Scale-free, so raw or normalised curves give the same answer.
    """
    c = _curve(curve)
    months = c[MONTH].values if MONTH in c.coords else month_labels(c.sizes[MONTH])
    return xr.apply_ufunc(_efolding_1d, c, kwargs={"months": months, "interpolate": interpolate},
                          input_core_dims=[[MONTH]], vectorize=True, output_dtypes=[float])


def curve_spread(curves, dim: str = "cell"):
    """How much the normalised curves differ across cells (finding 3, paper Sec. 4.2).

    The standard deviation (ddof=0) across ``dim`` of the normalised curves, month by month,
    and its maximum over months: 0 when every cell has the same temporal decay; in the units
    of a share of the total, comparable with :func:`share_of_last_month`.
    """
    c = normalised_curve(curves)
    if dim not in c.dims:
        raise ValueError(f"curves have no dim {dim!r} to spread over; dims {tuple(c.dims)}")
    return c.std(dim, ddof=0).max(MONTH)


# --- spatial locality ---------------------------------------------------------------------

def _radius(mass: np.ndarray, distance: np.ndarray, fraction: float) -> float:
    """Smallest distance d such that cells at distance <= d hold ``fraction`` of the mass."""
    order = np.argsort(distance, kind="stable")
    cumulative = np.cumsum(mass[order])
    total = cumulative[-1]
    if not total > 0:
        return np.nan
    # Relative tolerance: a fraction reached exactly must not slip to the next ring by rounding.
    k = np.searchsorted(cumulative, fraction * total * (1 - 1e-12), side="left")
    return float(distance[order][min(k, len(order) - 1)])


def locality_radius(attr, lat, lon, cell: tuple[int, int],
                    fractions=(0.5, 0.9)) -> xr.Dataset:
    """Radius around the target cell holding each fraction of the |attribution| mass.

    ``attr``: a heatmap ``(lat, lon)`` or ``(month, lat, lon)``, summed over months as |attr|
    (for group results pass the ``absolute`` mean map). ``cell = (i, j)`` is the explained
    output cell. The radius is the smallest distance d, among the cells' distances, such
    that the cells at distance <= d hold at least the fraction of the total mass; no
    interpolation, so all mass on the target cell gives 0 and all mass on a ring gives the
    ring's distance, for every fraction.

    - ``radius_km``: great-circle distance between cell centres (km).
    - ``radius_cells``: the same rule with the Chebyshev index distance max(|di|, |dj|). We
      count cells this way, rather than dividing km by a cell size, because it is the
      network's own metric: a 3x3 convolution reaches Chebyshev distance 1 in every direction
      at every latitude, and the ablation halo is counted the same way. The two radii rank
      cells differently (zonal cells shrink with latitude), so they are two views, not a
      unit conversion. The grid is regional: longitudes do not wrap.
    """
    a = attr if isinstance(attr, xr.DataArray) else xr.DataArray(
        np.asarray(attr, dtype=float), dims=(MONTH, LAT, LON)[-np.ndim(attr):])
    mass = np.abs(a)
    if MONTH in mass.dims:
        mass = mass.sum(MONTH)
    if set(mass.dims) != {LAT, LON}:
        raise ValueError(f"locality_radius needs one heatmap (lat, lon) or (month, lat, lon); "
                         f"got dims {tuple(a.dims)}")
    mass = mass.transpose(LAT, LON).values.ravel()
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    if (lat.size, lon.size) != (a.sizes[LAT], a.sizes[LON]):
        raise ValueError(f"lat/lon of sizes {(lat.size, lon.size)} do not match the heatmap "
                         f"{(a.sizes[LAT], a.sizes[LON])}")
    i, j = check_cell(cell, lat.size, lon.size)
    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")                     # (H, W)
    km = great_circle_km(lat[i], lon[j], lat2, lon2).ravel()
    ii, jj = np.meshgrid(np.arange(lat.size), np.arange(lon.size), indexing="ij")
    cells = np.maximum(np.abs(ii - i), np.abs(jj - j)).ravel()

    fractions = np.atleast_1d(np.asarray(fractions, dtype=float))
    if np.any((fractions <= 0) | (fractions > 1)):
        raise ValueError(f"fractions must lie in (0, 1]; got {fractions.tolist()}")
    return xr.Dataset(
        {"radius_km": ("fraction", [_radius(mass, km, f) for f in fractions]),
         "radius_cells": ("fraction", [_radius(mass, cells, f) for f in fractions])},
        coords={"fraction": fractions},
        attrs={"cell_i": i, "cell_j": j, "units_radius_km": "km",
               "units_radius_cells": "Chebyshev grid cells"})


# --- source box (the planted teleconnection of the synthetic source) -------------------------

def box_share(absolute: xr.DataArray, box: Box) -> float:
    """Share of |attribution| mass (all months) inside a box given in degrees; NaN if no mass."""
    inside = box_mask(absolute[LAT].values, absolute[LON].values, box)
    total = float(absolute.sum())
    return float(absolute.where(inside, 0.0).sum()) / total if total > 0 else float("nan")


# --- every measure of one map -------------------------------------------------------------

def map_measures(absolute: xr.DataArray, cell: tuple[int, int], source_box: Box | None = None,
                 curve: xr.DataArray | None = None) -> dict:
    """The measures of one mean |attribution| map ``(month, lat, lon)`` of output cell ``cell = (i, j)``.

    A flat dict of floats under the keys of :data:`MAP_MEASURES`: the radii holding 50% and
    90% of the mass, in km and in Chebyshev cells (:func:`locality_radius`), the interpolated
    e-folding month (:func:`efolding_month`), the share of month -1 (:func:`share_of_last_month`),
    the share of months -13 and earlier (:func:`share_before`) and, given ``source_box``, the share of the mass inside it (:func:`box_share`).

    ``curve``: the monthly curve ``(month,)`` when the caller holds it from other sums (the
    group's "all" curve is positive + negative, paper Sec. 4.2); by default the map summed
    over lat and lon.
    """
    radius = locality_radius(absolute, absolute[LAT].values, absolute[LON].values, cell)
    if curve is None:
        curve = absolute.sum((LAT, LON))                                   # (month,)
    out = {"radius50_km": float(radius["radius_km"][0]), "radius90_km": float(radius["radius_km"][1]),
           "radius50_cells": float(radius["radius_cells"][0]),
           "radius90_cells": float(radius["radius_cells"][1]),
           "efolding_month": float(efolding_month(curve, interpolate=True)),
           "share_month_minus1": float(share_of_last_month(curve)),
           "share_before_minus12": float(share_before(curve))}
    if source_box is not None:
        out["source_box_share"] = box_share(absolute, source_box)
    return out
