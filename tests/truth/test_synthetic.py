import json

import numpy as np
import pytest

from climemu.truth.synthetic import (LinearModel, generate, lag_weights, neighbour_kernel)
from climemu.core.grid import cell_centres, ocean_mask
from tests.helpers import TINY, section


@pytest.fixture(scope="module")
def tiny(request):
    cfg = section("data", TINY["data"], years=[401, 410])
    return cfg, generate(cfg.synthetic, cfg.box, cfg.resolution, cfg.years)


def test_layout_units_and_mask(tiny):
    cfg, ds = tiny
    assert ds["tos"].dims == ("time", "lat", "lon") and ds["tos"].attrs["units"] == "degC"
    assert ds.sizes == {"time": 120, "lat": 20, "lon": 30, "bnds": 2}
    ocean = ds["ocean"].values.astype(bool)
    # land is NaN, ocean finite, and the mask is the GSHHG coastline
    assert np.isnan(ds["tos"].values[:, ~ocean]).all() and np.isfinite(ds["tos"].values[:, ocean]).all()
    # 64.5N 45.5W is the Greenland ice sheet (land); 50.5N 30.5W is open ocean
    assert not ds["ocean"].sel(lat=64.5, lon=-45.5) and ds["ocean"].sel(lat=50.5, lon=-30.5)
    assert ds["time"].values[0].calendar == "noleap"
    assert json.loads(ds.attrs["generator_config"])["seed"] == cfg.synthetic.seed


def test_same_seed_same_bytes_other_seed_other_data(tiny):
    cfg, ds = tiny
    again = generate(cfg.synthetic, cfg.box, cfg.resolution, cfg.years)
    np.testing.assert_array_equal(ds["tos"].values, again["tos"].values)
    other = generate(cfg.synthetic.model_copy(update={"seed": 7}), cfg.box, cfg.resolution, cfg.years)
    assert not np.array_equal(np.nan_to_num(ds["tos"].values), np.nan_to_num(other["tos"].values))


def test_lag_weights_decay_and_sum():
    phi = lag_weights(section("data.synthetic", memory_months=3, persistence=0.7, decay=0.5))
    np.testing.assert_allclose(phi, 0.7 * np.array([4, 2, 1]) / 7)


def test_kernel_is_local_row_stochastic_on_ocean():
    ocean = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], bool)
    k = neighbour_kernel(ocean, radius=1)
    np.testing.assert_allclose(k.sum(axis=1).A1, 1.0)
    # corner cell (0,0) -> itself, (0,1), (1,0): three ocean cells within radius 1 (centre is land)
    assert k[0].nnz == 3 and np.isclose(k[0, 0], 1 / 3)


def test_operators_rebuilt_from_file_reproduce_the_step(tiny):
    cfg, ds = tiny
    model = LinearModel.from_dataset(ds)
    ops = model.lag_operators()
    rng = np.random.default_rng(0)
    history = rng.normal(size=(model.order, model.kernel.shape[0]))     # oldest first
    by_ops = sum(ops[k] @ history[-(k + 1)] for k in range(model.order))
    np.testing.assert_allclose(model.step(history), by_ops, rtol=1e-12, atol=1e-12)
    # the planted link: only target cells depend on source cells at the teleconnection lag
    tele = ops[model.lag - 1] - model.phi[model.lag - 1] * model.kernel
    rows, cols = tele.nonzero()
    assert set(rows) == set(np.flatnonzero(model.target)) and set(cols) == set(np.flatnonzero(model.source))


def test_anomalies_have_the_planted_memory(tiny):
    _, ds = tiny
    ocean = ds["ocean"].values.astype(bool)
    a = ds["tos"].values[:, ocean]
    a = a - a.reshape(10, 12, -1).mean(0).repeat(1, 0)[np.arange(120) % 12]   # remove seasonal cycle
    lag1 = np.mean([np.corrcoef(a[:-1, i], a[1:, i])[0, 1] for i in range(0, a.shape[1], 7)])
    assert 0.6 < lag1 < 0.99


def test_ocean_mask_known_points():
    lat, lon = np.array([40.5, 30.5]), np.array([-100.5, -40.5])
    m = ocean_mask(lat, lon).values
    assert not m[0, 0] and m[1, 1]          # Kansas-ish land, mid-Atlantic ocean
    lat, lon = cell_centres(__import__("climemu.config", fromlist=["Box"]).Box(
        lat_min=10, lat_max=80, lon_min=-100, lon_max=25), 1.0)
    assert len(lat) == 70 and len(lon) == 125 and lat[0] == 10.5 and lon[-1] == 24.5
