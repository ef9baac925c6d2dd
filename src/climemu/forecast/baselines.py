"""Honest reference forecasts, fitted on the training period only, at the emulator's lead.

At lead 1 with 12-month averaging the target shares 11 of its 12 months with the last input
month, so persistence alone is very skilful (docs/data.md): every emulator score is
reported beside these. Each predictor maps inputs ``(B, 36, lat, lon)`` (normalised anomalies,
month -1 last) to a forecast ``(B, lat, lon)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.utils.extmath import randomized_svd

from climemu.models.linear import least_squares_filter


class Climatology:
    """Zero anomaly: the training-period climatology itself."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.zeros_like(x[:, -1])


class Persistence:
    """The last input month (month -1), unchanged."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x[:, -1].copy()


def lag_correlation(series: np.ndarray, lag: int) -> np.ndarray:
    """(lat, lon) correlation of each cell's series (time, lat, lon) with itself ``lag`` months on."""
    a, b = series[:-lag], series[lag:]
    a, b = a - a.mean(0), b - b.mean(0)
    denominator = np.sqrt((a ** 2).mean(0) * (b ** 2).mean(0))
    return np.where(denominator > 0, (a * b).mean(0) / np.where(denominator > 0, denominator, 1), 0.0)


@dataclass
class DampedPersistence:
    """Month -1 times the per-cell lag-``lead`` autocorrelation of the training anomalies."""

    lead: int
    r: np.ndarray | None = None      # (lat, lon)

    def fit(self, train: np.ndarray) -> "DampedPersistence":
        self.r = lag_correlation(train, self.lead)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.r[None] * x[:, -1]


@dataclass
class LinearInverseModel:
    """Penland's LIM in the space of the leading EOFs: G = C(lead) C(0)^-1.

    The EOFs of the training anomalies over ocean cells come from a randomized truncated SVD
    (only ``modes`` singular vectors are needed, so a full SVD of 800 years is avoided).
    """

    lead: int
    modes: int
    ocean: np.ndarray                              # (lat, lon) bool
    seed: int = 0
    eofs: np.ndarray | None = field(default=None, repr=False)   # (n_ocean, modes)
    propagator: np.ndarray | None = field(default=None, repr=False)   # (modes, modes)

    def fit(self, train: np.ndarray) -> "LinearInverseModel":
        X = train[:, self.ocean].astype(np.float64)                     # (T, n_ocean)
        _, _, vt = randomized_svd(X, n_components=self.modes, random_state=self.seed)
        self.eofs = vt.T                                                 # (n_ocean, modes)
        pcs = X @ self.eofs                                              # (T, modes)
        c0 = pcs.T @ pcs / len(pcs)
        c_lead = pcs[self.lead:].T @ pcs[:-self.lead] / (len(pcs) - self.lead)
        self.propagator = c_lead @ np.linalg.inv(c0)
        return self

    def span_share(self, fields: np.ndarray) -> float:
        """The share of the sum of squares of ``fields`` (B, lat, lon) over ocean cells that the
        EOFs can represent: what the LIM can forecast at best. Below the persistence skill's
        share, no propagator in this space beats persistence (docs/results.md, "The LIM")."""
        f = fields[:, self.ocean].astype(np.float64)                     # (B, n_ocean)
        kept = (f @ self.eofs) @ self.eofs.T
        return float((kept ** 2).sum() / (f ** 2).sum())

    def predict(self, x: np.ndarray) -> np.ndarray:
        pcs = x[:, -1][:, self.ocean] @ self.eofs                        # (B, modes)
        out = np.zeros_like(x[:, -1])
        out[:, self.ocean] = (pcs @ self.propagator.T) @ self.eofs.T
        return out


def select_lim(train: np.ndarray, lead: int, ocean: np.ndarray, candidates: list[int],
               val_inputs: np.ndarray, val_targets: np.ndarray, seed: int = 0) -> LinearInverseModel:
    """The LIM whose number of modes gives the lowest validation MSE over ocean cells.

    Fitted on ``train`` only; ``val_inputs`` (B, 36, lat, lon) and ``val_targets`` (B, lat, lon)
    choose the truncation, as the best epoch of the network is chosen on validation.
    """
    best, best_mse = None, np.inf
    for modes in sorted(set(candidates)):
        lim = LinearInverseModel(lead, min(modes, int(ocean.sum())), ocean, seed).fit(train)
        err = float(((lim.predict(val_inputs) - val_targets)[:, ocean] ** 2).mean())
        if err < best_mse:
            best, best_mse = lim, err
    return best


@dataclass
class SharedFilter:
    """The best linear forecast that is the same at every cell: one filter ``(36, k, k)`` over
    the inputs around the cell (``k = 2 radius + 1`` cells), i.e. a one-layer linear
    convolutional network.

    A convolutional emulator applies the same weights everywhere too, so this is the linear
    ceiling of its kind: an emulator far behind it is short of what its architecture can
    represent, not of what the data allow (docs/results.md, "Towards the headline run").
    Fitted by :func:`climemu.models.linear.least_squares_filter` on every window of the training
    period (the network's skip path starts from the same fit, docs/model.md).
    """

    lead: int
    input_months: int
    radius: int
    cells: int
    ocean: np.ndarray                              # (lat, lon) bool
    seed: int = 0
    weights: np.ndarray | None = field(default=None, repr=False)   # (36, k, k)

    def fit(self, train: np.ndarray) -> "SharedFilter":
        months = self.input_months
        first = range(0, len(train) - months - self.lead + 1)          # month -36 of each window
        samples = ((train[f:f + months][None], train[f + months + self.lead - 1][None]) for f in first)
        self.weights = least_squares_filter(samples, self.ocean, self.radius, self.cells, self.seed)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        weight = torch.from_numpy(self.weights[None].astype(np.float32))    # (1, 36, k, k)
        out = torch.nn.functional.conv2d(torch.from_numpy(np.ascontiguousarray(x, np.float32)),
                                         weight, padding=self.radius)[:, 0].numpy()   # (B, lat, lon)
        out[:, ~self.ocean] = 0.0
        return out


def fit_baselines(train: np.ndarray, lead: int, ocean: np.ndarray, lim: LinearInverseModel,
                  shared: SharedFilter) -> dict:
    """Every baseline by name, fitted on ``train`` (time, lat, lon): the training period only."""
    return {
        "climatology": Climatology(),
        "persistence": Persistence(),
        "damped_persistence": DampedPersistence(lead).fit(train),
        "lim": lim,
        "shared_filter": shared.fit(train),
    }
