"""Group explanation: mean heatmaps of one output cell over many samples (paper Sec. 4.2).

The paper collects the heatmaps of every training input for one cell, splits each into its
positive and negative part, and averages the parts separately; the monthly contribution curves
(positive, negative, "all") are then taken from these means. Storing every heatmap would cost
B x 36 x H x W values per cell (1,280 x 36 x 70 x 125 floats is 1.6 GB), so we keep running
sums instead (docs/performance.md, Captum): memory is three maps whatever the
number of samples. Sums are float64 so that adding thousands of float32 maps loses nothing.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
import xarray as xr
from torch import nn

from climemu.attribution.heatmaps import LAT, LON, MONTH, month_labels, to_numpy
from climemu.attribution.methods import attribute
from climemu.core.distributed import all_reduce_sum


class GroupSums:
    """Running sums of the positive part, negative part and |.| of heatmaps, and their count.

    Allocated on the first :meth:`update`; every later batch must have the same
    ``(months, lat, lon)``. ``lat``/``lon`` only label the result of :meth:`mean`.
    """

    def __init__(self, lat=None, lon=None):
        self.lat, self.lon = lat, lon
        self.positive = self.negative = self.absolute = None   # (36, H, W) float64 each
        self.count = 0

    def _allocate(self, shape: tuple[int, ...]) -> None:
        if self.positive is None:
            self.positive, self.negative, self.absolute = (np.zeros(shape) for _ in range(3))
        elif tuple(shape) != self.positive.shape:
            raise ValueError(f"heatmaps of shape {tuple(shape)} do not match the running sums' "
                             f"{self.positive.shape}")

    def update(self, attr_batch) -> "GroupSums":
        """Add a batch of heatmaps ``(B, 36, H, W)`` (torch or numpy)."""
        a = to_numpy(attr_batch)                               # (B, 36, H, W) float64
        if a.ndim != 4:
            raise ValueError(f"a batch of heatmaps must be (B, months, lat, lon); got {a.shape}")
        self._allocate(a.shape[1:])
        self.positive += np.clip(a, 0.0, None).sum(axis=0)      # (36, H, W)
        self.negative += np.clip(a, None, 0.0).sum(axis=0)      # kept <= 0, as the paper's maps
        self.absolute += np.abs(a).sum(axis=0)
        self.count += a.shape[0]
        return self

    def merge(self, other: "GroupSums") -> "GroupSums":
        """Add another accumulator's sums (e.g. from a worker that explained other samples)."""
        if other.count:
            self._allocate(other.positive.shape)
            self.positive += other.positive
            self.negative += other.negative
            self.absolute += other.absolute
            self.count += other.count
        return self

    def all_reduce(self, shape: tuple[int, ...]) -> "GroupSums":
        """Sum these running sums over every torchrun process (identity with one process).

        ``shape`` ``(36, H, W)`` allocates the sums of a process that received no samples.
        """
        self._allocate(tuple(shape))
        self.positive, self.negative, self.absolute = (
            all_reduce_sum(a) for a in (self.positive, self.negative, self.absolute))
        self.count = int(all_reduce_sum(np.array([self.count]))[0])
        return self

    def mean(self) -> xr.Dataset:
        """Mean maps ``positive`` (>= 0), ``negative`` (<= 0), ``absolute``: (month, lat, lon).

        ``absolute`` equals ``positive - negative``; it is accumulated separately as a check.
        """
        if self.count == 0:
            raise ValueError("no heatmaps were added; the mean of zero samples is undefined")
        coords = {MONTH: month_labels(self.positive.shape[0])}
        if self.lat is not None:
            coords[LAT] = np.asarray(self.lat)
        if self.lon is not None:
            coords[LON] = np.asarray(self.lon)
        dims = (MONTH, LAT, LON)
        return xr.Dataset(
            {name: (dims, getattr(self, name) / self.count)
             for name in ("positive", "negative", "absolute")},
            coords=coords, attrs={"n_samples": self.count})


def _batches(samples, batch_size: int) -> Iterable[torch.Tensor]:
    """Batches ``(b, 36, H, W)`` from an array ``(N, 36, H, W)`` or an iterable of batches.

    An iterable may yield tensors/arrays or tuples whose first element is the input (a
    DataLoader over (input, target) pairs).
    """
    if isinstance(samples, (torch.Tensor, np.ndarray, xr.DataArray)):
        values = samples.values if isinstance(samples, xr.DataArray) else samples
        for start in range(0, values.shape[0], batch_size):
            yield torch.as_tensor(values[start:start + batch_size], dtype=torch.float32)
        return
    for batch in samples:
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        yield torch.as_tensor(batch, dtype=torch.float32)


def group_explanation(model: nn.Module, method: str, samples, cell: tuple[int, int], *,
                      batch_size: int = 16, lat=None, lon=None, **attribute_kwargs) -> GroupSums:
    """Explain ``cell`` for every sample, batch by batch, keeping only the running sums.

    ``samples``: ``(N, 36, H, W)`` tensor/array, or an iterable of batches. Extra keyword
    arguments go to :func:`~.methods.attribute` (``baselines``, ``n_steps``, ...).
    Call ``.mean()`` on the result for the mean maps.
    """
    if attribute_kwargs.get("return_delta"):
        raise ValueError("group_explanation keeps only heatmap sums; check completeness with "
                         "attribute(..., return_delta=True) on a few samples")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    sums = GroupSums(lat=lat, lon=lon)
    for batch in _batches(samples, batch_size):
        sums.update(attribute(model, method, batch, cell, **attribute_kwargs))
    return sums
