import json

import numpy as np
import pytest
import scipy.sparse as sp

from climemu.truth.synthetic import (LinearModel, correlated_noise, generate, lag_weights,
                                     local_kernel, mean_state, neighbour_kernel,
                                     region_index, seasonal_cycle)
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
    cfg = section("data.synthetic", memory_months=3, persistence=0.7, decay=0.5, reemergence=0.0)
    phi = lag_weights(cfg, 3, [2], order=3)
    np.testing.assert_allclose(phi, 0.7 * np.array([4, 2, 1]) / 7)


def test_reemergence_spreads_its_weight_over_its_lags():
    # 0.6 on lags 1-2 (decay 0.5: 0.4, 0.2), re-emergence 0.1 split over lags 2 and 4
    cfg = section("data.synthetic", memory_months=2, persistence=0.6, decay=0.5, reemergence=0.1, tele_lag=1)
    np.testing.assert_allclose(lag_weights(cfg, 2, [2, 4], order=5), [0.4, 0.25, 0.0, 0.05, 0.0])


def test_order_covers_the_reemergence_lags_only_when_used():
    cfg = section("data.synthetic", memory_months=12, reemergence=0.0, regions=[],
                  reemergence_lags=[12, 24])
    assert cfg.order == 12
    assert cfg.model_copy(update={"reemergence": 0.05}).order == 24


def test_self_weight_and_radius_per_cell():
    ocean = np.ones((1, 5), bool)
    radius = np.array([0, 1, 1, 2, 0])
    own = np.array([0.0, 0.5, 0.0, 0.25, 0.9])
    k = local_kernel(ocean, radius, own).toarray()
    np.testing.assert_allclose(k.sum(1), 1.0)
    np.testing.assert_allclose(k[0], [1, 0, 0, 0, 0])                    # radius 0: itself
    np.testing.assert_allclose(k[1], [1 / 6, 0.5 + 1 / 6, 1 / 6, 0, 0])    # half itself, half the mean of 3
    np.testing.assert_allclose(k[2], [0, 1 / 3, 1 / 3, 1 / 3, 0])
    np.testing.assert_allclose(k[3], [0, 0.75 / 4, 0.75 / 4, 0.25 + 0.75 / 4, 0.75 / 4])
    np.testing.assert_allclose(k[4], [0, 0, 0, 0, 1])


def test_noise_white_share_and_total_variance():
    ocean = np.ones((40, 40), bool)
    std = 0.3
    for white in (0.0, 0.5, 1.0):
        e = correlated_noise(np.random.default_rng(0), 400, ocean, std, 3.0, white)
        field = e.reshape(400, 40, 40)[:, 5:-5, 5:-5]                    # away from the edges
        assert abs(field.std() / std - 1) < 0.03
        # neighbours share the smooth part only: their correlation is (1 - white) * rho_smooth
        rho = np.corrcoef(field[:, :, :-1].ravel(), field[:, :, 1:].ravel())[0, 1]
        rho_smooth = np.exp(-1 / (4 * 3.0 ** 2))                         # Gaussian filter, 1 cell apart
        assert abs(rho - (1 - white) * rho_smooth) < 0.03


def test_regions_override_the_base_memory(tiny):
    cfg, ds = tiny
    model = LinearModel.from_dataset(ds)
    syn = cfg.synthetic
    index = region_index(syn, ds["lat"].values, ds["lon"].values, ds["ocean"].values.astype(bool))
    for k, memory in enumerate(syn.memories()):
        cells = np.flatnonzero(index == k)
        if not len(cells):
            continue
        expect = lag_weights(memory, syn.memory_months, syn.reemergence_lags, syn.order)
        np.testing.assert_allclose(model.phi[cells], np.broadcast_to(expect, (len(cells), syn.order)))
        diagonal = model.kernel.diagonal()[cells]
        assert np.all(diagonal >= memory.kernel_self)


def test_kernel_is_local_row_stochastic_on_ocean():
    ocean = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], bool)
    k = neighbour_kernel(ocean, radius=1)
    np.testing.assert_allclose(k.sum(axis=1).A1, 1.0)
    # corner cell (0,0) -> itself, (0,1), (1,0): three ocean cells within radius 1 (centre is land)
    assert k[0].nnz == 3 and np.isclose(k[0, 0], 1 / 3)


def test_a_radius_wider_than_the_grid_averages_over_every_ocean_cell():
    # 3 x 3 grid, radius 25: every ocean cell is within reach of every other (the wide kernel of
    # the controls' `wide` setting on identify's 3 x 3-cell box); a wider radius changes nothing
    ocean = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], bool)
    k = neighbour_kernel(ocean, radius=25).toarray()
    np.testing.assert_allclose(k, np.full((8, 8), 1 / 8))
    np.testing.assert_allclose(neighbour_kernel(ocean, radius=3).toarray(), k)


def test_operators_rebuilt_from_file_reproduce_the_step(tiny):
    cfg, ds = tiny
    model = LinearModel.from_dataset(ds)
    ops = model.lag_operators()
    rng = np.random.default_rng(0)
    history = rng.normal(size=(model.order, model.kernel.shape[0]))     # oldest first
    by_ops = sum(ops[k] @ history[-(k + 1)] for k in range(model.order))
    np.testing.assert_allclose(model.step(history), by_ops, rtol=1e-12, atol=1e-12)
    # the planted link: only target cells depend on source cells at the teleconnection lag
    tele = ops[model.lag - 1] - sp.diags(model.phi[:, model.lag - 1]) @ model.kernel
    rows, cols = tele.nonzero()
    assert set(rows) == set(np.flatnonzero(model.target)) and set(cols) == set(np.flatnonzero(model.source))


@pytest.mark.parametrize("cycle", [False, True])
def test_anomalies_follow_the_planted_model(tiny, cycle):
    # Removing the known mean state and seasonal cycle (when on; the default is off, docs/data.md)
    # leaves anomalies whose one-step residual from the model's own step is the innovation: std
    # noise_std, uncorrelated with the past.
    cfg, ds = tiny
    if cycle:
        cfg = section("data", TINY["data"], years=[401, 410], synthetic={**TINY["data"]["synthetic"],
                                                                        "seasonal_cycle": True})
        ds = generate(cfg.synthetic, cfg.box, cfg.resolution, cfg.years)
    assert cfg.synthetic.seasonal_cycle is cycle
    ocean = ds["ocean"].values.astype(bool)
    lat, lon = ds["lat"].values, ds["lon"].values
    month = np.arange(ds.sizes["time"]) % 12
    known = mean_state(lat, lon)[None] + (seasonal_cycle(lat, lon, month) if cfg.synthetic.seasonal_cycle else 0.0)
    a = (ds["tos"].values - known)[:, ocean].astype(np.float64)             # (time, n)
    model = LinearModel.from_dataset(ds)
    k = model.order
    residual = np.stack([a[t] - model.step(a[t - k:t]) for t in range(k, len(a))])
    # the smooth part's normalisation holds away from the box edges (the filter pads there)
    interior = np.zeros(ocean.shape, bool)
    interior[6:-6, 6:-6] = True
    residual, past = residual[:, interior[ocean]], a[k - 1:-1, interior[ocean]]
    assert abs(residual.std() / cfg.synthetic.noise_std - 1) < 0.02
    assert abs(np.corrcoef(residual.ravel(), past.ravel())[0, 1]) < 0.03


def test_ocean_mask_known_points():
    lat, lon = np.array([40.5, 30.5]), np.array([-100.5, -40.5])
    m = ocean_mask(lat, lon).values
    assert not m[0, 0] and m[1, 1]          # Kansas-ish land, mid-Atlantic ocean
    lat, lon = cell_centres(__import__("climemu.config", fromlist=["Box"]).Box(
        lat_min=10, lat_max=80, lon_min=-100, lon_max=25), 1.0)
    assert len(lat) == 70 and len(lon) == 125 and lat[0] == 10.5 and lon[-1] == 24.5
