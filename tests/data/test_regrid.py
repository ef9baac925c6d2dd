import numpy as np
import pytest
import scipy.sparse as sp
import xarray as xr

from climemu.config import Box
from climemu.data.regrid import CoverageError, Regridder, regrid
from climemu.core.grid import cell_centres, wrap_lon
from tests.helpers_cmip6 import Grid, linear_field


def test_linear_field_is_reproduced_exactly_across_0E():
    # Source longitudes 330..389 -> wrap to 330..360 and 0..29; the box crosses 0 E.
    grid = Grid.make(n_lat=30, n_lon=50, lat0=40.0, lon0=330.0)
    box = Box(lat_min=45, lat_max=60, lon_min=-20, lon_max=15)
    lat, lon = cell_centres(box, 1.0)
    rg = Regridder.build(grid.lat, grid.lon, lat, lon, box)
    src = linear_field(grid.lat, grid.lon, np.arange(3))                      # (3, 30, 50)
    out = rg.apply(src)                                                        # (3, 15, 35)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    expected = linear_field(la, lo, np.arange(3))
    assert out.shape == (3, 15, 35)
    np.testing.assert_allclose(out, expected, atol=1e-4)   # float32 output
    # weights are a proper interpolation: three per target, non-negative, summing to one
    assert rg.weights.getnnz(axis=1).max() == 3
    assert rg.weights.min() >= -1e-12
    np.testing.assert_allclose(np.asarray(rg.weights.sum(axis=1)).ravel(), 1.0)


def test_weights_by_hand_on_one_triangle():
    # Three source points (lon, lat): (0,0), (2,0), (0,2) plus a far corner; the target (0.5, 0.5)
    # has barycentric weights 1 - 0.25 - 0.25 = 0.5 on (0,0), 0.25 on (2,0), 0.25 on (0,2).
    src_lat = np.array([[0.0, 0.0], [2.0, 2.5]])
    src_lon = np.array([[0.0, 2.0], [0.0, 3.0]]) % 360
    box = Box(lat_min=0, lat_max=1, lon_min=0, lon_max=1)
    rg = Regridder.build(src_lat, src_lon, np.array([0.5]), np.array([0.5]), box)
    values = np.array([[[4.0, 8.0], [12.0, 100.0]]])                           # (1, 2, 2)
    assert rg.apply(values)[0, 0, 0] == pytest.approx(0.5 * 4 + 0.25 * 8 + 0.25 * 12)
    values[0, 1, 1] = np.nan   # land outside the triangle: no effect
    assert rg.apply(values)[0, 0, 0] == pytest.approx(7.0)   # 2 + 2 + 3
    values[0, 0, 1] = np.nan   # land at a vertex: the target is land
    assert np.isnan(rg.apply(values)[0, 0, 0])


def test_land_rule_and_mask():
    # Source offset from the targets so each target sits nearest one corner of its source square.
    n_lat, n_lon = 20, 24
    lat2, lon2 = np.meshgrid(40.2 + np.arange(n_lat), 300.35 + np.arange(n_lon), indexing="ij")
    land = np.zeros((n_lat, n_lon), bool)
    land[8, 10] = True                                       # at 48.2 N, 310.35 E (-49.65)
    values = np.where(land, np.nan, 15.0)[None].repeat(2, 0)   # (2, nlat, nlon)
    tos = xr.DataArray(values, dims=("time", "nlat", "nlon"),
                       coords={"lat": (("nlat", "nlon"), lat2), "lon": (("nlat", "nlon"), lon2)})
    box = Box(lat_min=42, lat_max=56, lon_min=-58, lon_max=-40)
    out, ocean = regrid(tos.chunk({"time": 1}), box, 1.0)
    out = out.compute()
    # Target 48.5 N, -49.5: its nearest source point is the land point -> land.
    assert not ocean.sel(lat=48.5, lon=-49.5) and np.isnan(out.sel(lat=48.5, lon=-49.5)).all()
    # Two cells away -> ocean, and exactly the constant.
    assert ocean.sel(lat=50.5, lon=-49.5) and (out.sel(lat=50.5, lon=-49.5) == 15.0).all()
    # Land touches at most the four squares around the point: 1 to 4 target cells.
    assert 1 <= int((~ocean).sum()) <= 4
    assert np.isnan(out.values[:, ~ocean.values]).all() and np.isfinite(out.values[:, ocean.values]).all()


def test_box_outside_coverage_is_refused():
    grid = Grid.make(n_lat=20, n_lon=20, lat0=40.0, lon0=300.0)          # 40-60 N, 60-37 W
    lat, lon = cell_centres(Box(lat_min=10, lat_max=20, lon_min=-50, lon_max=-40), 1.0)
    with pytest.raises(CoverageError, match="outside the data's coverage.*no source point"):
        Regridder.build(grid.lat, grid.lon, lat, lon, Box(lat_min=10, lat_max=20, lon_min=-50, lon_max=-40))
    box = Box(lat_min=50, lat_max=65, lon_min=-50, lon_max=-40)          # the north overhangs
    lat, lon = cell_centres(box, 1.0)
    with pytest.raises(CoverageError, match=r"60 of 150 target cells are not surrounded.*lat 59\.5"):
        Regridder.build(grid.lat, grid.lon, lat, lon, box)


def test_apply_is_chunk_wise_and_lazy():
    grid = Grid.make(n_lat=25, n_lon=30, lat0=40.0, lon0=300.0)
    src = linear_field(grid.lat, grid.lon, np.arange(24)).astype(np.float32)
    tos = xr.DataArray(src, dims=("time", "nlat", "nlon"),
                       coords={"lat": (("nlat", "nlon"), grid.lat), "lon": (("nlat", "nlon"), grid.lon)})
    box = Box(lat_min=45, lat_max=55, lon_min=-50, lon_max=-35)
    out, _ = regrid(tos.chunk({"time": 5}), box, 1.0)
    assert out.chunks[0] == (5, 5, 5, 5, 4)    # one regrid call per source chunk, still lazy
    eager, _ = regrid(tos, box, 1.0)
    np.testing.assert_array_equal(out.values, eager.values)
    assert isinstance(Regridder.build(grid.lat, grid.lon, out.lat.values, out.lon.values, box).weights,
                      sp.csr_matrix)
    assert (wrap_lon(out.lon.values) == out.lon.values).all()
