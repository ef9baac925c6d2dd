"""The seed ensemble (climemu.report.ensemble) on hand-made maps."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from climemu.report import ensemble

LAT = np.array([40.5, 41.5, 42.5])
LON = np.array([-30.5, -29.5, -28.5, -27.5, -26.5])
MONTHS = np.array([-3, -2, -1])


def _summary(absolute: np.ndarray, truth: np.ndarray, curve=(1.0, 1.0, 2.0), truth_curve=(0.0, 1.0, 3.0)):
    """One cell 'c' at grid index (1, 2), every grid cell ocean."""
    return xr.Dataset(
        {"absolute": (("cell", "lat", "lon"), absolute[None]),
         "truth_absolute": (("cell", "lat", "lon"), truth[None]),
         "curve": (("cell", "month"), np.array(curve, float)[None]),
         "truth_curve": (("cell", "month"), np.array(truth_curve, float)[None]),
         "ocean": (("lat", "lon"), np.ones((3, 5), np.int8))},
        coords={"cell": ["c"], "cell_i": ("cell", [1]), "cell_j": ("cell", [2]),
                "lat": LAT, "lon": LON, "month": MONTHS})


def test_summary_sums_months_and_builds_the_all_curve():
    pos = np.zeros((1, 3, 3, 5))
    neg = np.zeros((1, 3, 3, 5))
    pos[0, 0, 1, 2], pos[0, 2, 1, 2] = 1.0, 2.0      # month -3: 1, month -1: 2 at the cell
    neg[0, 1, 0, 0] = -0.5                            # month -2: a negative mean of -0.5
    absolute = np.abs(pos) + np.abs(neg)
    dims = ("cell", "month", "lat", "lon")
    group = xr.Dataset({"positive": (dims, pos), "negative": (dims, neg), "absolute": (dims, absolute),
                        "truth_positive": (dims, pos), "truth_negative": (dims, 0 * neg),
                        "truth_absolute": (dims, pos), "ocean": (("lat", "lon"), np.ones((3, 5), np.int8))},
                       coords={"cell": ["c"], "cell_i": ("cell", [1]), "cell_j": ("cell", [2]),
                               "month": MONTHS, "lat": LAT, "lon": LON},
                       attrs={"method": "deeplift", "n_samples": 4, "lead": 1})
    s = ensemble.summary(group)
    assert s["absolute"].dims == ("cell", "lat", "lon")
    assert float(s["absolute"].sel(cell="c").isel(lat=1, lon=2)) == 3.0        # 1 + 2 over months
    assert float(s["absolute"].sel(cell="c").isel(lat=0, lon=0)) == 0.5
    # "all" = sum of positive means + sum of |negative| means per month (paper Sec. 4.2)
    np.testing.assert_allclose(s["curve"].sel(cell="c").values, [1.0, 0.5, 2.0])
    np.testing.assert_allclose(s["truth_curve"].sel(cell="c").values, [1.0, 0.0, 2.0])
    assert s.attrs["method"] == "deeplift" and int(s["cell_i"].sel(cell="c")) == 1


def test_scores_by_hand_and_numpy():
    truth = np.zeros((3, 5))
    truth[1, 2] = 4.0
    net = truth.copy()
    net[1, 3] = 4.0                                   # half the mass one cell east
    s = ensemble.scores(_summary(net, truth))["c"]
    assert s["map_pearson"] == pytest.approx(np.corrcoef(net.ravel(), truth.ravel())[0, 1], abs=1e-12)
    # truth: all mass on the cell, r50 = r90 = 0. Network: 50% on the cell -> r50 0; r90 is the
    # distance to the east neighbour, 1 degree of longitude at 41.5N
    east_km = 6371.0088 * np.radians(1.0) * np.cos(np.radians(41.5))
    assert s["r50_error_km"] == pytest.approx(0.0, abs=1e-9)
    assert s["r90_error_km"] == pytest.approx(east_km, rel=1e-3)
    # normalised curves (0.25, 0.25, 0.5) and (0, 0.25, 0.75): L1 distance 0.5
    assert s["curve_error"] == pytest.approx(0.5, abs=1e-12)


def test_an_ensemble_whose_errors_cancel_is_the_truth():
    rng = np.random.default_rng(3)
    truth = rng.uniform(1.0, 2.0, (3, 5))
    d, e = rng.uniform(-0.5, 0.5, (2, 3, 5))
    members = [_summary(truth + d, truth), _summary(truth - d, truth),
               _summary(truth + e, truth), _summary(truth - e, truth)]
    ens = ensemble.mean(members)
    np.testing.assert_allclose(ens["absolute"].values[0], truth, atol=1e-12)
    j = ensemble.jackknife(members)
    assert j["map_pearson"]["ensemble"] == pytest.approx(1.0, abs=1e-12)
    assert all(p < 1.0 for p in j["map_pearson"]["singles"])
    assert j["map_pearson"]["gain"] > 0 and j["map_pearson"]["gain_se"] > 0
    assert j["map_pearson"]["gain"] == pytest.approx(1.0 - np.mean(j["map_pearson"]["singles"]), abs=1e-12)


def test_identical_members_gain_nothing():
    rng = np.random.default_rng(4)
    truth, net = rng.uniform(0.0, 1.0, (2, 3, 5))
    j = ensemble.jackknife([_summary(net, truth)] * 3)
    for k in ensemble.SCORES:
        assert j[k]["gain"] == pytest.approx(0.0, abs=1e-9) and j[k]["gain_se"] == pytest.approx(0.0, abs=1e-9)
