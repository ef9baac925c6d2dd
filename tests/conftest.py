"""Shared fixtures: tiny configurations and synthetic files that run in seconds."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from climemu.config import Box, DataConfig, SyntheticConfig
from climemu.core.calendar import monthly_time

# A 20 x 30 one-degree box in the subpolar North Atlantic (ocean with Greenland/Iceland coasts).
TINY_BOX = Box(lat_min=45, lat_max=65, lon_min=-50, lon_max=-20)


@pytest.fixture
def tiny_data_cfg() -> DataConfig:
    return DataConfig(
        box=TINY_BOX, years=[401, 420],
        synthetic=SyntheticConfig(
            spinup_months=24,
            source_box=Box(lat_min=46, lat_max=50, lon_min=-45, lon_max=-40),
            target_box=Box(lat_min=58, lat_max=62, lon_min=-30, lon_max=-25)))


def make_sst(values: np.ndarray, first_year: int = 401, ocean: np.ndarray | None = None) -> xr.Dataset:
    """A dataset in the fetch layout around a (time, lat, lon) array, for hand-made inputs."""
    n_time, n_lat, n_lon = values.shape
    time, bnds = monthly_time(first_year, n_time)
    ocean = np.ones((n_lat, n_lon), bool) if ocean is None else ocean
    return xr.Dataset(
        {"tos": (("time", "lat", "lon"), values.astype(np.float32), {"units": "degC"}),
         "ocean": (("lat", "lon"), ocean.astype(np.int8)),
         "time_bnds": (("time", "bnds"), bnds)},
        coords={"time": time, "lat": 10.5 + np.arange(n_lat), "lon": -50.5 + np.arange(n_lon)})
