"""The regular latitude-longitude grid of a box, its land mask and distances on the sphere."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import xarray as xr

from climemu.core.config import Box

EARTH_RADIUS_KM = 6371.0


def cell_centres(box: Box, resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre latitudes (south to north) and longitudes (west to east) in degrees."""
    n_lat = round((box.lat_max - box.lat_min) / resolution)
    n_lon = round((box.lon_max - box.lon_min) / resolution)
    lat = box.lat_min + resolution * (np.arange(n_lat) + 0.5)
    lon = box.lon_min + resolution * (np.arange(n_lon) + 0.5)
    return lat, lon


def wrap_lon(lon: np.ndarray) -> np.ndarray:
    """Longitudes mapped to -180..180 (0-360 grids, boxes crossing 0 E)."""
    return (np.asarray(lon, dtype=float) + 180.0) % 360.0 - 180.0


@lru_cache(maxsize=1)
def _landmask():
    # GSHHG coastline compiled into the wheel: works offline; building it takes a few seconds.
    from roaring_landmask import RoaringLandmask

    return RoaringLandmask.new()


# Building the landmask costs 4.2 s of every process that needs it (fetch, identify, each test
# worker; 2-core machine), looking it up a few ms: the mask of each grid is kept on disk,
# keyed by the grid's coordinates and the landmask's version.
CACHE_ENV = "CLIMEMU_CACHE"        # a folder; default $XDG_CACHE_HOME/climemu or ~/.cache/climemu


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "climemu"


def _compute_ocean(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    lon2, lat2 = np.meshgrid(wrap_lon(lon), lat)
    land = _landmask().contains_many(lon2.ravel().copy(), lat2.ravel().copy())
    return ~np.asarray(land, dtype=bool).reshape(lat2.shape)


def ocean_mask(lat: np.ndarray, lon: np.ndarray) -> xr.DataArray:
    """True where the cell centre is ocean, from the GSHHG coastline (cached on disk per grid:
    :func:`cache_dir`; an unreadable or unwritable cache is recomputed, never an error)."""
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    key = hashlib.sha256(lat.tobytes() + b"|" + lon.tobytes() + b"|"
                         + importlib.metadata.version("roaring-landmask").encode()).hexdigest()[:32]
    path = cache_dir() / f"ocean-{key}.npy"
    try:
        ocean = np.load(path)
        if ocean.shape != (len(lat), len(lon)) or ocean.dtype != bool:
            raise ValueError("stale cache entry")
    except (OSError, ValueError, EOFError):                 # missing, truncated, not a mask
        ocean = _compute_ocean(lat, lon)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                np.save(f, ocean)
            os.replace(tmp, path)                          # atomic: a reader never sees half a file
        except OSError:
            pass                                           # read-only home: compute every time
    return xr.DataArray(ocean, dims=("lat", "lon"), coords={"lat": lat, "lon": lon},
                        name="ocean", attrs={"long_name": "ocean cell (GSHHG coastline)"})


def box_mask(lat: np.ndarray, lon: np.ndarray, box: Box) -> xr.DataArray:
    """True for cells whose centre lies in ``box`` (chosen in degrees, never by index)."""
    lat_in = (lat >= box.lat_min) & (lat <= box.lat_max)
    lon_in = (lon >= box.lon_min) & (lon <= box.lon_max)
    return xr.DataArray(lat_in[:, None] & lon_in[None, :], dims=("lat", "lon"),
                        coords={"lat": lat, "lon": lon})


def nearest_cell(lat: np.ndarray, lon: np.ndarray, at_lat: float, at_lon: float) -> tuple[int, int]:
    """Index (i, j) of the cell nearest to a point given in degrees."""
    return int(np.abs(lat - at_lat).argmin()), int(np.abs(wrap_lon(lon - at_lon)).argmin())


def great_circle_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Haversine distance in km between points in degrees (broadcasts)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
