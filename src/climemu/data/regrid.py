"""From the curvilinear POP grid to the regular one-degree box: linear (barycentric) weights.

xESMF needs ESMF, which PyPI does not ship here (docs/data.md), so the weights come
from a Delaunay triangulation of the source cell centres (SciPy): each target cell centre gets
the barycentric weights of the triangle around it. They are computed once, stored as one sparse
matrix, and applied to every month, chunk by chunk through dask. Linear weights reproduce a
field that is linear in latitude and longitude exactly.

Land rule: a target cell is land when any vertex of its triangle (its source neighbourhood) is
land (NaN in the source), so no ocean value is ever made from a coastline's missing data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import xarray as xr
from scipy.spatial import Delaunay

from climemu.core.config import Box
from climemu.core.errors import UserError
from climemu.core.grid import cell_centres, wrap_lon


class CoverageError(UserError):
    """The requested box is not covered by the source grid."""


@dataclass(frozen=True)
class Regridder:
    weights: sp.csr_matrix    # (n_target, n_used) barycentric weights; each row sums to one
    touches: sp.csr_matrix    # (n_target, n_used) 1 where the source point is a vertex of the row's triangle
    used: np.ndarray          # (n_used,) flat (C-order) indices of the source points near the box
    shape: tuple[int, int]    # (n_lat, n_lon) of the target grid

    @classmethod
    def build(cls, src_lat: np.ndarray, src_lon: np.ndarray, lat: np.ndarray, lon: np.ndarray,
              box: Box, margin: float = 5.0) -> "Regridder":
        """Weights from source centres (nlat, nlon) in degrees to the target centres ``lat`` x ``lon``.

        Longitudes (source 0-360, box -180..360) are measured in the box's own frame, centred on
        the box, so a box crossing 0 E (or 180 E) sees a continuous longitude. Only source points
        within ``margin`` degrees of the box are triangulated.
        """
        centre = 0.5 * (box.lon_min + box.lon_max)
        x = (centre + wrap_lon(np.asarray(src_lon, float) - centre)).ravel()      # (n_src,)
        y = np.asarray(src_lat, float).ravel()
        near = (np.isfinite(x) & np.isfinite(y)
                & (y >= box.lat_min - margin) & (y <= box.lat_max + margin)
                & (x >= box.lon_min - margin) & (x <= box.lon_max + margin))
        used = np.flatnonzero(near)
        tgt_lat, tgt_lon = np.meshgrid(lat, centre + wrap_lon(np.asarray(lon, float) - centre),
                                       indexing="ij")
        targets = np.column_stack([tgt_lon.ravel(), tgt_lat.ravel()])             # (n_target, 2)
        extent = (f"source grid lat {np.nanmin(y):.2f}..{np.nanmax(y):.2f}, lon "
                  f"{np.nanmin(src_lon):.2f}..{np.nanmax(src_lon):.2f}")
        if len(used) < 3:
            raise CoverageError(f"data.box {box.model_dump()} lies outside the data's coverage "
                                f"({extent}): no source point within {margin:g} degrees")
        tri = Delaunay(np.column_stack([x[used], y[used]]))
        simplex = tri.find_simplex(targets)
        outside = simplex < 0
        if outside.any():
            k = int(np.flatnonzero(outside)[0])
            raise CoverageError(
                f"data.box {box.model_dump()} lies outside the data's coverage ({extent}): "
                f"{int(outside.sum())} of {len(targets)} target cells are not surrounded by source "
                f"points, e.g. lat {targets[k, 1]:g}, lon {wrap_lon(targets[k, 0]):g}")
        # Barycentric coordinates: transform[s] maps (x - r) to the first two coordinates.
        T = tri.transform[simplex]                                                # (n_target, 3, 2)
        b = np.einsum("ijk,ik->ij", T[:, :2], targets - T[:, 2])                  # (n_target, 2)
        w = np.column_stack([b, 1.0 - b.sum(axis=1)])                             # (n_target, 3)
        rows = np.repeat(np.arange(len(targets)), 3)
        cols = tri.simplices[simplex].ravel()
        n = (len(targets), len(used))
        weights = sp.csr_matrix((w.ravel(), (rows, cols)), shape=n)
        touches = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=n)
        return cls(weights, touches, used, (len(lat), len(lon)))

    def land(self, values: np.ndarray) -> np.ndarray:
        """(time, n_lat, n_lon) bool: targets whose triangle has a NaN vertex; values (time, nlat, nlon)."""
        missing = np.isnan(values.reshape(len(values), -1)[:, self.used])        # (time, n_used)
        return (self.touches @ missing.T.astype(np.float64) > 0).T.reshape((-1,) + self.shape)

    def apply(self, values: np.ndarray) -> np.ndarray:
        """(time, nlat, nlon) source values -> (time, n_lat, n_lon) float32, NaN by the land rule."""
        x = values.reshape(len(values), -1)[:, self.used].astype(np.float64)     # (time, n_used)
        out = (self.weights @ np.nan_to_num(x, nan=0.0).T).T.reshape((-1,) + self.shape)
        out[self.land(values)] = np.nan
        return out.astype(np.float32)


def regrid(tos: xr.DataArray, box: Box, resolution: float) -> tuple[xr.DataArray, xr.DataArray]:
    """Lazy ``tos(time, lat, lon)`` on the regular box and the static ``ocean(lat, lon)`` mask.

    ``tos`` is (time, nlat, nlon) with 2-D ``lat``/``lon`` coordinates, usually dask-backed:
    the weights are built once and applied chunk by chunk, so memory stays bounded.
    """
    lat, lon = cell_centres(box, resolution)
    ydim, xdim = tos.dims[1:]
    rg = Regridder.build(tos["lat"].values, tos["lon"].values, lat, lon, box)
    source = tos.drop_vars([c for c in ("lat", "lon") if c in tos.coords])
    out = xr.apply_ufunc(rg.apply, source, input_core_dims=[[ydim, xdim]],
                         output_core_dims=[["lat", "lon"]], dask="parallelized",
                         output_dtypes=[np.float32],
                         dask_gufunc_kwargs={"output_sizes": {"lat": len(lat), "lon": len(lon)}})
    out = out.assign_coords(lat=lat, lon=lon)
    # Land is where the first month's neighbourhood touches a NaN: POP's land is fixed in time.
    ocean = ~rg.land(np.asarray(source.isel(time=slice(0, 1)).values))[0]
    ocean = xr.DataArray(ocean, dims=("lat", "lon"), coords={"lat": lat, "lon": lon})
    return out, ocean
