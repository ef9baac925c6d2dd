"""Group explanation: mean heatmaps of one output cell over many samples (paper Sec. 4.2).

The paper collects the heatmaps of every training input for one cell, splits each into its
positive and negative part, and averages the parts separately; the monthly contribution curves
(positive, negative, "all") are then taken from these means. Storing every heatmap would cost
B x 36 x H x W values per cell (1,280 x 36 x 70 x 125 floats is 1.6 GB), so we keep running
sums instead (docs/performance.md, Captum): memory is three maps whatever the
number of samples. Sums are float64 so that adding thousands of float32 maps loses nothing.

:class:`VariantSums`, kept beside :class:`GroupSums`, accumulates what the identifiable variants
of the measures need (docs/measures.md, "Identifiable variants"): the mean signed curve, the
mean |block sum| map, the small-scale share, and each sample's signed radii (a few floats per
sample, kept because their group value is a median). It is the one accumulator of those pieces:
the explain, band and score stages all feed it, so the three measure the same thing the same way.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from climemu.attribution.heatmaps import LAT, LON, MONTH, SAMPLE, as_heatmaps, month_labels, to_numpy
from climemu.attribution.measures import (block_sum, signed_box_sums, signed_curve, signed_radius,
                                          small_scale_share)
from climemu.core.config import Box
from climemu.core.distributed import all_reduce_sum, gather


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


class VariantSums:
    """Running sums for the identifiable variants of the map measures, of one output cell.

    Per batch of heatmaps ``(B, 36, H, W)``: the sum over samples of the signed curve
    ``|sum over cells|`` (36,), of ``|block_sum|`` (36, H // block, W // block), of the
    small-scale share and, given ``source_box``, of the two signed box sums; and each sample's
    signed radius holding 50% and 90% (km), in the order the samples came. ``sigma=None`` skips
    the small-scale share (its Gaussian filter is the costliest piece, and the score stage does
    not report it). :meth:`all_reduce` adds the sums over torchrun processes and gathers the
    per-sample radii in rank order (sample order under :func:`~climemu.core.distributed.shard`).
    Allocated at once, so a process that received no samples contributes zeros.
    """

    def __init__(self, lat, lon, cell: tuple[int, int], block: int, sigma: float | None,
                 months: int = 36, source_box: Box | None = None):
        self.lat, self.lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
        self.cell, self.block, self.source_box = tuple(cell), int(block), source_box
        self.sigma = None if sigma is None else float(sigma)
        shape = (months, self.lat.size, self.lon.size)
        self.months = months
        empty = block_sum(as_heatmaps(np.zeros(shape), self.lat, self.lon), self.block)
        self.block_lat, self.block_lon = empty[LAT].values, empty[LON].values
        self.curve = np.zeros(months)                                       # (36,)
        self.block_absolute = np.zeros(empty.shape)                         # (36, H // b, W // b)
        self.small_scale = np.zeros(2)                                      # sum, samples with a share
        self.box = np.zeros(2)                                              # |inside|, |outside|
        self.radius50: list[float] = []
        self.radius90: list[float] = []
        self.count = 0

    def update(self, attr_batch) -> "VariantSums":
        """Add a batch of heatmaps ``(B, 36, H, W)`` (torch or numpy)."""
        values = to_numpy(attr_batch)                                       # (B, 36, H, W) float64
        if values.ndim != 4 or values.shape[1:] != (self.months, self.lat.size, self.lon.size):
            raise ValueError(f"heatmaps of shape {values.shape} do not match "
                             f"(B, {self.months}, {self.lat.size}, {self.lon.size})")
        a = as_heatmaps(values, self.lat, self.lon)
        self.curve += signed_curve(a).sum(SAMPLE).values
        self.block_absolute += np.abs(block_sum(a, self.block)).sum(SAMPLE).values
        if self.sigma is not None:
            share = small_scale_share(a, self.sigma).values                # (B,), NaN for a zero map
            self.small_scale += [np.nansum(share), np.isfinite(share).sum()]
        if self.source_box is not None:
            inside, outside = signed_box_sums(a, self.source_box)
            self.box += [float(inside.sum()), float(outside.sum())]
        for fraction, out in ((0.5, self.radius50), (0.9, self.radius90)):
            out.extend(signed_radius(a, self.lat, self.lon, self.cell, fraction).values.tolist())
        self.count += a.shape[0]
        return self

    def all_reduce(self) -> "VariantSums":
        """Sum over every torchrun process; per-sample radii gathered (identity with one process)."""
        self.curve, self.block_absolute, self.small_scale, self.box = (
            all_reduce_sum(v) for v in (self.curve, self.block_absolute, self.small_scale, self.box))
        self.radius50, self.radius90 = gather(self.radius50), gather(self.radius90)
        self.count = int(all_reduce_sum(np.array([self.count]))[0])
        return self

    def mean(self) -> xr.Dataset:
        """``signed_curve`` (month), ``block_absolute`` (month, block_lat, block_lon),
        ``signed_radius50_km`` / ``signed_radius90_km`` (sample), ``small_scale_share`` (over the
        samples whose map is not all zero; only with a ``sigma``) and, with a source box,
        ``signed_box_inside`` / ``signed_box_outside`` (means over samples)."""
        if self.count == 0:
            raise ValueError("no heatmaps were added; the mean of zero samples is undefined")
        n = self.count
        ds = xr.Dataset(
            {"signed_curve": (MONTH, self.curve / n),
             "block_absolute": ((MONTH, "block_lat", "block_lon"), self.block_absolute / n),
             "signed_radius50_km": (SAMPLE, np.asarray(self.radius50, dtype=float)),
             "signed_radius90_km": (SAMPLE, np.asarray(self.radius90, dtype=float))},
            coords={MONTH: month_labels(self.months), "block_lat": self.block_lat,
                    "block_lon": self.block_lon},
            attrs={"n_samples": n, "block_cells": self.block})
        if self.sigma is not None:
            ds["small_scale_share"] = ((), float(self.small_scale[0] / self.small_scale[1])
                                       if self.small_scale[1] else float("nan"))
            ds.attrs["small_scale_sigma"] = self.sigma
        if self.source_box is not None:
            ds["signed_box_inside"] = ((), self.box[0] / n)
            ds["signed_box_outside"] = ((), self.box[1] / n)
        return ds
