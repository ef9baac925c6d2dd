"""The exact answer an attribution should give, for the synthetic source (docs/data.md).

The anomalies follow a[t+1] = sum_{k=1..K} A_k a[t+1-k] + noise with K <= 36, so the best
prediction of a[t+L] from the last 36 months is linear: its coefficients are the first block
row of the companion matrix C to the power L. For one output cell p that row is e_p^T [I 0 ..] C^L,
computed by iterating the transposed operator L times on a unit vector (sparse, never dense):
for a row r = (r_1 .. r_K), (r C)_k = A_k^T r_1 + r_{k+1}.

The true contribution of input month m at cell q to output cell p is coefficient[p, m, q] *
input[m, q] (zero baseline). Exact when smoothing and the seasonal cycle are off; with the
12-month smoothing it is an approximation (the network sees smoothed months).
"""

from __future__ import annotations

import numpy as np

from climemu.truth.synthetic import LinearModel


def ocean_index(ocean: np.ndarray) -> np.ndarray:
    """(lat, lon) -> index among ocean cells (C order), -1 on land."""
    index = np.full(ocean.shape, -1)
    index[ocean] = np.arange(int(ocean.sum()))
    return index


def coefficients(model: LinearModel, cell: tuple[int, int], lead: int, input_months: int = 36) -> np.ndarray:
    """(input_months, lat, lon) weights of the best linear prediction of ``cell`` at ``lead``.

    Channel 0 is month -36 and channel ``input_months - 1`` month -1, as in the network's input.
    A land cell has no dynamics: its coefficients are zero.
    """
    n_lat, n_lon = model.ocean.shape
    out = np.zeros((input_months, n_lat, n_lon))
    p = ocean_index(model.ocean)[cell]
    if p < 0:
        return out
    # A_k = diag(phi[:, k]) K (+ the teleconnection on one lag), so A_k^T r = K^T (phi[:, k] * r):
    # one sparse product per lead step for every k at once, never K copies of the operator.
    kernel_t = model.kernel.T.tocsr()
    k_max = model.order
    n = kernel_t.shape[0]
    row = np.zeros((k_max, n))                     # (K, n_ocean): block k weights a[t-k]
    row[0, p] = 1.0
    for _ in range(lead):
        head = row[0]
        shifted = np.vstack([row[1:], np.zeros((1, n))])
        row = np.asarray(kernel_t @ (model.phi * head[:, None])).T + shifted     # (K, n)
        if model.gain > 0 and model.source.any():
            # tele^T head: target cells pass gain * mean over the source box back to the source
            row[model.lag - 1, model.source] += model.gain * head[model.target].sum() / model.source.sum()
    for k in range(min(k_max, input_months)):      # block k is month -(k + 1)
        out[input_months - 1 - k][model.ocean] = row[k]
    return out
