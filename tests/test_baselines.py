import numpy as np
import pytest

from climemu.baselines import (Climatology, DampedPersistence, LinearInverseModel, Persistence,
                               fit_baselines, lag_correlation)


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


def test_lim_recovers_a_known_propagator():
    # two cells, a[t+1] = A a[t] + noise; LIM with both modes at lead 1 forecasts A a[t]
    rng = np.random.default_rng(0)
    A = np.array([[0.7, 0.2], [-0.1, 0.5]])
    a = np.zeros((40_000, 2))
    for t in range(1, len(a)):
        a[t] = A @ a[t - 1] + rng.normal(size=2)
    train = a.reshape(-1, 1, 2)
    ocean = np.ones((1, 2), bool)
    lim = LinearInverseModel(lead=1, modes=2, ocean=ocean).fit(train)
    x = rng.normal(size=(3, 36, 1, 2))
    np.testing.assert_allclose(lim.predict(x)[:, 0], x[:, -1, 0] @ A.T, atol=0.03)


def test_fit_baselines_names():
    train = ar1(0.8, 300, (3, 4))
    ocean = np.ones((3, 4), bool)
    ocean[0, 0] = False
    b = fit_baselines(train, lead=1, ocean=ocean, modes=3)
    assert set(b) == {"climatology", "persistence", "damped_persistence", "lim"}
    assert b["lim"].predict(train[None, -36:])[0, 0, 0] == 0     # land stays zero
