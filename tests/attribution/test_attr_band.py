"""The equivalence band (climemu.attribution.band): ridge paths against scikit-learn, near-optimal
selection and the measures of hand-made linear predictors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from climemu.attribution.band import band_of, design, explain_linear, flatten, near_optimal, predictor_maps, ridge_path
from climemu.attribution.aggregate import measures


def test_ridge_path_matches_scikit_learn():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 60)), rng.normal(size=40)        # more features than samples
    penalties = [0.01, 1.0, 10.0]
    scale = float(np.linalg.svd(X, compute_uv=False).__pow__(2).sum()) / X.shape[1]
    ours = ridge_path(X, y, penalties)
    for p, w in zip(penalties, ours):
        ref = Ridge(alpha=p * scale, fit_intercept=False, solver="svd").fit(X, y).coef_
        np.testing.assert_allclose(w, ref, rtol=1e-8, atol=1e-10)


def test_ridge_path_recovers_a_noise_free_predictor():
    rng = np.random.default_rng(1)
    X, w = rng.normal(size=(200, 5)), np.array([1.0, -2.0, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(ridge_path(X, X @ w, [1e-10])[0], w, atol=1e-6)


def test_near_optimal_keeps_the_predictors_within_the_tolerance():
    assert near_optimal([1.0, 1.04, 1.06, 2.0, 1.05], 0.05).tolist() == [0, 1, 4]
    assert near_optimal([3.0], 0.05).tolist() == [0]


class _Record:
    """What design() reads of WindowedData: month t holds the value t at every cell."""

    lead, input_months = 2, 36

    def __init__(self):
        self.x = np.broadcast_to(np.arange(100.0)[:, None, None], (100, 3, 4)).copy()
        self.x[:, 1, 2] += 1000.0                                         # one cell stands out

    def n_samples(self, split):
        return 3

    def target_index(self, split, positions):
        return np.array([60, 70, 80])[positions]


def test_design_reads_the_network_inputs_of_the_neighbourhood():
    mask = np.zeros((3, 4), bool)
    mask[1, 1:3] = True
    X, y = design(_Record(), "train", mask, (1, 2))
    # target 60, lead 2: inputs are months 23..58 (oldest first), cells (1, 1) and (1, 2)
    assert X.shape == (3, 72)
    np.testing.assert_array_equal(X[0, :2], [23.0, 1023.0])
    np.testing.assert_array_equal(X[0, -2:], [58.0, 1058.0])
    np.testing.assert_array_equal(y, [1060.0, 1070.0, 1080.0])


def test_design_and_maps_of_the_last_months_only():
    mask = np.zeros((3, 4), bool)
    mask[1, 1:3] = True
    X, _ = design(_Record(), "train", mask, (1, 2), months=3)
    # target 60, lead 2: the last 3 input months are 56..58
    assert X.shape == (3, 6)
    np.testing.assert_array_equal(X[0], [56.0, 1056.0, 57.0, 1057.0, 58.0, 1058.0])
    full = predictor_maps(np.arange(1.0, 7.0), mask, 36)                 # (36, 3, 4)
    assert np.all(full[:33] == 0)
    np.testing.assert_array_equal(full[33:, 1, 1:3], [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])


def _grid(n=9):
    return np.arange(50.0, 50.0 + n) + 0.5, np.arange(-40.0, -40.0 + n) + 0.5


def test_a_predictor_of_the_cell_own_last_month_is_perfectly_local_and_recent():
    lat, lon = _grid()
    w = np.zeros((36, 9, 9))
    w[-1, 4, 4] = 2.0                                                     # month -1 at the cell only
    x = np.random.default_rng(2).normal(size=(5, 36, 9, 9))
    m = flatten(measures(explain_linear(w, x, (4, 4), lat, lon, "c", 3, 1.0, None))["attribution"]["cells"]["c"])
    assert m["abs"]["share_month_minus1"] == pytest.approx(1.0)
    assert m["abs"]["radius50_km"] == 0.0 and m["abs"]["radius90_km"] == 0.0
    assert m["signed"]["share_month_minus1"] == pytest.approx(1.0)
    assert m["block"]["share_month_minus1"] == pytest.approx(1.0)


def test_two_equal_months_share_the_curve_half_and_half():
    lat, lon = _grid()
    w = np.zeros((36, 9, 9))
    w[-1, 4, 4] = w[-2, 4, 4] = 1.0
    x = np.ones((3, 36, 9, 9))                                           # contributions 1 and 1
    m = flatten(measures(explain_linear(w, x, (4, 4), lat, lon, "c", 3, 1.0, None))["attribution"]["cells"]["c"])
    assert m["abs"]["share_month_minus1"] == pytest.approx(0.5)
    assert m["signed"]["share_month_minus1"] == pytest.approx(0.5)


def test_the_band_is_the_range_over_predictors():
    a = {"abs": {"r": 1.0, "s": float("nan")}, "signed": {"r": 5.0, "s": 1.0}}
    b = {"abs": {"r": 3.0, "s": float("nan")}, "signed": {"r": 4.0, "s": 2.0}}
    band = band_of([a, b])
    assert band["abs"]["r"] == {"low": 1.0, "high": 3.0}
    assert band["signed"]["r"] == {"low": 4.0, "high": 5.0} and band["signed"]["s"] == {"low": 1.0, "high": 2.0}
    assert np.isnan(band["abs"]["s"]["low"])
