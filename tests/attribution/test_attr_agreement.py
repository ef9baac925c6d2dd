"""Agreement with the truth on tiny arrays whose correlations are worked out by hand."""

import numpy as np
import pytest
import xarray as xr

from climemu.truth.agreement import correlations, pearson_rows, quartiles, spearman_rows


def test_pearson_and_spearman_by_hand():
    u = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]])
    v = np.array([[2.0, 4.0, 6.0, 8.0], [1.0, 4.0, 9.0, 16.0]])
    # Row 1: exactly linear -> 1 and 1. Row 2: monotone, not linear: Spearman 1; Pearson by hand:
    # u - 2.5 = (-1.5, -0.5, 0.5, 1.5), v - 7.5 = (-6.5, -3.5, 1.5, 8.5): sum of products 25,
    # |u| = sqrt(5), |v| = sqrt(42.25 + 12.25 + 2.25 + 72.25) = sqrt(129).
    np.testing.assert_allclose(pearson_rows(u, v), [1.0, 25 / np.sqrt(5 * 129)])
    np.testing.assert_allclose(spearman_rows(u, v), [1.0, 1.0])
    np.testing.assert_allclose(pearson_rows(u, -v), [-1.0, -25 / np.sqrt(5 * 129)])


def test_constant_row_has_no_correlation():
    assert np.isnan(pearson_rows(np.ones((1, 3)), np.array([[1.0, 2.0, 3.0]]))[0])


def test_ties_of_a_sparse_truth_and_its_support():
    # Truth non-zero on 2 of 6 inputs; the attribution is right there and noise elsewhere.
    true = np.array([0, 0, 0, 0, 1.0, 2.0]).reshape(1, 1, 2, 3)
    attr = np.array([0.3, -0.2, 0.1, -0.4, 1.0, 2.0]).reshape(1, 1, 2, 3)
    ocean = np.ones((2, 3), bool)
    support = (true != 0)[0]
    p, s = correlations(attr, true, ocean, support)
    np.testing.assert_allclose([p[0], s[0]], [1.0, 1.0])      # right wherever the truth is known
    p_all, s_all = correlations(attr, true, ocean)
    assert p_all[0] < 1 and s_all[0] < 1
    # Spearman over all six: ranks attr (4, 2, 3, 1, 5, 6), truth (2.5, 2.5, 2.5, 2.5, 5, 6).
    np.testing.assert_allclose(s_all[0], pearson_rows(np.array([[4, 2, 3, 1, 5, 6.0]]),
                                                      np.array([[2.5, 2.5, 2.5, 2.5, 5, 6]]))[0])


def test_land_is_not_scored():
    true = np.array([1.0, 2.0, 3.0, 100.0]).reshape(1, 1, 1, 4)
    attr = np.array([1.0, 2.0, 3.0, -100.0]).reshape(1, 1, 1, 4)
    ocean = np.array([[True, True, True, False]])
    np.testing.assert_allclose(correlations(attr, true, ocean)[0], [1.0])
    with pytest.raises(ValueError, match="differ in shape"):
        correlations(attr, true[..., :3], ocean)


def test_quartiles_ignore_nan():
    q = quartiles([np.nan, 1.0, 2.0, 3.0, 4.0, 5.0], "r")
    assert q == {"r_median": 3.0, "r_q25": 2.0, "r_q75": 4.0}

