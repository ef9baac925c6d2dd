"""Forecast scores over ocean cells, area-weighted by cos(latitude): xarray in, xarray out.

Forecasts and truths are DataArrays with dims ``(sample, lat, lon)`` in the same units; the
ocean mask is ``(lat, lon)`` bool. Each score is one small function, checked by hand in tests.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

SAMPLE, LAT, LON = "sample", "lat", "lon"


def area_weights(lat: xr.DataArray, ocean: xr.DataArray) -> xr.DataArray:
    """cos(latitude) on ocean cells, 0 on land: a one-degree cell's area shrinks with latitude."""
    return (np.cos(np.deg2rad(lat)) * ocean).astype(float)


def _wmean(x: xr.DataArray, w: xr.DataArray, dims) -> xr.DataArray:
    return (x * w).sum(dims) / w.sum(dims)


def mse(forecast: xr.DataArray, truth: xr.DataArray, ocean: xr.DataArray) -> float:
    """Area-weighted mean squared error over ocean cells and samples."""
    w = area_weights(forecast[LAT], ocean)
    return float(_wmean(((forecast - truth) ** 2).mean(SAMPLE), w, (LAT, LON)))


def rmse(forecast: xr.DataArray, truth: xr.DataArray, ocean: xr.DataArray) -> float:
    return float(np.sqrt(mse(forecast, truth, ocean)))


def pattern_correlation(forecast: xr.DataArray, truth: xr.DataArray, ocean: xr.DataArray) -> xr.DataArray:
    """(sample,) area-weighted Pearson correlation of the two maps over ocean cells."""
    w = area_weights(forecast[LAT], ocean)
    f = forecast - _wmean(forecast, w, (LAT, LON))
    t = truth - _wmean(truth, w, (LAT, LON))
    cov = _wmean(f * t, w, (LAT, LON))
    return cov / np.sqrt(_wmean(f ** 2, w, (LAT, LON)) * _wmean(t ** 2, w, (LAT, LON)))


def time_correlation(forecast: xr.DataArray, truth: xr.DataArray) -> xr.DataArray:
    """(lat, lon) Pearson correlation over samples, cell by cell (NaN where either is constant)."""
    f = forecast - forecast.mean(SAMPLE)
    t = truth - truth.mean(SAMPLE)
    denominator = np.sqrt((f ** 2).mean(SAMPLE) * (t ** 2).mean(SAMPLE))
    return ((f * t).mean(SAMPLE) / denominator.where(denominator > 0))


def scores(forecast: xr.DataArray, truth: xr.DataArray, ocean: xr.DataArray,
           reference_mse: float | None = None, scale: float = 1.0) -> dict:
    """RMSE (times ``scale``: degC for normalised inputs), both anomaly correlations, and the
    skill score 1 - MSE / reference MSE (the reference is persistence).

    A correlation with a constant forecast (climatology) is undefined; it counts as 0 here, the
    skill of a forecast that carries no information about the anomaly.
    """
    w = area_weights(forecast[LAT], ocean)
    out = {
        "rmse_degC": rmse(forecast, truth, ocean) * scale,
        "acc_pattern": float(pattern_correlation(forecast, truth, ocean).fillna(0.0).mean(SAMPLE)),
        "acc_time": float(_wmean(time_correlation(forecast, truth).fillna(0.0), w, (LAT, LON))),
    }
    if reference_mse is not None:
        out["skill_vs_persistence"] = 1.0 - mse(forecast, truth, ocean) / reference_mse
    return out
