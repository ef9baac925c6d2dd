"""Can the data pin the truth down? (docs/data.md, "What the data can decide")

The exact answer (:mod:`climemu.truth.exact`) is one linear predictor among all those the data
allow. If the inputs around a cell are (nearly) collinear, many predictors of almost equal skill
have very different coefficients, and no method, network or regression, can be scored against
one of them. Two rules measure this on the record itself:

- **conditioning**: the eigenvalues of the covariance of a cell's neighbourhood features (the
  inputs a local predictor uses). A condition number near 1e15 means some directions carry no
  variance at all: their coefficients are unidentifiable.
- **recovery**: ordinary least squares on a long simulation of the same generator must find
  the exact coefficients; it can only if the features are well conditioned.

Plus the facts a reader compares with real SST: lag-1 and lag-12 autocorrelation and the
decorrelation length.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from climemu.core.config import Box
from climemu.core.errors import UserError
from climemu.core.grid import cell_centres, great_circle_km, nearest_cell, ocean_mask
from climemu.truth.config import SyntheticConfig
from climemu.truth.exact import coefficients
from climemu.truth.synthetic import LinearModel, correlated_noise, region_index, simulate_anomalies



def anomalies(ds: xr.Dataset) -> xr.DataArray:
    """(time, lat, lon) degC: ``tos`` minus its own mean for each calendar month; NaN on land.

    Removing the record's own monthly climatology (not the generator's known one) works with or
    without the seasonal cycle, and for real data too. Kept in the file's float32, one calendar
    month at a time (the whole record in float64 would be 0.7 GB at the default box); the
    statistics below are taken in float64.
    """
    ocean = ds["ocean"].values.astype(bool)                                # (lat, lon)
    tos = np.full(ds["tos"].shape, np.nan, dtype=np.float32)               # (time, lat, lon) degC
    sea = ds["tos"].values[:, ocean].astype(np.float32)                    # (time, n_ocean)
    month = ds["time"].dt.month.values
    for m in np.unique(month):
        sea[month == m] -= sea[month == m].mean(axis=0, dtype=np.float64).astype(np.float32)
    tos[:, ocean] = sea
    return xr.DataArray(tos, dims=("time", "lat", "lon"),
                        coords={"time": ds["time"], "lat": ds["lat"], "lon": ds["lon"]})


def cell_index(lat: np.ndarray, lon: np.ndarray, ocean: np.ndarray, at_lat: float,
               at_lon: float, key: str = "identify.cell") -> tuple[int, int]:
    """(i, j) of the cell nearest to a point in degrees; a clear error outside the grid or on land."""
    half_lat = abs(lat[1] - lat[0]) / 2 if len(lat) > 1 else 0.5
    half_lon = abs(lon[1] - lon[0]) / 2 if len(lon) > 1 else 0.5
    if not (lat.min() - half_lat <= at_lat <= lat.max() + half_lat
            and lon.min() - half_lon <= at_lon <= lon.max() + half_lon):
        raise UserError(f"{key} ({at_lat:g}, {at_lon:g}) lies outside the data's grid "
                        f"(lat {lat.min() - half_lat:g}..{lat.max() + half_lat:g}, lon "
                        f"{lon.min() - half_lon:g}..{lon.max() + half_lon:g}): choose a cell inside "
                        "data.box in params.yaml")
    i, j = nearest_cell(lat, lon, at_lat, at_lon)
    if not ocean[i, j]:
        raise UserError(f"{key} ({at_lat:g}, {at_lon:g}) is land (nearest cell centre "
                        f"{lat[i]:g}, {lon[j]:g}): identifiability needs an ocean cell; move it "
                        "offshore in params.yaml")
    return i, j


def neighbourhood(ocean: np.ndarray, cell: tuple[int, int], radius: int) -> np.ndarray:
    """(lat, lon) bool: the ocean cells within the square of (2 radius + 1) cells around ``cell``."""
    i, j = cell
    square = np.zeros(ocean.shape, bool)
    square[max(0, i - radius):i + radius + 1, max(0, j - radius):j + radius + 1] = True
    return square & ocean


def neighbourhood_features(anom, ocean: np.ndarray, cell: tuple[int, int], radius: int,
                           months: int, lead: int, input_months: int) -> tuple[np.ndarray, np.ndarray]:
    """The inputs a local predictor of ``cell`` sees, and its target.

    Sample r (r = input_months .. T - lead) has inputs from months r-input_months..r-1 (the
    network's ``window.input_months``), as the network's
    windows, of which the last ``months`` are kept, at every ocean cell of the neighbourhood; its
    target is ``cell`` at month r-1+lead. Returns X (samples, months * cells), ordered oldest
    month first and cells in C order within a month (as :func:`climemu.truth.exact.coefficients`
    channels, masked), and y (samples,), in the units of ``anom``.
    """
    if not 1 <= months <= input_months:
        raise ValueError(f"months ({months}) must lie in 1..{input_months} (the input window)")
    a = np.asarray(anom)                                                   # (time, lat, lon)
    cells = neighbourhood(ocean, cell, radius)
    series = a[:, cells].astype(np.float64)                                # (time, n_cells)
    n_time = a.shape[0]
    starts = np.arange(input_months, n_time - lead + 1)                    # sample r
    if len(starts) < 2:
        raise ValueError(f"{n_time} months hold no samples for {input_months} input months "
                         f"and lead {lead}")
    # month r-m for m = months..1 (oldest first): (samples, months, n_cells), filled in place
    X = np.empty((len(starts), months, series.shape[1]))
    for k, m in enumerate(range(months, 0, -1)):
        X[:, k] = series[starts - m]
    y = a[starts - 1 + lead, cell[0], cell[1]].astype(np.float64)
    return X.reshape(len(starts), -1), y


def conditioning(X: np.ndarray) -> dict:
    """Eigenvalues of the features' covariance (units of X squared) and their ratio.

    A tiny smallest eigenvalue is a direction of the inputs that carries no variance: the data
    cannot tell predictors apart along it.
    """
    n_samples, n_features = X.shape
    if n_samples <= n_features:
        raise UserError(f"{n_samples} samples for {n_features} features: their covariance is "
                        "singular whatever the data. Use a longer record (data.years) or fewer "
                        "features (identify.radius_cells, identify.months)")
    eig = np.linalg.eigvalsh(np.cov(np.asarray(X, dtype=np.float64), rowvar=False))
    eig_min, eig_max = float(eig[0]), float(eig[-1])
    return {"eig_max": eig_max, "eig_min": eig_min,
            "condition": eig_max / eig_min if eig_min > 0 else float("inf"),
            "n_features": int(X.shape[1]), "n_samples": int(X.shape[0])}


def simulate_box(syn: SyntheticConfig, box: Box, resolution: float, years: int
                 ) -> tuple[LinearModel, xr.DataArray]:
    """The generator run on a small box: its operators and (time, lat, lon) anomalies, NaN on land.

    The teleconnection is kept only if its source and target boxes hold ocean cells here
    (:meth:`LinearModel.build` refuses it otherwise).
    """
    lat, lon = cell_centres(box, resolution)
    ocean = ocean_mask(lat, lon).values
    if not ocean.any():
        raise UserError(f"the box {box.model_dump()} holds no ocean cell: move it to the ocean")
    try:
        model = LinearModel.build(syn, lat, lon, ocean)
    except ValueError:
        syn = syn.model_copy(update={"tele_gain": 0.0})
        model = LinearModel.build(syn, lat, lon, ocean)
    rng = np.random.default_rng(syn.seed)
    n_months = 12 * years
    noise = correlated_noise(rng, n_months + syn.spinup_months, ocean, syn.noise_std,
                             syn.noise_length, syn.noise_white)
    a = simulate_anomalies(model, noise, syn.spinup_months)               # (time, n_ocean)
    field = np.full((n_months,) + ocean.shape, np.nan)
    field[:, ocean] = a
    anom = xr.DataArray(field, dims=("time", "lat", "lon"), coords={"lat": lat, "lon": lon})
    return model, anom


def least_squares_recovery(syn: SyntheticConfig, box: Box, resolution: float, years: int,
                           input_months: int, lead: int = 1) -> dict:
    """Does ordinary least squares on the generator's own data find the exact coefficients?

    The previous ``model.order`` months of every ocean cell of the small box hold the whole
    state, so the best linear predictor of the centre cell at ``lead`` is exactly linear in these
    features: OLS converges to it if, and only if, the features are well conditioned.
    """
    model, anom = simulate_box(syn, box, resolution, years)
    lat, lon = anom["lat"].values, anom["lon"].values
    ocean = model.ocean
    centre = ((box.lat_min + box.lat_max) / 2, (box.lon_min + box.lon_max) / 2)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    distance = np.where(ocean, great_circle_km(la, lo, *centre), np.inf)
    cell = np.unravel_index(int(np.argmin(distance)), ocean.shape)
    cell = (int(cell[0]), int(cell[1]))
    radius = max(ocean.shape)                                              # the whole box
    X, y = neighbourhood_features(anom.values, ocean, cell, radius, model.order, lead,
                                  input_months=max(input_months, model.order))
    # An intercept by centring (in place: X is 0.25 GB at the stage's 12,000 years). The normal
    # equations (X'X) b = X'y give the same least-squares fit as lstsq on X itself to
    # ~cond(X'X) * 1e-16 (condition ~1e3 here: 1e-13), at a tenth of the time on the tall X.
    X -= X.mean(axis=0)
    y = y - y.mean()
    fit = np.linalg.lstsq(X.T @ X, X.T @ y, rcond=None)[0]
    exact = coefficients(model, cell, lead, input_months=model.order)      # (order, lat, lon)
    exact = exact[:, neighbourhood(ocean, cell, radius)].ravel()
    return {"correlation": float(np.corrcoef(fit, exact)[0, 1]),
            "max_error_ratio": float(np.abs(fit - exact).max() / np.abs(exact).max()),
            "n_features": int(X.shape[1]), "n_samples": int(X.shape[0]),
            "cell": {"lat": float(lat[cell[0]]), "lon": float(lon[cell[1]])},
            "order": int(model.order)}


def cell_autocorrelation(anom, lag: int, rows: int = 8) -> np.ndarray:
    """(lat, lon) lag-``lag`` autocorrelation of each cell's series; NaN on land.

    A few latitude rows at a time: the whole record in float64 is 0.7 GB at the default box,
    and the products below would hold four such arrays at once.
    """
    a = np.asarray(anom)
    out = np.full(a.shape[1:], np.nan)
    for i in range(0, a.shape[1], rows):
        block = a[:, i:i + rows].astype(np.float64)                        # (time, rows, lon)
        x, z = block[:-lag], block[lag:]
        x, z = x - x.mean(0), z - z.mean(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i:i + rows] = (x * z).sum(0) / np.sqrt((x * x).sum(0) * (z * z).sum(0))
    return out


def autocorrelation(anom, lag: int, where: np.ndarray | None = None) -> float:
    """Median over ocean cells (or the cells ``where``, (lat, lon) bool) of the lag-``lag``
    autocorrelation."""
    r = cell_autocorrelation(anom, lag)
    if where is not None:
        r = r[where]
    return float(np.nanmedian(r))


def region_autocorrelation(anom: xr.DataArray, syn: SyntheticConfig, lag: int) -> dict:
    """``{"all", "base", region name...}``: median lag-``lag`` autocorrelation per memory region."""
    ocean = np.isfinite(np.asarray(anom[0]))
    index = region_index(syn, anom["lat"].values, anom["lon"].values, ocean)
    r = cell_autocorrelation(anom, lag)[ocean]
    out = {"all": float(np.nanmedian(r))}
    for k, name in enumerate(["base", *(reg.name for reg in syn.regions)]):
        cells = r[index == k]
        out[name] = float(np.nanmedian(cells)) if len(cells) else None
    return out


def _first_drop(corr: list[float], dist: list[float], level: float) -> float | None:
    """Distance at which ``corr`` (starting at 1 at distance 0) first drops below ``level``,
    interpolated linearly between cells; None if it never does."""
    for k in range(1, len(corr)):
        if corr[k] < level:
            c0, c1, d0, d1 = corr[k - 1], corr[k], dist[k - 1], dist[k]
            return float(d0 + (c0 - level) / (c0 - c1) * (d1 - d0))
    return None


def decorrelation_km(anom: xr.DataArray, cell: tuple[int, int], level: float = np.exp(-1)
                     ) -> dict:
    """Great-circle km at which a cell's correlation with cells along its row (zonal) and column
    (meridional) first drops below 1/e, each the mean over the two directions that reach it
    before land or the grid's edge; ``km`` is the mean of both."""
    a = np.asarray(anom)                                                   # (time, lat, lon)
    lat, lon = anom["lat"].values, anom["lon"].values
    i, j = cell
    centre = a[:, i, j].astype(np.float64)
    centre = centre - centre.mean()

    def walk(di: int, dj: int) -> float | None:
        corr, dist = [1.0], [0.0]
        k = 1
        while 0 <= i + k * di < a.shape[1] and 0 <= j + k * dj < a.shape[2]:
            other = a[:, i + k * di, j + k * dj].astype(np.float64)
            if not np.isfinite(other).all():
                return None                                               # land first
            other = other - other.mean()
            corr.append(float((centre * other).sum() / np.sqrt((centre ** 2).sum() * (other ** 2).sum())))
            dist.append(float(great_circle_km(lat[i], lon[j], lat[i + k * di], lon[j + k * dj])))
            if corr[-1] < level:
                return _first_drop(corr, dist, level)
            k += 1
        return None

    def mean(values):
        found = [v for v in values if v is not None]
        return float(np.mean(found)) if found else None

    zonal, meridional = mean([walk(0, 1), walk(0, -1)]), mean([walk(1, 0), walk(-1, 0)])
    both = mean([zonal, meridional])
    return {"zonal_km": zonal, "meridional_km": meridional, "km": both}


def target_kernel_radius(syn: SyntheticConfig, lat: np.ndarray, lon: np.ndarray, ocean: np.ndarray) -> int:
    """The generator's largest kernel radius (cells) over the teleconnection's target box."""
    region = region_index(syn, lat, lon, ocean)                             # (n_ocean,)
    radius = np.array([m.kernel_radius for m in syn.memories()])[region]
    target = LinearModel.build(syn.model_copy(update={"tele_gain": 0.0}), lat, lon, ocean).target
    return int(radius[target].max()) if target.any() else 0


def link_gain(anom, model: LinearModel, radius: int) -> dict:
    """Least squares on the record recovers the planted teleconnection's gain (docs/data.md).

    At each ocean cell of the target box, OLS of the cell's anomaly on its neighbourhood's previous
    ``model.order`` months (the square of ``radius`` cells: the generator's kernel reaches no
    further, so these features and the link hold the cell's whole one-step predictor) and on the
    source box's mean ``model.lag`` months back; the link's coefficient is the gain (zero when
    none is planted). The structure (the kernel's reach, the memory, the lag) is the generator's;
    every coefficient is fitted; a cell whose features number more than half the record's months
    (a wide kernel) has no estimate. Returns the planted gain, the mean estimate over target cells,
    its standard error across them and the relative error (planted gain > 0).
    """
    a = np.asarray(anom, dtype=np.float64)                                 # (time, lat, lon)
    ocean = model.ocean
    source = np.zeros(ocean.shape, bool)
    source[ocean] = model.source
    target = np.zeros(ocean.shape, bool)
    target[ocean] = model.target
    none = {"planted": float(model.gain), "estimate": float("nan"), "se": float("nan"),
            "relative_error": float("nan"), "cells": 0}
    if not target.any() or not source.any():
        return none
    s = a[:, source].mean(1)                                               # (time,)
    K, lag = model.order, model.lag
    t = np.arange(K, a.shape[0])                                           # predicted months
    estimates = []
    for i, j in zip(*np.nonzero(target)):
        near = neighbourhood(ocean, (int(i), int(j)), radius)
        if len(t) <= 2 * (K * int(near.sum()) + 1):
            continue          # a record too short for this many features (or a kernel too wide): no estimate
        series = a[:, near]                                                # (time, n_cells)
        X = np.concatenate([series[t - k] for k in range(1, K + 1)] + [s[t - lag][:, None]], axis=1)
        X -= X.mean(0)
        y = a[t, i, j] - a[t, i, j].mean()
        # the normal equations: the same fit as lstsq on X to ~cond(X'X) * 1e-16, several times faster
        estimates.append(np.linalg.lstsq(X.T @ X, X.T @ y, rcond=None)[0][-1])
    if not estimates:
        return none
    est = np.asarray(estimates)
    mean = float(est.mean())
    gain = float(model.gain)
    return {"planted": gain, "estimate": mean, "se": float(est.std(ddof=1) / np.sqrt(len(est))) if len(est) > 1
            else float("nan"), "relative_error": abs(mean - gain) / gain if gain > 0 else float("nan"),
            "cells": int(len(est))}
