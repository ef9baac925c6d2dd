"""A synthetic North Atlantic with planted, known structure (docs/data.md).

SST in degC = mean state + seasonal cycle + anomalies ``a`` from a finite-memory linear
stochastic model on the ocean cells:

    a[t+1] = sum_{k=1..K} phi_k(p) K a[t+1-k]                     (local memory, re-emergence)
             + gain * 1_target * mean_{source}(a[t+1-lag])        (the planted teleconnection)
             + noise[t+1]                                         (part white, part smooth)

``K`` mixes the cell itself (weight ``kernel_self``) with the average over its ocean neighbours
within a radius (rows sum to one). ``phi_k(p)``, the radius and the re-emergence weight come
from the region the cell lies in (``data.synthetic.regions``), or the base values: each
region is a planted counterpart of one of the paper's findings (docs/data.md). Because the
model is linear with finite order K <= 36, the best prediction of a[t+L] from the last 36
months is linear and known exactly: the ground truth that attribution methods are scored
against. :class:`LinearModel` holds the operators; :func:`LinearModel.from_dataset`
rebuilds them from the attributes the generator writes into its netCDF file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
import xarray as xr
from scipy.ndimage import gaussian_filter

from climemu.core.config import Box

from climemu.truth.config import Memory, SyntheticConfig
from climemu.core.layout import fetch_dataset
from climemu.core.grid import box_mask, cell_centres, ocean_mask
from climemu.core.progress import progress


def generator_config(ds: xr.Dataset) -> SyntheticConfig | None:
    """The generator's parameters recorded in a fetched file; None for real (non-synthetic) data."""
    raw = ds.attrs.get("generator_config")
    return SyntheticConfig.model_validate(json.loads(raw)) if raw else None


def lag_weights(memory: Memory, memory_months: int, reemergence_lags: list[int],
                order: int) -> np.ndarray:
    """(order,) phi_1..phi_K of one memory: the local lags proportional to decay**(k-1), summing to
    ``persistence``, plus the re-emergence weight spread evenly over ``reemergence_lags``."""
    w = memory.decay ** np.arange(memory_months)
    phi = np.zeros(order)
    phi[:memory_months] = memory.persistence * w / w.sum()
    if memory.reemergence > 0:
        for lag in reemergence_lags:
            phi[lag - 1] += memory.reemergence / len(reemergence_lags)
    return phi


def neighbour_kernel(ocean: np.ndarray, radius: int) -> sp.csr_matrix:
    """Row-stochastic averaging over ocean neighbours within ``radius`` cells (Euclidean).

    Rows and columns index the ocean cells in C order of the (lat, lon) grid.
    """
    n_lat, n_lon = ocean.shape
    index = np.full(ocean.shape, -1)
    index[ocean] = np.arange(ocean.sum())
    rows, cols = [], []
    # offsets beyond the grid pair no cells (and would turn the slices below negative)
    reach_i, reach_j = min(radius, n_lat - 1), min(radius, n_lon - 1)
    for di in range(-reach_i, reach_i + 1):
        for dj in range(-reach_j, reach_j + 1):
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


def local_kernel(ocean: np.ndarray, radius: np.ndarray, self_weight: np.ndarray) -> sp.csr_matrix:
    """K = diag(s) + diag(1 - s) K_r, row p averaging within ``radius[p]`` cells, s = ``self_weight``.

    ``radius``, ``self_weight``: (n_ocean,) cells and weights in [0, 1). The cell's own weight keeps the inputs identifiable: without
    it, K_r and the smooth noise leave no variance at the cell scale (docs/data.md).
    """
    n = int(ocean.sum())
    kernel = sp.csr_matrix((n, n))
    for r in np.unique(radius):
        rows = sp.diags((radius == r).astype(float))
        kernel = kernel + rows @ neighbour_kernel(ocean, int(r))
    if np.any(self_weight > 0):
        kernel = sp.diags(1.0 - self_weight) @ kernel + sp.diags(self_weight)
    return kernel.tocsr()


def region_index(cfg: SyntheticConfig, lat: np.ndarray, lon: np.ndarray, ocean: np.ndarray) -> np.ndarray:
    """(n_ocean,) int: 0 for the base memory, k for the k-th region of ``cfg.regions`` (1-based)."""
    index = np.zeros(int(ocean.sum()), dtype=int)
    for k, region in enumerate(cfg.regions, start=1):
        index[box_mask(lat, lon, region.box).values[ocean]] = k
    return index


@dataclass(frozen=True)
class LinearModel:
    """The anomaly model's operators on the ocean cells (n = number of ocean cells).

    A_k = diag(phi[:, k-1]) @ kernel, plus the teleconnection on lag ``lag``.
    """

    ocean: np.ndarray          # (lat, lon) bool
    phi: np.ndarray            # (n, K) weight of lag k = 1..K at each cell; (K,): the same everywhere
    kernel: sp.csr_matrix      # (n, n) row-stochastic local operator K
    source: np.ndarray         # (n,) bool, ocean cells in the source box
    target: np.ndarray         # (n,) bool, ocean cells in the target box
    gain: float
    lag: int

    def __post_init__(self):
        phi = np.asarray(self.phi, dtype=float)
        if phi.ndim == 1:
            phi = np.broadcast_to(phi, (self.kernel.shape[0], len(phi)))
        object.__setattr__(self, "phi", phi)

    @classmethod
    def build(cls, cfg: SyntheticConfig, lat: np.ndarray, lon: np.ndarray,
              ocean: np.ndarray) -> "LinearModel":
        source = box_mask(lat, lon, cfg.source_box).values[ocean]
        target = box_mask(lat, lon, cfg.target_box).values[ocean]
        if cfg.tele_gain > 0 and (not source.any() or not target.any()):
            raise ValueError("data.synthetic.source_box and target_box must each hold an ocean "
                             f"cell (found {source.sum()} and {target.sum()})")
        region = region_index(cfg, lat, lon, ocean)                        # (n,)
        memories = cfg.memories()
        phis = np.stack([lag_weights(m, cfg.memory_months, cfg.reemergence_lags, cfg.order)
                         for m in memories])                               # (regions + 1, K)
        radius = np.array([m.kernel_radius for m in memories])[region]     # (n,)
        own = np.array([m.kernel_self for m in memories])[region]          # (n,)
        return cls(ocean=ocean, phi=phis[region], kernel=local_kernel(ocean, radius, own),
                   source=source, target=target, gain=cfg.tele_gain, lag=cfg.tele_lag)

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> "LinearModel":
        """Rebuild the operators from a synthetic file's attributes and ocean mask."""
        return cls.build(generator_config(ds), ds["lat"].values, ds["lon"].values,
                         ds["ocean"].values.astype(bool))

    @property
    def order(self) -> int:
        return self.phi.shape[1]

    def lag_operators(self) -> list[sp.csr_matrix]:
        """A_1..A_K with a[t+1] = sum_k A_k a[t+1-k] + noise: what the ground truth needs."""
        n = self.kernel.shape[0]
        ops = [(sp.diags(self.phi[:, k]) @ self.kernel).tocsr() for k in range(self.order)]
        if self.gain > 0 and self.source.any():
            rows = np.repeat(np.flatnonzero(self.target), self.source.sum())
            cols = np.tile(np.flatnonzero(self.source), self.target.sum())
            tele = sp.csr_matrix((np.full(len(rows), 1.0 / self.source.sum()), (rows, cols)),
                                 shape=(n, n))
            ops[self.lag - 1] = (ops[self.lag - 1] + self.gain * tele).tocsr()
        assert all(op.shape == (n, n) for op in ops)
        return ops

    @cached_property
    def _groups(self) -> list[tuple[np.ndarray, np.ndarray, sp.csr_matrix]]:
        """Cells sharing one phi row: (cells, phi (K,), kernel rows of those cells)."""
        distinct, group = np.unique(self.phi, axis=0, return_inverse=True)
        out = []
        for g, phi in enumerate(distinct):
            cells = np.flatnonzero(group.ravel() == g)
            out.append((cells, phi, self.kernel[cells]))
        return out

    def step(self, history: np.ndarray) -> np.ndarray:
        """The deterministic part of a[t+1] from history (K, n), most recent month last."""
        # K is linear, so within a group of cells sharing phi apply it once to the phi-weighted
        # sum of the past K months.
        local = np.empty(history.shape[1])
        for cells, phi, kernel in self._groups:
            local[cells] = kernel @ (phi[::-1] @ history)
        if self.gain == 0 or not self.source.any():
            return local
        remote = self.gain * history[-self.lag, self.source].mean()
        return local + remote * self.target


def correlated_noise(rng: np.random.Generator, n_months: int, ocean: np.ndarray,
                     std: float, length: float, white: float = 0.0, chunk: int = 600) -> np.ndarray:
    """(time, n_ocean) Gaussian noise, white in time, std ``std``.

    A share ``white`` of the variance is white in space too (the nugget that makes the inputs
    identifiable at the cell scale), the rest Gaussian-correlated with sigma ``length`` cells.
    """
    # The variance of Gaussian-filtered unit white noise is the sum of the squared filter
    # weights: filter a unit impulse once to get it exactly.
    impulse = np.zeros((8 * int(length) + 9,) * 2)
    impulse[impulse.shape[0] // 2, impulse.shape[1] // 2] = 1.0
    gain = np.sqrt((gaussian_filter(impulse, length, mode="constant") ** 2).sum())
    out = np.empty((n_months, int(ocean.sum())), dtype=np.float64)
    smooth_std, white_std = std * np.sqrt(1.0 - white), std * np.sqrt(white)
    for start in range(0, n_months, chunk):
        size = min(chunk, n_months - start)
        white_field = rng.standard_normal((size,) + ocean.shape)
        field = gaussian_filter(white_field, sigma=(0, length, length), mode="nearest")
        out[start:start + size] = field[:, ocean] * (smooth_std / gain)
        if white > 0:
            out[start:start + size] += white_std * rng.standard_normal((size, int(ocean.sum())))
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
                             syn.noise_length, syn.noise_white)
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
