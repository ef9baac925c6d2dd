"""Ablation: blank an input region and see where the output changes (paper Sec. 4.3, Fig. 5).

The paper sets a small region of the input to the baseline and differences the outputs; it
found change only near the region, i.e. no teleconnections. Here the region is a box in
degrees over all 36 input months, the baseline is zero (the attribution baseline), and two
numbers summarise the difference map: the far-field influence (does the change stay near the
box?) and the mean response in a chosen target box (does a planted teleconnection show?).
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr
from scipy.ndimage import binary_dilation
from torch import nn

from climemu.attribution.frozen import frozen_eval
from climemu.attribution.heatmaps import LAT, LON, SAMPLE, to_numpy
from climemu.core.config import Box
from climemu.core.grid import box_mask


def box_cells(lat, lon, box) -> np.ndarray:
    """Bool ``(H, W)``: cells whose centre is in ``box``; ValueError if there is none."""
    box = box if isinstance(box, Box) else Box.model_validate(box)
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    inside = box_mask(lat, lon, box).values
    if not inside.any():
        raise ValueError(
            f"box lat {box.lat_min:g}..{box.lat_max:g}, lon {box.lon_min:g}..{box.lon_max:g} "
            f"contains no grid cell centre (grid lat {lat.min():g}..{lat.max():g}, "
            f"lon {lon.min():g}..{lon.max():g})")
    return inside


def ablate_box(model: nn.Module, inputs: torch.Tensor, lat, lon, box, *,
               baseline: float = 0.0, batch_size: int | None = None) -> xr.DataArray:
    """Output change ``model(ablated) - model(inputs)``, ``(sample, lat, lon)``.

    Every input month of the cells in ``box`` (degrees) is set to ``baseline``. The model runs
    in eval mode (:func:`~.frozen.frozen_eval`), ``batch_size`` samples at a time.
    """
    x = torch.as_tensor(inputs, dtype=torch.float32)                # (B, 36, H, W)
    if x.ndim != 4:
        raise ValueError(f"inputs must be (batch, months, lat, lon); got {tuple(x.shape)}")
    inside = torch.as_tensor(box_cells(lat, lon, box), device=x.device)   # (H, W)
    if inside.shape != x.shape[2:]:
        raise ValueError(f"lat/lon give a {tuple(inside.shape)} grid; "
                         f"inputs are {tuple(x.shape[2:])}")
    step = batch_size or x.shape[0]
    diffs = []
    with frozen_eval(model), torch.no_grad():
        for start in range(0, x.shape[0], step):
            batch = x[start:start + step]
            ablated = batch.masked_fill(inside, baseline)           # (b, 36, H, W), all months
            diffs.append((model(ablated) - model(batch))[:, 0])     # (b, H, W)
    diff = torch.cat(diffs).cpu().numpy()
    return xr.DataArray(diff, dims=(SAMPLE, LAT, LON),
                        coords={LAT: np.asarray(lat), LON: np.asarray(lon)},
                        name="ablation_change")


def _change(diff) -> np.ndarray:
    d = to_numpy(diff)
    return d[None] if d.ndim == 2 else d                            # (B, H, W)


def far_field_influence(diff, lat, lon, box, halo: int, *, mask=None) -> float:
    """Mean |change| outside a halo around the box, divided by mean |change| inside the box.

    The halo is the box grown by ``halo`` cells in every direction (diagonals included), so
    for a network whose receptive field reaches ``halo`` cells the ratio is exactly 0; the
    paper's finding of no teleconnections is a ratio near 0 for a halo much smaller than the
    domain. Means run over samples and cells; ``mask`` (bool ``(H, W)``, e.g. the ocean mask)
    restricts both regions. NaN if neither region changes, inf if only the far field does.
    Being a mean over the whole far field, a strong response in a small remote region is
    diluted by area (6 remote cells out of 100 give 0.06); :func:`target_response` reads
    such a region directly.
    """
    d = np.abs(_change(diff))                                       # (B, H, W)
    inside = box_cells(lat, lon, box)
    if halo < 0:
        raise ValueError(f"halo must be >= 0 cells; got {halo}")
    near = binary_dilation(inside, structure=np.ones((2 * halo + 1, 2 * halo + 1), bool))
    keep = np.ones_like(inside) if mask is None else np.asarray(mask, dtype=bool)
    inside, outside = inside & keep, ~near & keep
    if not inside.any():
        raise ValueError("no (masked) cell inside the box to compare against")
    if not outside.any():
        raise ValueError(f"no (masked) cell lies outside the box plus a {halo}-cell halo")
    near_mean, far_mean = d[:, inside].mean(), d[:, outside].mean()
    if near_mean == 0:
        return float("nan") if far_mean == 0 else float("inf")
    return float(far_mean / near_mean)


def target_response(diff, lat, lon, target_box, *, mask=None) -> xr.DataArray:
    """Signed mean change over the cells of ``target_box``, per sample ``(sample,)``.

    For a teleconnection check: ablate the source box, then read the response in the target
    box; ``.mean()`` of the result averages over samples. ``mask`` restricts the cells.
    """
    d = _change(diff)                                               # (B, H, W)
    inside = box_cells(lat, lon, target_box)
    if mask is not None:
        inside = inside & np.asarray(mask, dtype=bool)
        if not inside.any():
            raise ValueError("no masked cell inside the target box")
    return xr.DataArray(d[:, inside].mean(axis=1), dims=(SAMPLE,), name="target_response")
