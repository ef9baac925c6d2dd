import numpy as np
import pytest

import torch

from climemu.forecast.baselines import (Climatology, DampedPersistence, LinearInverseModel, Persistence,
                                        SharedFilter, fit_baselines, lag_correlation, select_lim)


def ar1(phi, n_time, shape, seed=0):
    rng = np.random.default_rng(seed)
    a = np.zeros((n_time,) + shape)
    for t in range(1, n_time):
        a[t] = phi * a[t - 1] + rng.normal(size=shape)
    return a


def test_persistence_and_climatology_use_month_minus_1():
    x = np.arange(2 * 36 * 2 * 2, dtype=float).reshape(2, 36, 2, 2)
    np.testing.assert_array_equal(Persistence().predict(x), x[:, -1])
    assert not Climatology().predict(x).any()


def test_damped_persistence_learns_phi_to_the_lead():
    train = ar1(np.array([[0.9, 0.5]]), 20_000, (1, 2))
    r = DampedPersistence(lead=2).fit(train).r
    np.testing.assert_allclose(r, [[0.81, 0.25]], atol=0.03)
    np.testing.assert_allclose(lag_correlation(train, 1), [[0.9, 0.5]], atol=0.02)


A = np.array([[0.7, 0.2], [-0.1, 0.5]])


def two_cell_system(n_time, seed=0):
    """a[t+1] = A a[t] + noise on two cells, as (time, 1, 2)."""
    rng = np.random.default_rng(seed)
    a = np.zeros((n_time, 2))
    for t in range(1, n_time):
        a[t] = A @ a[t - 1] + rng.normal(size=2)
    return a.reshape(-1, 1, 2)


def test_lim_recovers_a_known_propagator():
    # LIM with both modes at lead 1 forecasts A a[t]
    ocean = np.ones((1, 2), bool)
    lim = LinearInverseModel(lead=1, modes=2, ocean=ocean).fit(two_cell_system(40_000))
    x = np.random.default_rng(1).normal(size=(3, 36, 1, 2))
    np.testing.assert_allclose(lim.predict(x)[:, 0], x[:, -1, 0] @ A.T, atol=0.03)


def test_lim_is_the_optimal_forecast_of_a_var1_on_three_eofs():
    # A field of 6 x 8 cells whose anomalies are three spatial patterns P (orthonormal) with
    # amplitudes a[t+1] = A3 a[t] + e[t], e ~ N(0, I): the optimal forecast at lead L is
    # P A3^L P^T x, with error variance trace(sum_k A3^k A3^kT, k < L) per 48 cells. The LIM on
    # three EOFs must recover that operator and that skill, and beat damped persistence, which
    # cannot mix the patterns.
    rng = np.random.default_rng(0)
    A3 = np.array([[0.8, 0.3, 0.0], [-0.3, 0.8, 0.1], [0.0, 0.0, 0.5]])        # stable: |eig| < 0.86
    P, _ = np.linalg.qr(rng.normal(size=(48, 3)))                                # (48, 3)

    def field(n_time, seed):
        r = np.random.default_rng(seed)
        a = np.zeros((n_time, 3))
        for t in range(1, n_time):
            a[t] = A3 @ a[t - 1] + r.normal(size=3)
        return (a @ P.T).reshape(n_time, 6, 8)

    ocean = np.ones((6, 8), bool)
    train, test = field(40_000, 1), field(5_000, 2)
    for lead in (1, 3):
        lim = LinearInverseModel(lead=lead, modes=3, ocean=ocean).fit(train)
        operator = lim.eofs @ lim.propagator @ lim.eofs.T                         # (48, 48)
        exact = P @ np.linalg.matrix_power(A3, lead) @ P.T
        np.testing.assert_allclose(operator, exact, atol=0.02)
        x = np.stack([test[t - 36:t] for t in range(36, len(test) - lead + 1)])  # (B, 36, 6, 8)
        y = test[36 + lead - 1:]                                                 # (B, 6, 8)
        mse = float(((lim.predict(x) - y) ** 2).mean())
        powers = [np.linalg.matrix_power(A3, k) for k in range(lead)]
        optimal = float(np.trace(sum(m @ m.T for m in powers))) / 48
        assert abs(mse / optimal - 1) < 0.05, (lead, mse, optimal)
        damped = DampedPersistence(lead=lead).fit(train)
        assert mse < 0.95 * float(((damped.predict(x) - y) ** 2).mean())


def test_lim_modes_chosen_on_validation():
    # One mode cannot represent the coupled 2-cell propagator: validation must pick two.
    ocean = np.ones((1, 2), bool)
    series = two_cell_system(20_000, seed=2)
    val = two_cell_system(2_000, seed=3)
    x = np.stack([val[t - 36:t] for t in range(36, len(val) - 1)])          # (B, 36, 1, 2)
    y = np.stack([val[t] for t in range(36, len(val) - 1)])                 # (B, 1, 2), lead 1
    lim = select_lim(series, 1, ocean, [1, 2], x, y)
    assert lim.modes == 2


def test_fit_baselines_names():
    train = ar1(0.8, 300, (3, 4))
    ocean = np.ones((3, 4), bool)
    ocean[0, 0] = False
    b = fit_baselines(train, lead=1, ocean=ocean, lim=LinearInverseModel(1, 3, ocean).fit(train),
                      shared=SharedFilter(1, 36, 1, 5, ocean))
    assert set(b) == {"climatology", "persistence", "damped_persistence", "lim", "shared_filter"}
    for name in ("lim", "shared_filter"):
        assert b[name].predict(train[None, -36:])[0, 0, 0] == 0     # land stays zero


def test_truth_predictor_applies_the_exact_coefficients():
    # The forward iteration from the last K months equals sum(coefficients * inputs) (truth.py).
    import scipy.sparse as sp

    from climemu.truth.predictor import TruthPredictor
    from climemu.truth.synthetic import LinearModel
    from climemu.truth.exact import coefficients

    ocean = np.array([[True, True, False, True]])
    kernel = sp.csr_matrix(np.array([[0.5, 0.5, 0.0], [0.5, 0.25, 0.25], [0.0, 0.5, 0.5]]))
    m = LinearModel(ocean=ocean, phi=np.array([0.5, 0.2, 0.1]), kernel=kernel,
                    source=np.array([True, False, False]), target=np.array([False, False, True]),
                    gain=0.3, lag=2)
    x = np.random.default_rng(0).normal(size=(5, 6, 1, 4))
    x[:, :, ~ocean] = 0.0
    for lead in (1, 3):
        forecast = TruthPredictor(m, lead).predict(x)
        for j in np.flatnonzero(ocean[0]):
            expect = (coefficients(m, (0, j), lead, input_months=6)[None] * x).sum((1, 2, 3))
            np.testing.assert_allclose(forecast[:, 0, j], expect, atol=1e-12)
        assert not forecast[:, 0, 2].any()                              # land stays zero


def test_truth_predictor_is_the_ceiling():
    # Simulated with the known model (no smoothing, no seasonal cycle): the truth beats every
    # baseline fitted on the same training data, as the best linear predictor must.
    import scipy.sparse as sp

    from climemu.truth.predictor import TruthPredictor
    from climemu.truth.synthetic import LinearModel

    ocean = np.ones((1, 3), bool)
    kernel = sp.csr_matrix(np.array([[0.5, 0.5, 0.0], [0.25, 0.5, 0.25], [0.0, 0.5, 0.5]]))
    m = LinearModel(ocean=ocean, phi=np.array([0.5, 0.3]), kernel=kernel,
                    source=np.array([True, False, False]), target=np.array([False, False, True]),
                    gain=0.15, lag=2)
    rng = np.random.default_rng(1)
    a = np.zeros((12_000, 3))
    for t in range(2, len(a)):
        a[t] = m.step(a[t - 2:t]) + rng.normal(size=3)
    series = a.reshape(-1, 1, 3)
    lead, months = 2, 4
    train, test = series[:8000], series[8000:]
    targets = np.arange(months + lead - 1, len(test))
    x = np.stack([test[t - lead - months + 1:t - lead + 1] for t in targets])   # (B, 4, 1, 3)
    y = test[targets]
    lim = LinearInverseModel(lead, 3, ocean).fit(train)
    shared = SharedFilter(lead, months, 1, 3, ocean)
    predictors = {**fit_baselines(train, lead, ocean, lim, shared), "truth": TruthPredictor(m, lead)}
    mse = {name: float(((p.predict(x) - y) ** 2).mean()) for name, p in predictors.items()}
    assert mse["truth"] < min(v for k, v in mse.items() if k != "truth"), mse


def drift_east(n_time, shape, phi=0.5, seed=0):
    """Anomalies moving one cell east a month: a[t](i, j) = phi a[t-1](i, j-1) + noise, with
    nothing west of the westmost column (0, as the filter's zero padding assumes)."""
    rng = np.random.default_rng(seed)
    a = np.zeros((n_time,) + shape)
    for t in range(1, n_time):
        a[t] = rng.normal(size=shape)
        a[t][:, 1:] += phi * a[t - 1][:, :-1]
    return a


def test_shared_filter_finds_the_planted_drift():
    # By hand: at lead 1 the best forecast of a[t] at (i, j) is 0.5 a[t-1](i, j-1): weight 0.5
    # at month -1, one cell west (row r, column r - 1 of the (2r+1)^2 window); every other weight 0.
    a = drift_east(600, (6, 8))
    f = SharedFilter(lead=1, input_months=36, radius=1, cells=48, ocean=np.ones((6, 8), bool)).fit(a)
    expected = np.zeros((36, 3, 3))
    expected[-1, 1, 0] = 0.5
    np.testing.assert_allclose(f.weights, expected, atol=0.06)     # 565 x 48 samples: sd about 0.006
    assert abs(f.weights[-1, 1, 0] - 0.5) < 0.03


def test_shared_filter_predicts_as_torch_conv2d_and_by_hand():
    rng = np.random.default_rng(1)
    ocean = np.ones((4, 5), bool)
    ocean[0, 0] = False
    f = SharedFilter(lead=1, input_months=3, radius=1, cells=4, ocean=ocean)
    f.weights = rng.normal(size=(3, 3, 3))
    x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    out = f.predict(x)
    # cell (2, 3), sample 1: the weights times the 3 x 3 inputs centred on it
    assert out[1, 2, 3] == pytest.approx(float((f.weights * x[1, :, 1:4, 2:5]).sum()), rel=1e-5)
    # the corner (1, 1)'s window reaches past the box: zeros there, like the network's padding
    corner = np.pad(x[0], ((0, 0), (1, 1), (1, 1)))[:, 1:4, 1:4]
    assert out[0, 1, 1] == pytest.approx(float((f.weights * corner).sum()), rel=1e-5)
    conv = torch.nn.Conv2d(3, 1, 3, padding=1, bias=False)
    conv.weight.data = torch.tensor(f.weights[None], dtype=torch.float32)
    reference = conv(torch.from_numpy(x)).detach().numpy()[:, 0]
    reference[:, ~ocean] = 0
    np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-6)


def test_shared_filter_fit_is_sklearns_ridge_on_every_window_and_cell():
    # With cells >= the ocean cells every window uses every cell, so the fit is the ridge
    # regression of all (window, cell) rows: checked against scikit-learn's Ridge on that design.
    from sklearn.linear_model import Ridge

    a = drift_east(80, (3, 4), seed=2)
    ocean = np.ones((3, 4), bool)
    ocean[0, 0] = False
    lead, months, r = 2, 3, 1
    f = SharedFilter(lead, months, r, cells=99, ocean=ocean).fit(a)
    padded = np.pad(a, ((0, 0), (r, r), (r, r)))
    rows, y = [], []
    for t in range(months + lead - 1, len(a)):
        first = t - lead - months + 1
        for i, j in zip(*np.nonzero(ocean)):
            rows.append(padded[first:first + months, i:i + 3, j:j + 3].ravel())
            y.append(a[t, i, j])
    X = np.array(rows)
    alpha = 1e-6 * np.trace(X.T @ X) / X.shape[1]
    reference = Ridge(alpha=alpha, fit_intercept=False, solver="cholesky").fit(X, np.array(y)).coef_
    np.testing.assert_allclose(f.weights.ravel(), reference, rtol=1e-7, atol=1e-10)


def test_lim_span_share_by_hand():
    # EOFs of a field that lives on cells 0 and 1 of four: a field there is represented whole,
    # a field on cells 2 and 3 not at all, half of each: half of the sum of squares.
    ocean = np.ones((1, 4), bool)
    rng = np.random.default_rng(0)
    train = np.zeros((500, 1, 4))
    train[:, 0, :2] = rng.normal(size=(500, 2))
    lim = LinearInverseModel(lead=1, modes=2, ocean=ocean).fit(train)
    inside, outside = np.array([[[3.0, -1.0, 0.0, 0.0]]]), np.array([[[0.0, 0.0, 2.0, 5.0]]])
    assert lim.span_share(inside) == pytest.approx(1.0)
    assert lim.span_share(outside) == pytest.approx(0.0, abs=1e-12)
    assert lim.span_share(np.array([[[1.0, 0.0, 1.0, 0.0]]])) == pytest.approx(0.5)
