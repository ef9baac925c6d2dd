"""The part of a map that flows through the network's skip path (``model.skip``, docs/model.md).

The skip path is linear, ``y_skip[i, j] = sum_{m, a, b} w[m, a, b] x[m, i + a - r, j + b - r]``
(a bias-free k x k convolution, r = k // 2), added to the output of Table 1's network. For a
method that is additive over such a path (``Method.linear_split``: DeepLift, Integrated Gradients,
Input x Gradient, all from the zero baseline) the map of output cell (i, j) is Table 1's map plus
``w ⊙ x`` on the k x k cells around (i, j): both parts are exact and sum to the whole map.
"""

from __future__ import annotations

import numpy as np


def skip_part(weight: np.ndarray, x: np.ndarray, cell: tuple[int, int]) -> np.ndarray:
    """The skip path's contributions to output ``cell``: ``weight`` (1, months, k, k), inputs
    ``x`` (B, months, lat, lon) -> (B, months, lat, lon), zero beyond the k x k cells around it."""
    k = weight.shape[-1]
    r = k // 2
    i, j = cell
    out = np.zeros(x.shape, dtype=np.float64)
    for a in range(k):
        for b in range(k):
            ii, jj = i + a - r, j + b - r
            if 0 <= ii < x.shape[2] and 0 <= jj < x.shape[3]:     # zero padding beyond the box
                out[:, :, ii, jj] = weight[0, :, a, b] * x[:, :, ii, jj]
    return out


def skip_share(skip_absolute: float, table1_absolute: float) -> float:
    """The share of the |map| mass through the skip path: sum |skip part| over sum |skip part| +
    sum |Table 1's part| (0 without a path; NaN for a zero map)."""
    total = skip_absolute + table1_absolute
    return float(skip_absolute / total) if total > 0 else float("nan")
