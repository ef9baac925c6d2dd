"""A synthetic North Atlantic with planted, known structure (docs/data.md).

SST in degC = mean state + seasonal cycle + anomalies ``a`` from a finite-memory linear
stochastic model on the ocean cells:

    a[t+1] = sum_{k=1..K} phi_k K_r a[t+1-k]                      (local, decaying memory)
             + gain * 1_target * mean_{source}(a[t+1-lag])        (the planted teleconnection)
             + noise[t+1]                                         (spatially correlated)

``K_r`` averages over the ocean neighbours within ``kernel_radius`` cells (rows sum to one).
Because the model is linear with finite order K <= 36, the best prediction of a[t+L] from the
last 36 months is linear and known exactly: the ground truth that attribution methods are
scored against. :class:`LinearModel` holds the operators; :func:`LinearModel.from_dataset`
rebuilds them from the attributes the generator writes into its netCDF file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import xarray as xr
from scipy.ndimage import gaussian_filter

from climemu.core.config import Box

from climemu.truth.config import SyntheticConfig
from climemu.core.layout import fetch_dataset
from climemu.core.grid import box_mask, cell_centres, ocean_mask
from climemu.core.progress import progress


def generator_config(ds: xr.Dataset) -> SyntheticConfig | None:
    """The generator's parameters recorded in a fetched file; None for real (non-synthetic) data."""
    raw = ds.attrs.get("generator_config")
    return SyntheticConfig.model_validate(json.loads(raw)) if raw else None


def lag_weights(cfg: SyntheticConfig) -> np.ndarray:
    """phi_1..phi_K: proportional to decay**(k-1), summing to ``persistence``."""
    w = cfg.decay ** np.arange(cfg.memory_months)
    return cfg.persistence * w / w.sum()


def neighbour_kernel(ocean: np.ndarray, radius: int) -> sp.csr_matrix:
    """Row-stochastic averaging over ocean neighbours within ``radius`` cells (Euclidean).

    Rows and columns index the ocean cells in C order of the (lat, lon) grid.
    """
    n_lat, n_lon = ocean.shape
    index = np.full(ocean.shape, -1)
    index[ocean] = np.arange(ocean.sum())
    rows, cols = [], []
    for di in range(-radius, radius + 1):
        for dj in range(-radius, radius + 1):
            if di * di + dj * dj > radius * radius:
                continue
            # pairs (i, j) -> (i + di, j + dj) with both ends ocean and inside the grid
            src = index[max(0, -di):n_lat - max(0, di), max(0, -dj):n_lon - max(0, dj)]
            dst = index[max(0, di):n_lat + min(0, di), max(0, dj):n_lon + min(0, dj)]
            ok = (src >= 0) & (dst >= 0)
            rows.append(src[ok])
            cols.append(dst[ok])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    n = int(ocean.sum())
    counts = np.bincount(rows, minlength=n)
    return sp.csr_matrix((1.0 / counts[rows], (rows, cols)), shape=(n, n))


@dataclass(frozen=True)
class LinearModel:
    """The anomaly model's operators on the ocean cells (n = number of ocean cells)."""

    ocean: np.ndarray          # (lat, lon) bool
    phi: np.ndarray            # (K,) weight of lag k = 1..K
    kernel: sp.csr_matrix      # (n, n) row-stochastic local averaging K_r
    source: np.ndarray         # (n,) bool, ocean cells in the source box
    target: np.ndarray         # (n,) bool, ocean cells in the target box
    gain: float
    lag: int

    @classmethod
    def build(cls, cfg: SyntheticConfig, lat: np.ndarray, lon: np.ndarray,
              ocean: np.ndarray) -> "LinearModel":
        source = box_mask(lat, lon, cfg.source_box).values[ocean]
        target = box_mask(lat, lon, cfg.target_box).values[ocean]
        if not source.any() or not target.any():
            raise ValueError("data.synthetic.source_box and target_box must each hold an ocean "
                             f"cell (found {source.sum()} and {target.sum()})")
        return cls(ocean=ocean, phi=lag_weights(cfg), kernel=neighbour_kernel(ocean, cfg.kernel_radius),
                   source=source, target=target, gain=cfg.tele_gain, lag=cfg.tele_lag)

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> "LinearModel":
        """Rebuild the operators from a synthetic file's attributes and ocean mask."""
        return cls.build(generator_config(ds), ds["lat"].values, ds["lon"].values,
                         ds["ocean"].values.astype(bool))

    @property
    def order(self) -> int:
        return len(self.phi)

    def lag_operators(self) -> list[sp.csr_matrix]:
        """A_1..A_K with a[t+1] = sum_k A_k a[t+1-k] + noise: what the ground truth needs."""
        n = self.kernel.shape[0]
        rows = np.repeat(np.flatnonzero(self.target), self.source.sum())
        cols = np.tile(np.flatnonzero(self.source), self.target.sum())
        tele = sp.csr_matrix((np.full(len(rows), 1.0 / self.source.sum()), (rows, cols)),
                             shape=(n, n))
        ops = [self.phi[k] * self.kernel for k in range(self.order)]
        ops[self.lag - 1] = (ops[self.lag - 1] + self.gain * tele).tocsr()
        assert all(op.shape == (n, n) for op in ops)
        return ops

    def step(self, history: np.ndarray) -> np.ndarray:
        """The deterministic part of a[t+1] from history (K, n), most recent month last."""
        # K_r is linear, so apply it once to the phi-weighted sum of the past K months.
        local = self.kernel @ (self.phi[::-1] @ history)
        remote = self.gain * history[-self.lag, self.source].mean()
        return local + remote * self.target


def correlated_noise(rng: np.random.Generator, n_months: int, ocean: np.ndarray,
                     std: float, length: float, chunk: int = 600) -> np.ndarray:
    """(time, n_ocean) Gaussian noise, white in time, Gaussian-correlated in space, std ``std``."""
    # The variance of Gaussian-filtered unit white noise is the sum of the squared filter
    # weights: filter a unit impulse once to get it exactly.
    impulse = np.zeros((8 * int(length) + 9,) * 2)
    impulse[impulse.shape[0] // 2, impulse.shape[1] // 2] = 1.0
    gain = np.sqrt((gaussian_filter(impulse, length, mode="constant") ** 2).sum())
    out = np.empty((n_months, int(ocean.sum())), dtype=np.float64)
    for start in range(0, n_months, chunk):
        white = rng.standard_normal((min(chunk, n_months - start),) + ocean.shape)
        field = gaussian_filter(white, sigma=(0, length, length), mode="nearest")
        out[start:start + len(field)] = field[:, ocean] * (std / gain)
    return out


def mean_state(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(lat, lon) annual-mean SST in degC: warm tropics, near-freezing Arctic, a Gulf Stream."""
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    meridional = -1.8 + 30.0 * np.clip(1.0 - ((la - 5.0) / 78.0) ** 2, 0.0, 1.0)
    gulf_stream = 3.0 * np.exp(-(((la - 40.0) / 8.0) ** 2) - ((lo + 62.0) / 18.0) ** 2)
    return meridional + gulf_stream


def seasonal_cycle(lat: np.ndarray, lon: np.ndarray, month: np.ndarray) -> np.ndarray:
    """(time, lat, lon) seasonal anomaly in degC, largest in mid latitudes, peaking in August."""
    amplitude = 0.5 + 4.0 * np.sin(np.pi * np.clip((lat - 10.0) / 70.0, 0.0, 1.0))   # (lat,)
    phase = np.cos(2 * np.pi * (month - 7.5) / 12.0)                                # (time,)
    return phase[:, None, None] * amplitude[None, :, None] * np.ones(len(lon))[None, None, :]


def simulate_anomalies(model: LinearModel, noise: np.ndarray, spinup: int) -> np.ndarray:
    """Run the model forward; returns (time, n_ocean) anomalies after dropping ``spinup`` months."""
    n_months, n = noise.shape
    out = np.zeros((n_months, n))
    k = model.order
    for t in progress(range(n_months), desc="synthetic", unit="month"):
        history = out[max(0, t - k):t]
        if len(history) < k:   # zeros before the start; spin-up washes them out
            history = np.vstack([np.zeros((k - len(history), n)), history])
        out[t] = model.step(history) + noise[t]
    return out[spinup:]


def generate(syn: SyntheticConfig, box: Box, resolution: float, years: list[int]) -> xr.Dataset:
    """The synthetic source: same box, grid and CF layout as the real data after regridding.

    ``years``: [first, last] model years, inclusive (``data.years``).
    """
    lat, lon = cell_centres(box, resolution)
    ocean = ocean_mask(lat, lon).values
    model = LinearModel.build(syn, lat, lon, ocean)
    rng = np.random.default_rng(syn.seed)
    n_months = 12 * (years[1] - years[0] + 1)
    noise = correlated_noise(rng, n_months + syn.spinup_months, ocean, syn.noise_std,
                             syn.noise_length)
    anomalies = simulate_anomalies(model, noise, syn.spinup_months)      # (time, n_ocean)
    del noise

    tos = np.full((n_months,) + ocean.shape, np.nan, dtype=np.float32)  # (time, lat, lon)
    base = mean_state(lat, lon)
    month = np.arange(n_months) % 12
    for start in range(0, n_months, 1200):   # bounded temporaries
        sl = slice(start, start + 1200)
        field = np.broadcast_to(base, (len(month[sl]),) + ocean.shape).copy()
        if syn.seasonal_cycle:
            field += seasonal_cycle(lat, lon, month[sl])
        field[:, ocean] += anomalies[sl]
        field[:, ~ocean] = np.nan
        tos[sl] = field
    return to_dataset(tos, lat, lon, ocean, syn, box, resolution, years[0])


def to_dataset(tos, lat, lon, ocean, syn: SyntheticConfig, box: Box, resolution: float,
               first_year: int) -> xr.Dataset:
    return fetch_dataset(tos, lat, lon, ocean, first_year, ocean_note="GSHHG coastline", attrs={
        "title": "Synthetic North Atlantic SST with planted, known structure",
        "source": "climemu synthetic generator (linear stochastic model, see generator_config)",
        "source_id": "synthetic",
        "generator_config": json.dumps(syn.model_dump(), sort_keys=True),
        "generator_seed": syn.seed,
        "box": json.dumps(box.model_dump(), sort_keys=True),
        "resolution_deg": resolution,
    })
