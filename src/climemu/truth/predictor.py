"""The true predictor: the synthetic source's best linear forecast, the ceiling of every skill score."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from climemu.truth.synthetic import LinearModel


@dataclass
class TruthPredictor:
    """The best linear predictor of the synthetic source: the theoretical ceiling.

    The noise-free forward iteration of the known model from the last ``order`` input months,
    ``lead`` steps on: a[t+1] = sum_k A_k a[t+1-k]. This equals applying the exact coefficients
    of :func:`climemu.truth.exact.coefficients` to the inputs (the first block row of the companion
    matrix to the power ``lead``), for every cell at once. It is the best possible forecast when
    smoothing and the seasonal cycle are off; with them on it is an approximation (the smoothed
    series follows the same recursion, but with autocorrelated noise). Inputs are normalised by
    one scale for every cell, so the linear recursion holds in normalised units as well.
    """

    model: "LinearModel"
    lead: int

    def predict(self, x: np.ndarray) -> np.ndarray:
        operators = self.model.lag_operators()                           # A_1..A_K, (n, n) sparse
        k_max = len(operators)
        if x.shape[1] < k_max:
            raise ValueError(f"the truth predictor needs the last {k_max} months; inputs hold "
                             f"{x.shape[1]}")
        ocean = self.model.ocean
        history = [x[:, -k][:, ocean].astype(np.float64).T for k in range(k_max, 0, -1)]   # (n, B) each, oldest first
        for _ in range(self.lead):
            history.append(sum(op @ history[-1 - k] for k, op in enumerate(operators)))
            history.pop(0)
        out = np.zeros_like(x[:, -1])
        out[:, ocean] = history[-1].T
        return out
