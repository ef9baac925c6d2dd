"""The measures this project reports on heatmaps, each defined once (docs/measures.md).

They turn the paper's three findings (Sec. 4) into numbers:
1. locality: :func:`locality_radius`;
2. longer lead, importance reaches further back: :func:`efolding_month`,
   :func:`share_of_last_month` on the :func:`monthly_contribution` curve;
3. the temporal decay does not depend on location: :func:`curve_spread`.

:func:`map_measures` reduces one mean |attribution| map to all of them at once, under the one
set of keys (:data:`MAP_MEASURES`) that every stage reporting a map measure uses.

Identifiable variants (docs/measures.md, "Identifiable variants"): the |.| measures add up
patterns that cancel on the inputs' scales, so the data does not pin them down. The variants
measure signed sums first (:func:`signed_curve`, :func:`signed_radius`, :func:`signed_box_share`),
or |.| of block sums (:func:`block_sum`, :func:`block_cell`), and :func:`small_scale_share` says
how much of a map lies at scales the inputs do not resolve.

Inputs are xarray objects with named dims ``month`` (labels -36..-1), ``lat``, ``lon`` or
numpy arrays in that axis order (see :func:`~.heatmaps.as_heatmaps`); results are xarray.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.ndimage import gaussian_filter

from climemu.attribution.heatmaps import LAT, LON, MONTH, SAMPLE, as_heatmaps, month_labels
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


# --- identifiable variants (docs/measures.md, "Identifiable variants") ----------------------

def _maps(attr) -> xr.DataArray:
    """A DataArray with dims lat, lon (and any others); numpy: (lat, lon), (month, lat, lon) or
    (sample, month, lat, lon)."""
    if isinstance(attr, xr.DataArray):
        a = attr
    else:
        values = np.asarray(attr, dtype=float)
        dims = {2: (LAT, LON), 3: (MONTH, LAT, LON), 4: (SAMPLE, MONTH, LAT, LON)}.get(values.ndim)
        if dims is None:
            raise ValueError(f"maps must be (lat, lon), (month, lat, lon) or (sample, month, lat, lon); "
                             f"got shape {values.shape}")
        a = xr.DataArray(values, dims=dims)
    if not {LAT, LON} <= set(a.dims):
        raise ValueError(f"maps need dims lat and lon; got dims {tuple(a.dims)}")
    return a


def signed_curve(attr) -> xr.DataArray:
    """Per sample and month, |sum over cells of the signed map|: (sample, month, lat, lon) -> (sample, month).

    The identifiable counterpart of the "all" curve of :func:`monthly_contribution`. A pattern
    that sums to zero over the grid (a checkerboard, noise that cancels) adds to sum |A| but not
    to |sum A|, and |sum A| over every cell of a month is that month's contribution to the
    output, which the data pins down. The absolute value is taken per sample (before any mean):
    the inputs are anomalies, so the signed sums change sign from sample to sample and their
    mean would cancel. The group variant is the mean over samples. Other dims are kept
    (docs/measures.md, "Identifiable variants").
    """
    return np.abs(_maps(attr).reduce(np.nansum, dim=(LAT, LON)))          # missing values count as 0


def _distances_km(lat, lon, cell: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    if (lat.size, lon.size) != tuple(shape):
        raise ValueError(f"lat/lon of sizes {(lat.size, lon.size)} do not match the maps {tuple(shape)}")
    i, j = check_cell(cell, lat.size, lon.size)
    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")                     # (H, W)
    return great_circle_km(lat[i], lon[j], lat2, lon2).ravel()            # (H * W,)


def _signed_radius_rows(mass: np.ndarray, distance: np.ndarray, fraction: float) -> np.ndarray:
    """Per row of ``mass`` (n, cells): the signed radius; rings of equal distance are summed first."""
    rings, ring_of = np.unique(distance, return_inverse=True)            # ascending distances
    out = np.full(mass.shape[0], np.nan)
    for row in range(mass.shape[0]):
        by_ring = np.bincount(ring_of, weights=mass[row], minlength=rings.size)   # (rings,)
        cumulative = np.cumsum(by_ring)
        total = cumulative[-1]
        if not (np.isfinite(total) and total != 0):
            continue
        # In the total's direction; the relative tolerance as in _radius. The last ring always
        # reaches the total, so a crossing exists.
        reached = np.sign(total) * cumulative >= fraction * abs(total) * (1 - 1e-12)
        out[row] = rings[np.argmax(reached)]
    return out


def signed_radius(attr, lat, lon, cell: tuple[int, int], fraction: float = 0.5) -> xr.DataArray:
    """Per map, the radius where the cumulative signed contribution first reaches ``fraction`` of it.

    The map is summed over months (signed, when it has a ``month`` dim); cells are ordered by
    great-circle distance from the explained cell ``cell = (i, j)`` and summed ring by ring
    (cells at the same distance together, so the order within a ring does not matter). The
    radius is the smallest distance d at which the cumulative signed sum S(d), times the sign of
    the total T, first reaches ``fraction * |T|``. NaN when T is zero.

    Why: the locality radius of :func:`locality_radius` counts |A|, so a checkerboard or noise
    that cancels over a neighbourhood moves it outwards although it contributes nothing to the
    output; here it cancels within the rings it spans. On a map with no negative values the two
    radii coincide. ``attr``: (lat, lon), (month, lat, lon) or (sample, month, lat, lon) (numpy
    in that order, or a DataArray with any other dims, kept); the group variant is the median
    over samples. Returns km (docs/measures.md, "Identifiable variants").
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1]; got {fraction}")
    a = _maps(attr)
    if MONTH in a.dims:
        a = a.sum(MONTH)
    other = [d for d in a.dims if d not in (LAT, LON)]
    a = a.transpose(*other, LAT, LON)
    distance = _distances_km(lat, lon, cell, (a.sizes[LAT], a.sizes[LON]))
    mass = np.nan_to_num(a.values.reshape(-1, distance.size))            # (n, H * W)
    radius = _signed_radius_rows(mass, distance, fraction).reshape([a.sizes[d] for d in other])
    return xr.DataArray(radius, dims=other, coords={d: a[d] for d in other if d in a.coords},
                        attrs={"units": "km", "fraction": fraction})


def block_sum(attr, block: int) -> xr.DataArray:
    """Signed attributions summed over non-overlapping ``block`` x ``block`` cells.

    (..., lat, lon) -> (..., lat // block, lon // block): blocks start at the first row and
    column; rows and columns left over at the northern and eastern edges are dropped
    (``xarray``'s ``coarsen(boundary="trim")``). lat/lon coordinates, when present, become the
    blocks' centres (the mean of their cells'). Missing values count as 0.

    Why: a pattern that changes sign within a block (on scales the inputs do not resolve)
    cancels in the block's sum, so |block sum| keeps what the data can tell apart. The block
    variant of every map measure is :func:`map_measures` of the mean over samples of
    |block_sum| with the explained cell mapped to its block (:func:`block_cell`)
    (docs/measures.md, "Identifiable variants").
    """
    if block < 1:
        raise ValueError(f"block must be at least 1 cell; got {block}")
    a = _maps(attr)
    if a.sizes[LAT] < block or a.sizes[LON] < block:
        raise ValueError(f"block of {block} cells does not fit the grid {(a.sizes[LAT], a.sizes[LON])}")
    return a.coarsen({LAT: block, LON: block}, boundary="trim").reduce(np.nansum)


def block_cell(cell: tuple[int, int], block: int, shape: tuple[int, int]) -> tuple[int, int]:
    """The block (row, column) of :func:`block_sum` holding cell ``(i, j)`` of a grid of ``shape``.

    A cell in the rows or columns trimmed at the edges is mapped to the nearest block.
    """
    i, j = check_cell(cell, *shape)
    return min(i // block, shape[0] // block - 1), min(j // block, shape[1] // block - 1)


def small_scale_share(attr, sigma: float) -> xr.DataArray:
    """Share of a map's energy at scales the inputs do not resolve, per map.

    ``sum (A - G_sigma * A)^2 / sum A^2`` over months and cells, where ``G_sigma * A`` smooths
    each month's map with a Gaussian of ``sigma`` cells over lat and lon only
    (``scipy.ndimage.gaussian_filter``, reflecting edges). 0 for a map that is smooth on that
    scale (a constant: exactly 0), near 1 for a checkerboard. NaN for an all-zero map.

    Why: with spatially smooth inputs, the part of a heatmap that varies faster than the inputs'
    decorrelation length is not constrained by the data (it multiplies input patterns that
    barely occur); a large share says the |.| measures of that map are mostly such structure.
    ``attr``: (lat, lon), (month, lat, lon) or (sample, month, lat, lon); every dim other
    than month, lat and lon is kept (the group variant is the mean over samples;
    docs/measures.md, "Identifiable variants").
    """
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0 cells; got {sigma}")
    a = _maps(attr)
    values = np.nan_to_num(a.values.astype(float))
    sigmas = [sigma if d in (LAT, LON) else 0.0 for d in a.dims]
    residual = values - gaussian_filter(values, sigma=sigmas)
    summed = tuple(k for k, d in enumerate(a.dims) if d in (MONTH, LAT, LON))
    energy = (values ** 2).sum(axis=summed)
    share = np.where(energy > 0, (residual ** 2).sum(axis=summed) / np.where(energy > 0, energy, 1.0), np.nan)
    kept = [d for d in a.dims if d not in (MONTH, LAT, LON)]
    return xr.DataArray(share, dims=kept, coords={d: a[d] for d in kept if d in a.coords})


def signed_box_share(attr, box: Box) -> xr.DataArray:
    """Per map, |signed sum inside a box| / (|signed sum inside| + |signed sum outside|).

    The signed counterpart of :func:`box_share` (the box in degrees; all months together):
    the share of the contribution coming through the box, with cancelling patterns cancelled
    on each side. NaN when both sums are zero. ``attr`` needs lat/lon coordinates; other dims
    (``sample``) are kept. :func:`signed_box_sums` gives the two terms for a group mean.
    """
    inside, outside = signed_box_sums(attr, box)
    total = inside + outside
    return inside / total.where(total > 0)


def signed_box_sums(attr, box: Box) -> tuple[xr.DataArray, xr.DataArray]:
    """|signed sum inside the box| and |signed sum outside| per map (all months), other dims kept."""
    a = _maps(attr)
    mask = xr.DataArray(box_mask(a[LAT].values, a[LON].values, box).values, dims=(LAT, LON))
    dims = [d for d in (MONTH, LAT, LON) if d in a.dims]
    inside = (a * mask).reduce(np.nansum, dim=dims)
    return np.abs(inside), np.abs(a.reduce(np.nansum, dim=dims) - inside)


def signed_measures(curve, radius50, radius90, box_sums=None) -> dict:
    """The signed variant's measures of a group from its accumulated pieces.

    ``curve``: the mean :func:`signed_curve` over samples (month,); ``radius50``/``radius90``:
    per-sample :func:`signed_radius` values (km), reduced by their median over samples (NaN
    samples left out); ``box_sums``: the mean over samples of the two terms of
    :func:`signed_box_sums` ``(inside, outside)``, giving ``source_box_share``. The keys are
    those of :data:`MAP_MEASURES` that the signed variant defines (no Chebyshev radii).
    """
    def median(v):
        v = np.asarray(v, dtype=float)
        return float(np.median(v[np.isfinite(v)])) if np.isfinite(v).any() else float("nan")

    out = {"radius50_km": median(radius50), "radius90_km": median(radius90),
           "efolding_month": float(efolding_month(curve, interpolate=True)),
           "share_month_minus1": float(share_of_last_month(curve)),
           "share_before_minus12": float(share_before(curve))}
    if box_sums is not None:
        inside, outside = (float(v) for v in box_sums)
        out["source_box_share"] = inside / (inside + outside) if inside + outside > 0 else float("nan")
    return out
