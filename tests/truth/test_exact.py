"""The ground truth on tiny systems where the companion power is worked out by hand."""

import numpy as np
import scipy.sparse as sp

from climemu.truth.synthetic import LinearModel
from climemu.truth.exact import coefficients
from tests.helpers import section


def _model(phi, gain=0.0, lag=1, ocean=None, source=None, target=None, kernel=None):
    ocean = np.ones((1, 2), bool) if ocean is None else ocean
    n = int(ocean.sum())
    return LinearModel(ocean=ocean, phi=np.asarray(phi, float),
                       kernel=sp.identity(n, format="csr") if kernel is None else kernel,
                       source=np.array([True, False]) if source is None else source,
                       target=np.array([False, True]) if target is None else target,
                       gain=gain, lag=lag)


def test_ar1_lead_powers():
    # a[t+1] = 0.5 a[t]: the best forecast L months ahead is 0.5**L a[t], month -1 only.
    m = _model([0.5])
    for lead in (1, 2, 6):
        c = coefficients(m, (0, 0), lead, input_months=3)
        expect = np.zeros((3, 1, 2))
        expect[2, 0, 0] = 0.5 ** lead
        np.testing.assert_allclose(c, expect)


def test_ar2_by_hand():
    # a[t+1] = 0.5 a[t] + 0.3 a[t-1]; a[t+2] = 0.5 (0.5 a[t] + 0.3 a[t-1]) + 0.3 a[t]
    #        = 0.55 a[t] + 0.15 a[t-1]
    c = coefficients(_model([0.5, 0.3]), (0, 1), lead=2, input_months=4)
    np.testing.assert_allclose(c[:, 0, 1], [0, 0, 0.15, 0.55])
    assert np.all(c[:, 0, 0] == 0)


def test_teleconnection_by_hand():
    # Cell 1 (target) gets 0.4 * cell 0 (source) two months back; both persist with 0.5.
    # a1[t+1] = 0.5 a1[t] + 0.4 a0[t-1]; a0[t+1] = 0.5 a0[t]
    # a1[t+2] = 0.5 a1[t+1] + 0.4 a0[t] = 0.25 a1[t] + 0.2 a0[t-1] + 0.4 a0[t]
    m = _model([0.5, 0.0], gain=0.4, lag=2)
    c = coefficients(m, (0, 1), lead=2, input_months=3)
    np.testing.assert_allclose(c[2, 0], [0.4, 0.25])     # month -1
    np.testing.assert_allclose(c[1, 0], [0.2, 0.0])      # month -2
    np.testing.assert_allclose(c[0, 0], [0.0, 0.0])


def test_land_cell_has_no_truth():
    ocean = np.array([[True, False]])
    m = _model([0.5], ocean=ocean, source=np.array([True]), target=np.array([True]))
    assert not coefficients(m, (0, 1), 1, 2).any()


def test_matches_least_squares_on_simulated_series():
    # The truth is the population regression: a long simulation's least-squares fit recovers it.
    m = _model([0.6, 0.2], gain=0.15, lag=2)
    rng = np.random.default_rng(0)
    n_t = 200_000
    a = np.zeros((n_t, 2))
    for t in range(2, n_t):
        a[t] = m.step(a[t - 2:t]) + rng.normal(size=2)
    lead, months = 3, 2
    rows = np.arange(months - 1, n_t - lead)
    X = np.hstack([a[rows - k] for k in range(months)])   # [a[t], a[t-1]] per cell pair
    fit, *_ = np.linalg.lstsq(X, a[rows + lead, 1], rcond=None)
    c = coefficients(m, (0, 1), lead, input_months=months)
    np.testing.assert_allclose(fit, np.concatenate([c[1, 0], c[0, 0]]), atol=0.01)


def _dense_companion(m) -> np.ndarray:
    """The companion matrix C (K n x K n) written out: block row 0 is [A_1 .. A_K], then shifts."""
    ops = [op.toarray() for op in m.lag_operators()]
    n, k = ops[0].shape[0], len(ops)
    c = np.zeros((k * n, k * n))
    c[:n] = np.hstack(ops)
    c[n:, :-n] = np.eye((k - 1) * n)
    return c


def test_matches_the_dense_companion_power():
    # Three cells in a row, a local kernel, a teleconnection at lag 2 and memory 3: the first
    # block row of C**L (numpy's matrix_power) is the coefficient of a[t-k] in a[t+L].
    ocean = np.ones((1, 3), bool)
    kernel = sp.csr_matrix(np.array([[0.5, 0.5, 0.0], [0.25, 0.5, 0.25], [0.0, 0.5, 0.5]]))
    m = _model([0.5, 0.2, 0.1], gain=0.3, lag=2, ocean=ocean, kernel=kernel,
               source=np.array([True, False, False]), target=np.array([False, False, True]))
    n = 3
    for lead in (1, 4, 9):
        row = np.linalg.matrix_power(_dense_companion(m), lead)[2]     # output cell 2
        c = coefficients(m, (0, 2), lead, input_months=5)
        for k in range(3):                                              # block k is month -(k + 1)
            np.testing.assert_allclose(c[4 - k, 0], row[k * n:(k + 1) * n], atol=1e-12)
        assert not c[:2].any()                                          # months -5, -4: beyond memory


def test_lead_9_on_the_full_grid_within_a_second():
    # The budget: one output cell at lead 9, sparse operators only (CPU time, so other
    # processes on the machine do not count).
    import time

    from climemu.core.grid import cell_centres, ocean_mask

    cfg = section("data")
    lat, lon = cell_centres(cfg.box, cfg.resolution)
    m = LinearModel.build(cfg.synthetic, lat, lon, ocean_mask(lat, lon).values)
    start = time.process_time()
    c = coefficients(m, (45, 72), lead=9)
    assert time.process_time() - start < 1.0
    assert c.shape == (36, 70, 125) and c[-1, 45, 72] > 0
