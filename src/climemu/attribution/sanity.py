"""Sanity checks for heatmaps (Adebayo et al. 2018): does a method explain the trained weights?

Cascading randomisation: re-initialise the network's blocks one by one, from the output toward
the input, and compare each method's heatmaps before and after with Spearman rank correlation
(of the signed maps and of their magnitudes). A method whose maps barely change when the
weights that made the prediction are gone is not explaining the model (Guided Backprop is the
known case). The last step re-initialises every block: a network with random weights, whose
locality radius and monthly curve are the null for the paper's finding (1): the part of
"locality" that the architecture gives whatever it learnt (docs/measures.md, sanity checks:
receptive field and effective receptive field).

Re-initialisation uses each layer's own ``reset_parameters`` (PyTorch's default initialisation,
the distribution training started from); BatchNorm layers also reset their running statistics.
"""

from __future__ import annotations

import copy
import time
from typing import Iterator

import numpy as np
import torch
import xarray as xr
from torch import nn

from climemu.truth.agreement import spearman_rows
from climemu.attribution.cells import cell_coords, cell_index
from climemu.attribution.heatmaps import LAT, LON, MONTH, month_labels
from climemu.attribution.measures import map_measures
from climemu.attribution.methods import controls
from climemu.attribution.runner import AttributionRunner
from climemu.data.window import WindowedData
from climemu.core.progress import progress


def blocks_output_first(model: nn.Module) -> list[str]:
    """The model's top-level blocks from the output toward the input (``model.BLOCKS`` reversed)."""
    blocks = getattr(model, "BLOCKS", None)
    if not blocks:
        raise ValueError(f"{type(model).__name__} lists no BLOCKS (its top-level blocks in forward "
                         "order), so the cascade cannot know which layers lie nearest the output")
    return list(reversed(blocks))


def reinitialise(module: nn.Module) -> None:
    """Every layer inside ``module`` back to its default initialisation (global torch RNG)."""
    for layer in module.modules():
        if hasattr(layer, "reset_parameters"):
            layer.reset_parameters()          # BatchNorm: also resets the running statistics


def cascade(model: nn.Module, seed: int) -> Iterator[tuple[str, nn.Module]]:
    """``(block, network)`` with every block from the output down to ``block`` re-initialised.

    The trained ``model`` is never modified: step k copies step k - 1 and re-initialises one more
    block. The draws come from ``seed`` and leave the global torch RNG as it was.
    """
    current = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name in blocks_output_first(model):
            current = copy.deepcopy(current)
            reinitialise(getattr(current, name))
            yield name, current.eval()


def rank_agreement(before: np.ndarray, after: np.ndarray, ocean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample Spearman correlation of signed and of absolute heatmaps, ``(B,)`` each.

    ``before``, ``after``: ``(B, 36, H, W)``. Scored over the ocean inputs where either map is
    non-zero: inputs beyond the network's receptive field are exactly zero in both maps, and
    their ties would count as agreement whatever the weights.
    """
    keep = np.broadcast_to(ocean, before.shape[1:])
    a, b = before[:, keep], after[:, keep]                             # (B, n_inputs)
    signed, absolute = np.full(len(a), np.nan), np.full(len(a), np.nan)
    for k in range(len(a)):
        live = (a[k] != 0) | (b[k] != 0)
        if live.sum() > 1:
            u, v = a[k:k + 1, live], b[k:k + 1, live]
            signed[k] = spearman_rows(u, v)[0]
            absolute[k] = spearman_rows(np.abs(u), np.abs(v))[0]
    return signed, absolute


def _maps(model: nn.Module, method: str, data: WindowedData, positions: np.ndarray, cell,
          batch_size: int, n_steps: int, shap_base, channels_last: bool, options=None) -> np.ndarray:
    """Heatmaps ``(B, 36, H, W)`` of one cell; Captum's DeepLift too, the reference implementation."""
    runner = AttributionRunner(model, data, channels_last=channels_last, n_steps=n_steps,
                               shap_base=shap_base, options=options, fast=False)
    return np.concatenate([runner.attribute(x, [cell], method).maps[0]
                           for _, x in runner.batches(positions, batch_size)])


def sanity_check(model: nn.Module, data: WindowedData, methods: list[str], cell, n_samples: int,
                 batch_size: int, n_steps: int, seed: int, shap_base=None,
                 channels_last: bool = True, options=None) -> xr.Dataset:
    """Rank correlations trained vs cascade step, per method, and the randomised network's maps.

    ``cell``: a :class:`~.cells.Cell`. Returns ``spearman`` and ``spearman_abs`` ``(method, step,
    sample)`` (step = the block down to which the network is re-initialised, output first) and
    the mean |heatmap| ``(method, network, month, lat, lon)`` of the ``trained`` and the fully
    ``randomised`` network. The cell: scalar coords ``cell``, ``cell_i``, ``cell_j``, ``cell_lat``,
    ``cell_lon`` (:func:`~.aggregate.cell_coords`), as one cell of score's or explain's results.
    """
    positions = np.arange(min(n_samples, data.n_samples("train")))
    ij = (cell.i, cell.j)
    steps = blocks_output_first(model)
    shape = (len(methods), len(steps), len(positions))
    signed, absolute = np.full(shape, np.nan), np.full(shape, np.nan)
    n_m = data.input_months
    mean_abs = np.zeros((len(methods), 2, n_m) + data.ocean.shape, np.float32)
    start = time.perf_counter()
    trained = {}
    for m_idx, method in enumerate(methods):
        trained[method] = _maps(model, method, data, positions, ij, batch_size, n_steps, shap_base,
                                 channels_last, options)
        mean_abs[m_idx, 0] = np.abs(trained[method]).mean(0)
    bar = progress(total=len(steps) * len(methods), desc="sanity", unit="map set")
    for k, (block, net) in enumerate(cascade(model, seed)):
        for m_idx, method in enumerate(methods):
            after = _maps(net, method, data, positions, ij, batch_size, n_steps, shap_base, channels_last,
                          options)
            signed[m_idx, k], absolute[m_idx, k] = rank_agreement(trained[method], after, data.ocean)
            if k == len(steps) - 1:
                mean_abs[m_idx, 1] = np.abs(after).mean(0)
            bar.update()
    bar.close()
    seconds = time.perf_counter() - start
    ds = xr.Dataset(
        {"spearman": (("method", "step", "sample"), signed),
         "spearman_abs": (("method", "step", "sample"), absolute),
         "absolute": (("method", "network", MONTH, LAT, LON), mean_abs),
         "ocean": ((LAT, LON), data.ocean)},
        coords={"method": list(methods), "step": steps, "network": ["trained", "randomised"],
                MONTH: month_labels(n_m), LAT: data.lat, LON: data.lon,
                **cell_coords([cell.name], [ij], data.lat, data.lon)},
        # attrs "cell" (the name, also the coord): read by report.figures_checks.fig_sanity.
        attrs={"cell": cell.name, "n_samples": len(positions), "lead": data.lead, "seed": seed,
               "seconds": seconds, "steps": "blocks re-initialised from the output down to this one"})
    return ds.isel(cell=0)                                  # one cell: its coords become scalars


def sanity_measures(ds: xr.Dataset) -> dict:
    """Flat metrics: per method the median rank correlations per step, and the null measures.

    ``trained`` / ``randomised``: the map measures (:func:`~.measures.map_measures`) of the mean
    |heatmap| of the trained and of the fully re-initialised network, on the same samples.
    """
    cell = cell_index(ds)
    out: dict = {"cell": str(ds["cell"].item()), "n_samples": int(ds.attrs["n_samples"]), "lead": int(ds.attrs["lead"]),
                 "seconds": round(float(ds.attrs["seconds"]), 2), "steps": list(map(str, ds["step"].values)),
                 "controls": controls([str(m) for m in ds["method"].values])}
    for method in ds["method"].values:
        entry: dict = {}
        for key in ("spearman", "spearman_abs"):
            med = ds[key].sel({"method": method}).median("sample", skipna=True)
            entry[key] = {str(step): float(med.sel(step=step)) for step in ds["step"].values}
        for network in ("trained", "randomised"):
            a = ds["absolute"].sel({"method": method, "network": network})   # (month, lat, lon)
            entry[network] = map_measures(a, cell)
        out[str(method)] = entry
    return out
