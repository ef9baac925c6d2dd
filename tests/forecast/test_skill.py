"""Scores on inputs whose answer is worked out by hand."""

import numpy as np
import pytest
import xarray as xr

from climemu.forecast import skill

LAT = np.array([0.0, 60.0])          # cos = 1 and 0.5
LON = np.array([10.0, 20.0, 30.0])


def maps(values):
    return xr.DataArray(np.asarray(values, float), dims=("sample", "lat", "lon"), coords={"lat": LAT, "lon": LON})


OCEAN = xr.DataArray(np.array([[True, True, True], [True, True, False]]), dims=("lat", "lon"),
                     coords={"lat": LAT, "lon": LON})


def test_perfect_forecast():
    rng = np.random.default_rng(0)
    y = maps(rng.normal(size=(5, 2, 3)))
    s = skill.scores(y, y, OCEAN, reference_mse=2.0, scale=0.5)
    assert s["rmse_degC"] == 0 and s["acc_pattern"] == pytest.approx(1) and s["acc_time"] == pytest.approx(1)
    assert s["skill_vs_persistence"] == 1.0


def test_known_bias_weights_by_area_and_ignores_land():
    y = maps(np.zeros((2, 2, 3)))
    f = y.copy()
    f[:, 0, :] = 1.0          # error 1 on the equator row (weight 1 each, 3 cells)
    f[:, 1, :2] = 2.0         # error 2 at 60N (weight 0.5 each, 2 ocean cells)
    f[:, 1, 2] = 100.0        # land: ignored
    # weighted MSE = (3 * 1 * 1 + 2 * 0.5 * 4) / (3 + 2 * 0.5) = 7 / 4
    assert skill.mse(f, y, OCEAN) == pytest.approx(7 / 4)
    assert skill.rmse(f, y, OCEAN) == pytest.approx(np.sqrt(7 / 4))
    assert skill.scores(f, y, OCEAN, reference_mse=7 / 2)["skill_vs_persistence"] == pytest.approx(0.5)


def test_correlations_invariant_to_bias_and_scale_and_undefined_for_constants():
    rng = np.random.default_rng(1)
    y = maps(rng.normal(size=(6, 2, 3)))
    np.testing.assert_allclose(skill.pattern_correlation(3 * y + 2, y, OCEAN), 1.0)
    np.testing.assert_allclose(skill.time_correlation(-y + 5, y), -1.0)
    constant = maps(np.ones((6, 2, 3)))
    assert skill.time_correlation(constant, y).isnull().all()


def test_scores_agree_with_xskillscore():
    # The hand-written scores against a maintained library (docs/libraries.md): RMSE and both
    # correlations, with the same cos(latitude) weights on ocean cells.
    import xskillscore as xs

    rng = np.random.default_rng(3)
    truth = maps(rng.normal(size=(7, 2, 3)))
    forecast = 0.6 * truth + maps(rng.normal(scale=0.5, size=(7, 2, 3)))
    w = skill.area_weights(truth["lat"], OCEAN)
    dims = ["lat", "lon"]
    assert skill.rmse(forecast, truth, OCEAN) == pytest.approx(
        float(xs.rmse(forecast, truth, dim=["sample", *dims], weights=w.broadcast_like(truth))), rel=1e-10)
    np.testing.assert_allclose(skill.pattern_correlation(forecast, truth, OCEAN).values,
                               xs.pearson_r(forecast, truth, dim=dims, weights=w).values,
                               rtol=1e-10)
    np.testing.assert_allclose(skill.time_correlation(forecast, truth).values,
                               xs.pearson_r(forecast, truth, dim="sample").values, rtol=1e-10)
