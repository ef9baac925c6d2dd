"""The basin study: its stratified sample of cells, and its measures on a linear model."""

import numpy as np
import pytest
import torch
from torch import nn

from climemu.attribution.basin import explain_basin, stratified_cells, summary
from tests.helpers import section


def test_every_ocean_cell_when_n_is_zero():
    ocean = np.array([[True, False], [True, True]])
    cells = stratified_cells(ocean, np.array([10.5, 11.5]), 0, 10.0, seed=0)
    assert cells.tolist() == [[0, 0], [1, 0], [1, 1]]


def test_sample_is_proportional_to_the_ocean_of_each_band():
    # Latitudes 0.5..19.5: band 0 (rows 0-9) has 10 x 8 = 80 ocean cells, band 1 (rows
    # 10-19) only 10 x 2 = 20. Ten cells: quotas 8 and 2, drawn from ocean cells only.
    lat = np.arange(20) + 0.5
    ocean = np.zeros((20, 8), bool)
    ocean[:10] = True
    ocean[10:, :2] = True
    cells = stratified_cells(ocean, lat, 10, 10.0, seed=3)
    assert len(cells) == 10 and len({tuple(c) for c in cells}) == 10
    assert ocean[cells[:, 0], cells[:, 1]].all()
    assert (cells[:, 0] < 10).sum() == 8 and (cells[:, 0] >= 10).sum() == 2
    assert np.array_equal(cells, stratified_cells(ocean, lat, 10, 10.0, seed=3))
    assert not np.array_equal(cells, stratified_cells(ocean, lat, 10, 10.0, seed=4))


def test_largest_remainder_fills_the_quota_exactly():
    lat = np.arange(30) + 0.5
    ocean = np.ones((30, 3), bool)                      # three bands of 30 cells each
    cells = stratified_cells(ocean, lat, 7, 10.0, seed=0)
    assert len(cells) == 7
    assert sorted(np.bincount(cells[:, 0] // 10).tolist()) == [2, 2, 3]


class LastMonthCopy(nn.Module):
    """Output = 2 x input month -1, cell by cell: all attribution on month -1 at the cell."""

    def forward(self, x):
        return 2 * x[:, -1:]


@pytest.fixture
def data(windowed):
    return windowed


def test_measures_of_a_model_that_copies_the_last_month(data):
    cells = np.array([[1, 1], [4, 5]])
    cfg = section("basin", max_samples=6, batch_size=4, cells_per_pass=1)
    ds, stats = explain_basin(LastMonthCopy(), data, cfg, cells)
    # Everything on month -1 at the cell itself: share 1, radius 0 km, curve a unit spike.
    # Going back, month -2 (0) is the first below 1/e; month -2 has no mass, so the crossing
    # is placed linearly: -1 - (1 - 1/e) / (1 - 0) = -1.632.
    assert ds["share_month_minus1"].values.tolist() == pytest.approx([1.0, 1.0])
    assert ds["radius50_km"].values.tolist() == [0.0, 0.0]
    assert ds["radius90_cells"].values.tolist() == [0.0, 0.0]
    assert ds["curve"].sel(month=-1).values.tolist() == pytest.approx([1.0, 1.0])
    assert ds["efolding_month"].values.tolist() == pytest.approx([-1 - (1 - np.exp(-1))] * 2)
    assert ds["cell_i"].values.tolist() == [1, 4]
    assert stats["attributions"] == 12 and stats["processes"] == 1
    s = summary(ds)
    assert s["curve_spread"] == 0.0 and s["n_cells"] == 2
    assert s["curve_spread_noise"] == 0.0 and np.all(ds["half_difference"].values == 0)
    assert s["share_month_minus1"]["median"] == pytest.approx(1.0)


def test_the_exact_contributions_are_measured_like_the_network(data):
    # LastMonthCopy's exact coefficients: 2 on month -1 at the cell itself. DeepLift of a linear
    # model is coefficient x input, so the truth's measures equal the network's, cell by cell.
    def truth(i, j):
        coef = np.zeros((data.input_months, *data.ocean.shape))
        coef[-1, i, j] = 2.0
        return coef

    cells = np.array([[1, 1], [4, 5]])
    cfg = section("basin", max_samples=6, batch_size=4, cells_per_pass=2)
    ds, _ = explain_basin(LastMonthCopy(), data, cfg, cells, truth=truth)
    for key in ("curve", "half_difference", "share_month_minus1", "radius50_km", "efolding_month"):
        np.testing.assert_allclose(ds[f"truth_{key}"], ds[key], atol=1e-6)
    s = summary(ds)
    assert s["truth"]["curve_spread"] == s["curve_spread"] == 0.0
    assert s["truth"]["share_month_minus1"]["median"] == pytest.approx(1.0)
    assert "truth" not in summary(explain_basin(LastMonthCopy(), data, cfg, cells)[0])


def test_cells_sharing_a_pass_give_the_same_measures(data):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(36, 4, 3, padding=1, bias=False), nn.ReLU(),
                        nn.Conv2d(4, 1, 3, padding=1, bias=False)).eval()
    cells = np.array([[0, 0], [2, 3], [5, 6]])
    one, _ = explain_basin(net, data, section("basin", max_samples=5, batch_size=2, cells_per_pass=1), cells)
    three, _ = explain_basin(net, data, section("basin", max_samples=5, batch_size=2, cells_per_pass=3), cells)
    # Other batch shapes, other float32 summation: shares of a curve summing to 1, to 1e-6.
    np.testing.assert_allclose(one["curve"], three["curve"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(one["radius50_km"], three["radius50_km"])


def test_summary_separates_spread_from_sampling_noise():
    # Two cells, two months. Curves (0.6, 0.4) and (0.4, 0.6): std across cells 0.1 in each
    # month. Half differences +-0.06 in month 0 only: noise 0.06. Excess sqrt(0.1^2 - 0.06^2) = 0.08.
    import xarray as xr
    ds = xr.Dataset({"curve": (("cell", "month"), [[0.6, 0.4], [0.4, 0.6]]),
                     "half_difference": (("cell", "month"), [[0.06, 0.0], [-0.06, 0.0]]),
                     **{k: ("cell", [1.0, 2.0]) for k in ("efolding_month", "share_month_minus1", "radius50_km")}},
                    coords={"month": [-2, -1]})
    s = summary(ds)
    assert s["curve_spread"] == pytest.approx(0.1)
    assert s["curve_spread_noise"] == pytest.approx(0.06)
    assert s["curve_spread_excess"] == pytest.approx(0.08)
    assert s["share_month_minus1"]["median"] == pytest.approx(1.5)


def test_describe_states_size_speed_and_spread():
    from climemu.attribution.basin import describe
    line = describe({"n_cells": 4, "attributions": 128, "seconds": 8.0, "seconds_per_cell": 2.0,
                     "attributions_per_second": 16.0, "processes": 1, "curve_spread": 0.01234})
    assert line == ("4 cells x 32 samples in 8.0 s (2.00 s per cell, 16.0 attributions/s on "
                    "1 process(es)); curve spread 0.0123")


def test_truth_of_mixed_sign_coefficients_and_pinned_batches(data):
    # A 1x1 convolution is linear, so DeepLift (zero baseline) gives w_m * x_m exactly: the
    # truth with the same coefficients, of both signs, must measure the same (the basin loop
    # sums |c| * |x| rather than |c * x|). pin_memory is a no-op on a CPU: same numbers.
    net = nn.Conv2d(36, 1, 1, bias=False).eval()
    w = torch.linspace(-1.0, 1.5, 36)
    with torch.no_grad():
        net.weight.copy_(w.reshape(1, 36, 1, 1))

    def truth(i, j):
        coef = np.zeros((data.input_months, *data.ocean.shape))
        coef[:, i, j] = w.numpy()
        return coef

    cells = np.array([[1, 1], [4, 5], [2, 3]])
    cfg = section("basin", max_samples=6, batch_size=4, cells_per_pass=2)
    ds, _ = explain_basin(net, data, cfg, cells, truth=truth)
    for key in ("curve", "half_difference", "share_month_minus1"):
        np.testing.assert_allclose(ds[f"truth_{key}"], ds[key], rtol=1e-5, atol=1e-7)
    pinned, _ = explain_basin(net, data, section("basin", max_samples=6, batch_size=4, cells_per_pass=2,
                                                 pin_memory=True), cells, truth=truth)
    np.testing.assert_allclose(pinned["curve"], ds["curve"], rtol=1e-6, atol=0)
