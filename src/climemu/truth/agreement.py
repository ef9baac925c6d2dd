"""How far a heatmap agrees with the exact contributions (docs/measures.md).

The synthetic source knows the answer (:mod:`climemu.truth.exact`): the true contribution of input
month m at cell q is ``coefficient[m, q] * x[m, q]``. Following Mamalakis et al. (2022), each
heatmap is scored by its per-sample Pearson and Spearman correlation with that answer.

Two populations are scored. Over every ocean input, most true contributions are exactly zero
(at lead 1 the best predictor uses about 0.1% of the 36 x n_ocean inputs): Spearman then ranks
a mass of ties, and any method whose values are nowhere zero scores near 0 whatever it gets
right. Over the truth's *support* (inputs with a non-zero coefficient) both correlations ask
the sharper question: where the answer is known to be non-zero, are the values right?

Units: the network sees x_n = (a - climatology) / s with one scale s for every cell
(:func:`~climemu.data.window.fit_normalisation`), and predicts y_n = y / s. A truth coefficient
c in anomaly units is c * s / s = c in normalised units, so coefficient * x_n is the true
contribution in the network's own units; the climatology offset adds c * (true mean -
climatology) / s, zero up to the training period's sampling error. Correlations are in any case
unchanged by a common scale.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata



def pearson_rows(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``u`` with the same row of ``v``: (B, N) -> (B,).

    NaN for a row that is constant in either array (no correlation is defined).
    """
    u = np.asarray(u, dtype=np.float64)              # float32 sums over ~10^5 inputs lose digits
    v = np.asarray(v, dtype=np.float64)
    u = u - u.mean(1, keepdims=True)
    v = v - v.mean(1, keepdims=True)
    norm = np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (u * v).sum(1) / np.where(norm > 0, norm, 1.0), np.nan)


def spearman_rows(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Spearman rank correlation per row (ties get their average rank): (B, N) -> (B,)."""
    return pearson_rows(rankdata(u, axis=1), rankdata(v, axis=1))


def correlations(attr: np.ndarray, true: np.ndarray, ocean: np.ndarray,
                 support: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample Pearson and Spearman correlation of heatmaps with the truth, ``(B,)`` each.

    ``attr``, ``true``: ``(B, 36, H, W)``; ``ocean``: ``(H, W)`` bool. ``support``: optional
    ``(36, H, W)`` bool, restricting the scored inputs further (e.g. the truth's support).
    """
    if attr.shape != true.shape:
        raise ValueError(f"attributions {attr.shape} and truth {true.shape} differ in shape")
    keep = np.broadcast_to(ocean, attr.shape[1:])
    if support is not None:
        keep = keep & support
    if not keep.any():
        raise ValueError("no input is left to score (empty ocean or support)")
    a = attr[:, keep]                                                   # (B, n_kept)
    t = true[:, keep]
    return pearson_rows(a, t), spearman_rows(a, t)


def quartiles(values, name: str) -> dict:
    """``{name}_median``, ``{name}_q25``, ``{name}_q75`` of a sample, ignoring NaN."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {f"{name}_median": float("nan"), f"{name}_q25": float("nan"), f"{name}_q75": float("nan")}
    q25, median, q75 = np.quantile(v, [0.25, 0.5, 0.75])
    return {f"{name}_median": float(median), f"{name}_q25": float(q25), f"{name}_q75": float(q75)}

