"""Named dimensions for attribution heatmaps: ``sample``, ``month``, ``lat``, ``lon``.

The network's 36 input channels are the preceding months (paper Sec. 2): channel 0 is month
-36, channel 35 is month -1. Every array this package returns labels months that way, so that
"month -1" means the same thing in a heatmap, a contribution curve and a plot.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

MONTH, LAT, LON, SAMPLE = "month", "lat", "lon", "sample"


def month_labels(n_months: int = 36) -> np.ndarray:
    """Month labels -n..-1 of input channels 0..n-1 (channel n-1 is the month just before)."""
    return np.arange(-n_months, 0)


def to_numpy(x) -> np.ndarray:
    """A torch tensor, DataArray or array as a float64 numpy array (accumulation precision)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    elif isinstance(x, xr.DataArray):
        x = x.values
    return np.asarray(x, dtype=np.float64)


def as_heatmaps(attr, lat=None, lon=None) -> xr.DataArray:
    """Attributions ``(B, 36, H, W)`` or ``(36, H, W)`` as a DataArray with named dims.

    ``lat``/``lon`` (1-D, degrees) become coordinates when given; months are always labelled.
    """
    values = to_numpy(attr)
    dims = {3: (MONTH, LAT, LON), 4: (SAMPLE, MONTH, LAT, LON)}.get(values.ndim)
    if dims is None:
        raise ValueError(f"attributions must be (B, months, lat, lon) or (months, lat, lon); "
                         f"got shape {values.shape}")
    coords = {MONTH: month_labels(values.shape[-3])}
    if lat is not None:
        coords[LAT] = np.asarray(lat)
    if lon is not None:
        coords[LON] = np.asarray(lon)
    return xr.DataArray(values, dims=dims, coords=coords)
