"""The fetch stage's output layout, one for every source (synthetic or CMIP6).

``tos(time, lat, lon)`` float32 degC on the regular box, NaN over land; ``ocean(lat, lon)``
int8 (1 ocean, 0 land); a noleap monthly ``time`` with ``time_bnds`` in "days since
0001-01-01", like the CMIP6 files after regridding; CF-1.8 attributes plus the source's own.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from climemu.core.calendar import monthly_time, time_encoding


def fetch_dataset(tos, lat: np.ndarray, lon: np.ndarray, ocean: np.ndarray, first_year: int,
                  attrs: dict, ocean_note: str) -> xr.Dataset:
    """``tos`` (time, lat, lon) degC, numpy or dask; months from January of ``first_year``."""
    time, time_bnds = monthly_time(first_year, tos.shape[0])
    ds = xr.Dataset(
        {
            "tos": (("time", "lat", "lon"), tos, {
                "standard_name": "sea_surface_temperature", "long_name": "Sea Surface Temperature",
                "units": "degC"}),
            "ocean": (("lat", "lon"), np.asarray(ocean).astype(np.int8), {
                "long_name": f"ocean cell (1) or land (0), {ocean_note}", "flag_values": "0 1"}),
            "time_bnds": (("time", "bnds"), time_bnds),
        },
        coords={
            "time": ("time", time, {"standard_name": "time", "bounds": "time_bnds"}),
            "lat": ("lat", lat, {"standard_name": "latitude", "units": "degrees_north"}),
            "lon": ("lon", lon, {"standard_name": "longitude", "units": "degrees_east"}),
        },
        attrs={"Conventions": "CF-1.8", **attrs},
    )
    for name in ("time", "time_bnds"):
        ds[name].encoding.update(time_encoding())
    return ds
