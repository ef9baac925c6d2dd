"""The paper's explanations of the trained emulator (Sec. 4.1 instance, Sec. 4.2 group).

Instance: one sample, every method, one heatmap per input month and cell.
Group: every training sample (up to a cap) for each group cell, accumulated as running sums so
memory does not grow with the number of samples; with the synthetic source, each heatmap is
also scored against the exact contribution (:mod:`climemu.truth.exact`) while it is in memory.
"""

from __future__ import annotations

import time
from typing import Iterable

import numpy as np
import torch
import xarray as xr
from torch import nn

from climemu.truth.agreement import correlations as _correlations
from climemu.attribution.frozen import frozen_eval
from climemu.attribution.group import GroupSums, VariantSums
from climemu.attribution.skip import skip_part, skip_share
from climemu.attribution.heatmaps import month_labels
from climemu.attribution.methods import attribute, get_method, method_kwargs
from climemu.attribution.runner import AttributionRunner
from climemu.attribution.cells import Cell, cell_coords
from climemu.attribution.config import ExplainConfig
from climemu.core.config import Box
from climemu.data.window import WindowedData
from climemu.core.distributed import all_reduce_sum, gather, world
from climemu.core.progress import progress


def _cell_coords(cells: list[Cell], data: WindowedData) -> dict:
    """Where each cell is (:func:`~.cells.cell_coords`, the one writer) and whether it is land."""
    return {**cell_coords([c.name for c in cells], [(c.i, c.j) for c in cells], data.lat, data.lon),
            "cell_is_land": ("cell", [c.is_land for c in cells])}


def shap_baselines(cfg: ExplainConfig, data: WindowedData, seed: int) -> torch.Tensor | None:
    """DeepLiftShap's baseline distribution: zeros (the paper) or a draw of training inputs."""
    if cfg.shap_baselines == "zeros":
        return None
    rng = np.random.default_rng(seed)
    picks = rng.choice(data.n_samples("train"), size=cfg.shap_n_baselines, replace=False)
    return data.inputs("train", np.sort(picks))


def explain_instance(model: nn.Module, data: WindowedData, cfg: ExplainConfig, cells: list[Cell],
                     seed: int, truth=None) -> tuple[xr.Dataset, dict]:
    """Heatmaps of one training sample: attribution(method, cell, month, lat, lon).

    ``truth``: optional callable cell -> (36, lat, lon) coefficients; adds method "truth".
    """
    x = data.inputs("train", [cfg.instance_sample])                     # (1, 36, H, W)
    y = data.targets_of("train", [cfg.instance_sample])[0, 0].numpy()   # (H, W)
    with frozen_eval(model), torch.no_grad():
        out = model(x)[0, 0].numpy()
    shap_base = shap_baselines(cfg, data, seed)
    maps, deltas = [], {}
    for method in progress(cfg.methods, desc="instance", unit="method"):
        per_cell = []
        for c in cells:
            kw = method_kwargs(method, cfg.n_steps, shap_base, cfg.options)
            if get_method(method).has_delta:
                attr, delta = attribute(model, method, x, (c.i, c.j), return_delta=True, **kw)
                change = abs(out[c.i, c.j] - _zero_output(model, x)[c.i, c.j])
                deltas[f"{method}.{c.name}"] = float(delta.abs().item() / max(change, 1e-12))
            else:
                attr = attribute(model, method, x, (c.i, c.j), **kw)
            per_cell.append(attr[0].numpy())                             # (36, H, W)
        maps.append(per_cell)
    methods = list(cfg.methods)
    if truth is not None:
        maps.append([truth(c) * x[0].numpy() for c in cells])
        methods.append("truth")
    ds = xr.Dataset(
        {"attribution": (("method", "cell", "month", "lat", "lon"), np.asarray(maps, np.float32)),
         "input": (("month", "lat", "lon"), x[0].numpy()),
         "target": (("lat", "lon"), y), "output": (("lat", "lon"), out),
         "ocean": (("lat", "lon"), data.ocean.astype(np.int8))},
        coords={"method": methods, "month": month_labels(x.shape[1]), "lat": data.lat,
                "lon": data.lon, **_cell_coords(cells, data),
                "target_value": ("cell", [float(y[c.i, c.j]) for c in cells])},
        attrs={"sample": cfg.instance_sample, "split": "train", "lead": data.lead,
               "target_time": str(data.time[data.target_index("train", cfg.instance_sample)]),
               "units": "normalised anomaly (output) per input; heatmaps sum to f(x) - f(0)"})
    return ds, deltas


def _zero_output(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """f(0): the zero baseline's output map (the same for every sample)."""
    with frozen_eval(model), torch.no_grad():
        return model(torch.zeros_like(x[:1]))[0, 0].cpu().numpy()


def explain_group(model: nn.Module, data: WindowedData, cfg: ExplainConfig, cells: list[Cell],
                  truth=None, device: torch.device = torch.device("cpu"),
                  source_box: Box | None = None) -> tuple[xr.Dataset, dict]:
    """Mean positive / negative / absolute heatmaps over training samples, per group cell.

    Also the mean target, output, error and input maps (paper Fig. 4, first row), the relative
    completeness delta of DeepLift / IG, and, with ``truth``, per-sample agreement with it.
    ``truth(cell, lead=...)`` gives the exact coefficients; the truth's monthly |contribution|
    curve is also kept at every lead of ``cfg.truth_leads`` on the same inputs
    (``truth_curve_by_lead``), the planted answer of finding 2 (docs/measures.md).
    For the heatmaps and the exact contributions alike, the pieces of the identifiable variants
    (:class:`~.group.VariantSums`, blocks of ``cfg.block_cells``, smoothing ``cfg.small_scale_sigma``;
    the signed source-box sums when ``source_box`` is given): ``signed_curve``, ``block_absolute``,
    ``signed_radius50_km``, ``signed_radius90_km``, ``small_scale_share`` per cell, ``truth_``
    prefixed for the truth.
    Under torchrun each process explains its own block of samples and the sums are added up
    (:mod:`climemu.core.distributed`); every process returns the combined result.
    """
    method = cfg.group_method
    runner = AttributionRunner(model, data, channels_last=cfg.channels_last, device=device,
                               n_steps=cfg.n_steps)
    n = min(cfg.max_samples, data.n_samples("train"))
    shape = (data.input_months, *data.ocean.shape)                         # (36, H, W)
    # With a skip path and an additive method, Table 1's part of each map too (attribution/skip.py).
    skip = getattr(model, "skip", None)
    split = skip is not None and get_method(method).linear_split
    skip_weight = skip.weight.detach().float().cpu().numpy() if split else None   # (1, 36, k, k)
    prefixes = [""] + (["truth_"] if truth is not None else []) + (["table1_"] if split else [])
    sums = {(c.name, pre): GroupSums(data.lat, data.lon) for c in cells for pre in prefixes}
    variant = {(c.name, pre): VariantSums(data.lat, data.lon, (c.i, c.j), cfg.block_cells,
                                          cfg.small_scale_sigma, data.input_months, source_box)
               for c in cells for pre in prefixes}
    skip_mass = {c.name: np.zeros(2) for c in cells}           # sum |skip part|, sum |Table 1's part|
    scores = {c.name: ([], []) for c in cells}
    coef = {c.name: truth(c) for c in cells} if truth is not None else {}
    leads = list(cfg.truth_leads) if truth is not None else []
    coef_at = {(c.name, lead): truth(c, lead=lead) for c in cells for lead in leads}
    lead_curves = np.zeros((len(leads), len(cells), data.input_months))   # (lead, cell, month) sums
    rel_deltas = []
    maps = {k: np.zeros(data.ocean.shape) for k in ("target", "output", "input_first")}
    has_delta = get_method(method).has_delta
    f0 = _zero_output(model, data.inputs("train", [0]).to(device))
    start = time.perf_counter()
    for positions, x in runner.batches(np.arange(n), cfg.batch_size, shard=True, desc=f"group {method}"):
        y = data.targets_of("train", positions)[:, 0].numpy()            # (B, H, W)
        # DeepLift takes the fast path (3.4x plain Captum, docs/performance.md): f(x) comes with it.
        a = runner.attribute(x, [(c.i, c.j) for c in cells], method, outputs=True,
                             return_delta=True)                          # maps (K, B, 36, H, W)
        maps["target"] += y.sum(0)
        maps["output"] += a.outputs.sum(0)
        xs = x.cpu().numpy()                                                 # (B, 36, H, W)
        maps["input_first"] += xs[:, 0].sum(0)
        for k, c in enumerate(cells):
            attr = a.maps[k]                                                 # (B, 36, H, W)
            if has_delta:
                change = a.outputs[:, c.i, c.j] - f0[c.i, c.j]
                # Captum's delta, or on the fast path completeness: sum(map) = f(x) - f(0).
                delta = (a.deltas[k] if a.deltas is not None
                         else attr.sum(axis=(1, 2, 3), dtype=np.float64) - change)
                rel_deltas.extend(np.abs(delta) / np.maximum(np.abs(change), 1e-12))
            sums[(c.name, "")].update(attr)
            variant[(c.name, "")].update(attr)
            if split:
                through_skip = skip_part(skip_weight, xs, (c.i, c.j))         # (B, 36, H, W)
                table1 = attr - through_skip
                sums[(c.name, "table1_")].update(table1)
                variant[(c.name, "table1_")].update(table1)
                skip_mass[c.name] += [np.abs(through_skip).sum(), np.abs(table1).sum()]
            if c.name in coef:
                true = coef[c.name][None] * xs                                # (B, 36, H, W)
                sums[(c.name, "truth_")].update(true)
                variant[(c.name, "truth_")].update(true)
                for li, lead in enumerate(leads):
                    lead_curves[li, k] += np.abs(coef_at[(c.name, lead)][None] * xs).sum(axis=(0, 2, 3))
                p, s = _correlations(attr, true, data.ocean)
                scores[c.name][0].extend(p)
                scores[c.name][1].extend(s)
    seconds = time.perf_counter() - start
    for v in variant.values():
        v.all_reduce()
    for key in sums:
        sums[key].all_reduce(shape)
    for c in cells:
        if coef:
            scores[c.name] = (gather(scores[c.name][0]), gather(scores[c.name][1]))
    maps = {k: all_reduce_sum(v) for k, v in maps.items()}
    rel_deltas = gather(rel_deltas)
    ds = xr.concat([sums[(c.name, "")].mean() for c in cells], dim="cell")
    for pre in prefixes:
        v = xr.concat([variant[(c.name, pre)].mean() for c in cells], dim="cell")
        for name in v.data_vars:
            ds[pre + name] = v[name]
        if pre:
            means = xr.concat([sums[(c.name, pre)].mean() for c in cells], dim="cell")
            for name in ("positive", "negative", "absolute"):
                ds[pre + name] = means[name]
    if split:
        mass = {c.name: all_reduce_sum(skip_mass[c.name]) for c in cells}
        ds["skip_share"] = ("cell", [skip_share(*mass[c.name]) for c in cells])
    ds.attrs.update({"block_cells": cfg.block_cells, "small_scale_sigma": cfg.small_scale_sigma})
    if coef:
        ds["truth_pearson"] = (("cell", "sample"), np.array([scores[c.name][0] for c in cells]))
        ds["truth_spearman"] = (("cell", "sample"), np.array([scores[c.name][1] for c in cells]))
        ds["truth_curve_by_lead"] = (("truth_lead", "cell", "month"), all_reduce_sum(lead_curves) / n)
        ds = ds.assign_coords(truth_lead=leads)
    for k, v in maps.items():
        ds[f"mean_{k}"] = (("lat", "lon"), v / n)
    ds["mean_error"] = ds["mean_output"] - ds["mean_target"]
    ds["ocean"] = (("lat", "lon"), data.ocean.astype(np.int8))
    ds = ds.assign_coords(_cell_coords(cells, data))
    ds.attrs.update({"method": method, "n_samples": n, "split": "train", "lead": data.lead})
    stats = {"group_seconds": seconds, "group_attributions": n * len(cells),
             "attributions_per_second": n * len(cells) / seconds, "processes": world()}
    if rel_deltas:
        stats.update({"relative_delta_median": float(np.median(rel_deltas)),
                      "relative_delta_max": float(np.max(rel_deltas))})
    return ds, stats


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
    Call ``.mean()`` on the result for the mean maps. The plain reference for one cell; the explain
    stage's :func:`explain_group` does the same for many cells from one forward pass.
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
