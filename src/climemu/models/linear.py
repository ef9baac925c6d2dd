"""The best filter shared by every cell: one ``(months, k, k)`` linear convolution, fitted by least
squares. One home for two uses: the ``shared_filter`` baseline (forecast/baselines.py) and the
initial weights of the network's skip path (``train.skip_init: least_squares``, docs/model.md).

Ridge with a penalty of 1e-6 of the mean eigenvalue of X^T X, only against a singular X^T X, on
the normal equations over ``cells`` random ocean cells of every sample (all cells would cost
hours: 5,226 cells x 1,024 windows x 324 features).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def least_squares_filter(samples: Iterable[tuple[np.ndarray, np.ndarray]], ocean: np.ndarray,
                         radius: int, cells: int, seed: int = 0) -> np.ndarray:
    """Weights ``(months, k, k)``, ``k = 2 radius + 1``, of the filter whose correlation with the
    inputs (as ``torch.nn.functional.conv2d`` with ``padding=radius``) best predicts the targets.

    ``samples``: batches of inputs ``(B, months, lat, lon)`` and targets ``(B, lat, lon)``; zeros
    beyond the box, as the convolution pads. ``cells`` ocean cells are drawn anew for every sample.
    """
    ii, jj = np.nonzero(ocean)
    rng = np.random.default_rng(seed)
    k = 2 * radius + 1
    xtx = xty = None
    for x, y in samples:
        months = x.shape[1]
        if xtx is None:
            xtx, xty = np.zeros((months * k * k,) * 2), np.zeros(months * k * k)
        padded = np.pad(x, ((0, 0), (0, 0), (radius, radius), (radius, radius)))
        patches = sliding_window_view(padded, (k, k), axis=(2, 3))      # (B, months, lat, lon, k, k)
        for b in range(len(x)):
            pick = rng.choice(ii.size, min(cells, ii.size), replace=False)
            a = patches[b][:, ii[pick], jj[pick]]                          # (months, n, k, k)
            a = a.transpose(1, 0, 2, 3).reshape(pick.size, -1).astype(np.float64)
            xtx += a.T @ a
            xty += a.T @ y[b, ii[pick], jj[pick]].astype(np.float64)
    if xtx is None:
        raise ValueError("no samples to fit the shared filter on")
    features = xtx.shape[0]
    penalty = 1e-6 * np.trace(xtx) / features
    return np.linalg.solve(xtx + penalty * np.eye(features), xty).reshape(-1, k, k)
