"""Faithfulness of every method to the network, without a truth (the faithfulness stage).

On real data nothing says which heatmap to believe (the score stage needs the synthetic
truth). The field's answer is to perturb what a method calls important and watch the output
(docs/measures.md, "Faithfulness without a truth"):

- **deletion curve** (Petsiuk et al. 2018; Samek et al. 2017's region perturbation): remove the
  inputs in the order of the method's importance and record the explained cell's output change
  at a ladder of removed fractions; its area (``deletion_auc_degC``, larger is more faithful).
  Regression counterpart of the class score: with ``s = sign(f(x) - f(0))`` (the direction of
  the prediction away from the zero-anomaly input, DeepLift's completeness total), inputs are
  ranked by ``s * attribution`` (most supporting the prediction first) and the change is
  ``s * (f(x) - f(x_removed))``. For a linear network with zero baseline, the exact
  contributions give the largest change at every fraction (tests/attribution/test_faithfulness.py);
- **faithfulness correlation** (Bhatt et al. 2020): Pearson correlation, over random subsets of
  the inputs, between a method's attribution summed over the subset and the output drop when the
  subset is removed;

each at two scales, single inputs (``cell``) and signed sums over ``block x block`` cells of one
month (``block``, docs/measures.md "Identifiable variants"), and with two baselines for removed
inputs: ``zero`` anomaly (the paper's) and ``impute``: ROAD's noisy linear imputation (Rong et
al. 2022), each removed value the weighted mean of its 8 neighbours in the same month (1/6
direct, 1/12 diagonal; known neighbours fixed, removed ones solved jointly), plus Gaussian noise,
so the removal does not leave the data's distribution as a hole of zeros does.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Callable

import numpy as np
import torch
import xarray as xr
from scipy.stats import rankdata, spearmanr
from torch import nn

from climemu.attribution.frozen import frozen_eval
from climemu.attribution.methods import controls
from climemu.attribution.ranking import mean_rank
from climemu.attribution.runner import AttributionRunner
from climemu.data.window import WindowedData

SCALES = ("cell", "block")
BASELINES = ("zero", "impute")
# Neighbour weights of ROAD's imputation (Rong et al. 2022; Quantus's noisy_linear_imputation).
_KERNEL = torch.tensor([[1 / 12, 1 / 6, 1 / 12], [1 / 6, 0.0, 1 / 6], [1 / 12, 1 / 6, 1 / 12]])


def unit_ids(ocean: np.ndarray, months: int, block: int) -> tuple[np.ndarray, int]:
    """The removal unit of every input ``(months, H, W)`` (-1 over land) and the number of units.

    ``block == 1``: each ocean input is its own unit. ``block > 1``: the ocean inputs of one
    month in one ``block x block`` square (squares from the first row and column; partial squares
    at the northern and eastern edges are units too, so removing every unit removes every input).
    """
    h, w = ocean.shape
    rows, cols = np.arange(h) // block, np.arange(w) // block
    square = rows[:, None] * (cols[-1] + 1) + cols[None, :]                 # (H, W)
    raw = np.arange(months)[:, None, None] * (square.max() + 1) + square[None]
    raw = np.where(ocean[None], raw, -1)
    used = np.unique(raw[raw >= 0])
    ids = np.full(raw.shape, -1, np.int64)
    ids[raw >= 0] = np.searchsorted(used, raw[raw >= 0])
    return ids, len(used)


def unit_sums(attr: np.ndarray, ids: np.ndarray, n_units: int) -> np.ndarray:
    """Signed attributions summed per unit: ``(B, months, H, W) -> (B, n_units)`` (float64)."""
    keep = ids >= 0
    flat = attr[:, keep].astype(np.float64)                                 # (B, n_inputs)
    idx = ids[keep]
    return np.stack([np.bincount(idx, weights=row, minlength=n_units) for row in flat])


def ranks(scores: np.ndarray) -> np.ndarray:
    """Position of each unit when ordered by ``scores`` descending (0: first removed).

    A stable sort: ties keep the units' order, the same on every machine.
    """
    order = np.argsort(-scores, kind="stable")
    out = np.empty_like(order)
    out[order] = np.arange(len(order))
    return out


def counts(fractions, n_units: int) -> np.ndarray:
    """Units removed at each fraction: ``ceil(q * n_units)``, at least 1."""
    return np.maximum(1, np.ceil(np.asarray(fractions, float) * n_units - 1e-9)).astype(int)


def impute(x: torch.Tensor, removed: torch.Tensor, noise: torch.Tensor | None = None,
           sweeps: int = 4) -> torch.Tensor:
    """ROAD's linear imputation of the ``removed`` inputs of ``x`` (``(N, months, H, W)``).

    ROAD sets each removed value to the weighted mean of its in-grid neighbours in the same month
    (known ones fixed, removed ones unknowns of one linear system). Solved here by Jacobi sweeps
    from the weighted mean of the known neighbours alone: ``sweeps`` large gives ROAD's solution
    (tests cross-check it against Quantus's ``noisy_linear_imputation``); the stage uses a few,
    since an exact solve per perturbed input costs more than the network's forward pass. A
    removed value with no known neighbour starts at 0 (the climatology), and a connected region
    of removed inputs with no known neighbour stays 0. ``noise`` (same shape) is added at the
    removed inputs. Known inputs are returned unchanged.
    """
    u = removed.to(x.dtype)
    known = 1 - u
    d = _neighbour_mean(torch.ones(1, 1, *x.shape[-2:], dtype=x.dtype))        # in-grid weights
    fixed = _neighbour_mean(known * x)                                         # known neighbours' part
    wk = _neighbour_mean(known)
    v = torch.where(wk > 0, fixed / wk.clamp_min(1e-12), torch.zeros_like(x))
    for _ in range(sweeps):
        v = (fixed + _neighbour_mean(u * v)) / d
    if noise is not None:
        v = v + noise
    return torch.where(removed, v, x)


def _neighbour_mean(v: torch.Tensor) -> torch.Tensor:
    """Weighted sum of each value's 8 neighbours (``_KERNEL``; 0 beyond the grid), ``(..., H, W)``.

    ``_KERNEL`` is ``(outer([1, 2, 1], [1, 2, 1]) - 4 * centre) / 12``: two 3-point passes over
    shifted slices (a one-channel ``conv2d`` runs ~50x slower on CPU).
    """
    h, w = v.shape[-2:]
    p = torch.nn.functional.pad(v, (1, 1, 1, 1))
    rows = p[..., :, :w] + 2 * p[..., :, 1:w + 1] + p[..., :, 2:]             # (..., H + 2, W)
    both = rows[..., :h, :] + 2 * rows[..., 1:h + 1, :] + rows[..., 2:, :]    # (..., H, W)
    return (both - 4 * v) / 12


class Remover:
    """Replaces removed inputs by a baseline: ``zero`` anomaly or ``impute`` (ROAD).

    ``noise``: per-sample noise fields ``(B, months, H, W)`` for ``impute`` (one draw per sample,
    shared by every method and fraction: the methods are compared on the same noise).
    """

    def __init__(self, baseline: str, noise: torch.Tensor | None = None, sweeps: int = 4):
        if baseline not in BASELINES:
            raise ValueError(f"baseline must be one of {BASELINES}; got {baseline!r}")
        self.baseline, self.noise, self.sweeps = baseline, noise, sweeps

    def __call__(self, x: torch.Tensor, removed: torch.Tensor, sample: np.ndarray) -> torch.Tensor:
        """``x`` ``(N, months, H, W)`` with ``removed`` replaced; ``sample[n]``: row of ``noise``."""
        if self.baseline == "zero":
            return torch.where(removed, torch.zeros_like(x), x)
        noise = None if self.noise is None else self.noise[torch.as_tensor(sample)]
        return impute(x, removed, noise, self.sweeps)


def cell_outputs(model: nn.Module, x: torch.Tensor, batch: int, layout=torch.contiguous_format) -> torch.Tensor:
    """The network's output maps ``(N, H, W)`` for inputs ``(N, months, H, W)``, ``batch`` at a time."""
    out = []
    with frozen_eval(model), torch.no_grad():
        for s in range(0, len(x), batch):
            out.append(model(x[s:s + batch].contiguous(memory_format=layout))[:, 0])
    return torch.cat(out)


def deletion_curve(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, score: np.ndarray,
                   ids: np.ndarray, n_units: int, fractions, remove: Remover, sample: int = 0,
                   reference: torch.Tensor | None = None) -> np.ndarray:
    """Output change at each fraction removed, units in the order of ``score`` (descending).

    ``x``: one input ``(months, H, W)``; ``score``: ``(n_units,)`` (sign-aligned unit sums);
    ``forward``: inputs ``(N, months, H, W)`` -> the explained output ``(N,)`` (sign-aligned);
    ``reference``: ``forward(x)`` when already known. Returns ``forward(x) - forward(x with the
    top units removed)`` at each fraction, ``(K,)``.
    """
    rank = ranks(score)
    rank_in = np.where(ids >= 0, rank[np.maximum(ids, 0)], n_units)        # (months, H, W)
    k = counts(fractions, n_units)
    removed = torch.from_numpy(rank_in[None] < k[:, None, None, None])      # (K, months, H, W)
    xs = remove(x[None].expand(len(k), *x.shape), removed, np.full(len(k), sample))
    ref = forward(x[None])[0] if reference is None else reference
    return (ref - forward(xs)).numpy()


def deletion_auc(curve: np.ndarray, fractions) -> np.ndarray:
    """Area under the curve(s) ``(..., K)`` over log10(fraction), divided by the log span.

    The ladder is log-spaced because the maps are local (most of a map's mass lies in a small
    share of the inputs): each decade of fractions weighs the same. One fraction: its value.
    """
    q = np.log10(np.asarray(fractions, float))
    if len(q) == 1:
        return curve[..., 0]
    return np.trapezoid(curve, q, axis=-1) / (q[-1] - q[0])


def subset_masks(rng: np.random.Generator, n_subsets: int, size: int, n_units: int) -> np.ndarray:
    """``(n_subsets, size)`` unit indices, each row drawn without replacement."""
    return np.stack([rng.choice(n_units, size, replace=False) for _ in range(n_subsets)])


def faithfulness_correlation(sums: np.ndarray, drops: np.ndarray) -> float:
    """Pearson correlation over subsets of attribution sums ``(R,)`` and output drops ``(R,)``."""
    a, b = sums - sums.mean(), drops - drops.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def faithfulness_study(model: nn.Module, data: WindowedData, methods: list[str], cells: list, *,
                       n_samples: int, batch_size: int, forward_batch: int, n_steps: int,
                       fractions: list[float], n_subsets: int, subset_fraction: float, noise: float,
                       sweeps: int, block_cells: int, seed: int, shap_base=None, channels_last: bool = True,
                       options=None) -> xr.Dataset:
    """Deletion curves and faithfulness correlations of every method at every cell.

    The first ``n_samples`` training samples (as the score stage). Returns ``curve (method,
    scale, baseline, cell, sample, fraction)`` in degC and ``correlation (method, scale,
    baseline, cell, sample)``. A method whose maps equal an earlier method's to float tolerance
    (deeplift_shap with zero baselines is deeplift, not recomputed) reuses its curves.
    """
    # DeepLift on the project's fast path (one forward for every cell, climemu.attribution.fast).
    runner = AttributionRunner(model, data, channels_last=channels_last, n_steps=n_steps,
                               shap_base=shap_base, options=options, fast=True)
    layout = runner.layout
    n = min(n_samples, data.n_samples("train"))
    n_m = data.input_months
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    units = {s: unit_ids(data.ocean, n_m, 1 if s == "cell" else block_cells) for s in SCALES}
    shape = (len(methods), len(SCALES), len(BASELINES), len(cells), n)
    curve = np.full(shape + (len(fractions),), np.nan)
    corr = np.full(shape, np.nan)
    ij = [(c.i, c.j) for c in cells]
    rows, cols = np.array([i for i, _ in ij]), np.array([j for _, j in ij])
    forwards = 0
    start = time.perf_counter()

    def outputs(xs: torch.Tensor) -> torch.Tensor:           # (N, H, W) -> counted forwards
        nonlocal forwards
        forwards += len(xs)
        return cell_outputs(model, xs, forward_batch, layout)

    zero_out = outputs(torch.zeros(1, n_m, *data.ocean.shape))[0]
    for positions, x in runner.batches(np.arange(n), batch_size, desc="faithfulness"):
        x = x.contiguous()
        noise_field = noise * torch.randn(x.shape, generator=gen)          # (B, months, H, W)
        removers = {"zero": Remover("zero"), "impute": Remover("impute", noise_field, sweeps)}
        out = outputs(x)                                                    # (B, H, W)
        sign = np.sign((out - zero_out[None]).numpy()[:, rows, cols])       # (B, C)
        sign[sign == 0] = 1.0
        # Faithfulness correlation: the random subsets' output drops serve every method and cell.
        drops, subsets = {}, {}
        for s_idx, scale in enumerate(SCALES):
            ids, n_units = units[scale]
            size = max(1, int(round(subset_fraction * n_units)))
            subsets[scale] = [subset_masks(rng, n_subsets, size, n_units) for _ in positions]
            for b_idx, base in enumerate(BASELINES):
                for k in range(len(positions)):
                    chosen = np.zeros((n_subsets, n_units + 1), bool)
                    np.put_along_axis(chosen, subsets[scale][k], True, axis=1)
                    removed = torch.from_numpy(chosen[:, ids])              # ids -1 -> the spare column
                    xs = removers[base](x[k][None].expand(n_subsets, *x.shape[1:]), removed,
                                        np.full(n_subsets, k))
                    drops[scale, base, k] = (out[k][None] - outputs(xs)).numpy()[:, rows, cols]  # (R, C)
        done: list[tuple[int, np.ndarray]] = []
        for m_idx, method in enumerate(methods):
            if method == "deeplift_shap" and shap_base is None and "deeplift" in methods[:m_idx]:
                # zero baselines: DeepLiftShap is DeepLift with the zero baseline twice (methods._shap_baselines)
                maps = done[methods.index("deeplift")][1]
            else:
                maps = runner.attribute(x.contiguous(memory_format=layout), ij, method).maps   # (C, B, ...)
            same = next((d for d, prev in done if prev.shape == maps.shape and np.allclose(
                maps, prev, rtol=1e-4, atol=1e-6 * float(np.abs(prev).max() or 1.0))), None)
            done.append((m_idx, maps))
            if same is not None:
                curve[m_idx, ..., positions, :] = curve[same, ..., positions, :]
                corr[m_idx, ..., positions] = corr[same, ..., positions]
                continue
            for s_idx, scale in enumerate(SCALES):
                ids, n_units = units[scale]
                sums = {(c_idx, k): unit_sums(maps[c_idx, k:k + 1], ids, n_units)[0]
                        for c_idx in range(len(cells)) for k in range(len(positions))}
                for b_idx, base in enumerate(BASELINES):
                    for c_idx, (i, j) in enumerate(ij):
                        for k, pos in enumerate(positions):
                            s = sign[k, c_idx]
                            fwd = lambda xs: s * outputs(xs)[:, i, j]
                            curve[m_idx, s_idx, b_idx, c_idx, pos] = data.scale * deletion_curve(
                                fwd, x[k], s * sums[c_idx, k], ids, n_units, fractions, removers[base], k,
                                reference=s * out[k, i, j])
                            a = sums[c_idx, k][subsets[scale][k]].sum(1)   # (R,)
                            corr[m_idx, s_idx, b_idx, c_idx, pos] = faithfulness_correlation(
                                a, drops[scale, base, k][:, c_idx])
    seconds = time.perf_counter() - start
    dims = ("method", "scale", "baseline", "cell", "sample")
    return xr.Dataset(
        {"curve": (dims + ("fraction",), curve.astype(np.float64), {"units": "degC"}),
         "correlation": (dims, corr)},
        coords={"method": list(methods), "scale": list(SCALES), "baseline": list(BASELINES),
                "cell": [c.name for c in cells], "sample": np.arange(n), "fraction": list(fractions),
                "cell_i": ("cell", rows), "cell_j": ("cell", cols)},
        attrs={"n_samples": n, "lead": data.lead, "seconds": seconds, "forwards": forwards,
               "block_cells": block_cells, "n_subsets": n_subsets, "subset_fraction": subset_fraction,
               "noise": noise, "sweeps": sweeps})


METRICS = ("deletion_auc_degC", "correlation")


def distinct(values: dict[str, dict[str, float]], methods: list[str], rtol: float = 1e-6) -> list[str]:
    """``methods`` less any that repeats an earlier one on every measure (e.g. DeepLiftShap on zero
    baselines is DeepLift): a ranking test counts each distinct method once."""
    kept: list[str] = []
    for m in methods:
        same = lambda k: all(np.isclose(values[key][m], values[key][k], rtol=rtol, atol=0.0)   # noqa: E731
                             or (np.isnan(values[key][m]) and np.isnan(values[key][k])) for key in values)
        if not any(same(k) for k in kept):
            kept.append(m)
    return kept


EXACT_MAX = 9            # methods up to which the permutation p is enumerated (9! = 362,880)
RESAMPLES = 1_000_000    # beyond: random permutations, p = (hits + 1) / (resamples + 1)


def spearman_p(x: list[float], y: list[float], chunk: int = 100_000, seed: int = 0) -> float:
    """One-sided (rho > 0) permutation p-value of Spearman's rho: the share of the n!
    pairings of ``y`` with ``x`` whose rho is at least the observed one, ties ranked as
    ``spearmanr`` ranks them (average ranks), so the smallest p with n methods is 1 / n!.

    Spearman's rho is Pearson's on the ranks, so every pairing is one permutation of the rank
    vector: enumerated here in chunks up to :data:`EXACT_MAX` methods (9: 362,880 pairings in
    about a second; scipy's ``permutation_test`` computes the same, slower, and is the
    cross-check in the tests). With more methods, :data:`RESAMPLES` random pairings drawn with
    ``seed`` (the Monte Carlo p of Phipson & Smyth 2010, never 0; its own standard error at
    p = 0.01 is 1e-4)."""
    rx, ry = rankdata(x), rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    norm = np.sqrt((rx @ rx) * (ry @ ry))
    if norm == 0:
        return float("nan")                           # a constant ranking: no evidence either way
    observed = (rx @ ry) / norm
    tol = 1e-12 * max(1.0, abs(observed))              # equal rhos count as at least as large
    if len(rx) > EXACT_MAX:
        rng = np.random.default_rng(seed)
        hits = 0
        for start in range(0, RESAMPLES, chunk):
            block = rng.permuted(np.tile(np.arange(len(rx)), (min(chunk, RESAMPLES - start), 1)), axis=1)
            hits += int((ry[block] @ rx / norm >= observed - tol).sum())
        return (hits + 1) / (RESAMPLES + 1)
    perms = itertools.permutations(range(len(rx)))
    hits = total = 0
    while block := list(itertools.islice(perms, chunk)):
        null = ry[np.array(block)] @ rx / norm         # (chunk,)
        hits += int((null >= observed - tol).sum())
        total += len(block)
    return hits / total


def validate(values: dict[str, dict[str, float]], ref: dict[str, dict[str, float]], methods: list[str],
             alpha: float, enough_samples: bool = True) -> dict:
    """Per measure: Spearman across the distinct methods between the measure and the agreement with
    the exact contributions (``ref[key][method]``), its exact one-sided permutation p-value, the
    Holm-adjusted p across the measures (statsmodels), and a verdict: ``validated`` (adjusted p <
    ``alpha``), ``consistent`` (rho > 0, not significant), ``ranks against the truth`` (rho < 0)
    or ``undecided``. ``underpowered`` when even a perfect ranking could not reach ``alpha``
    after the correction (measures / n! >= alpha: with 5 methods and 8 measures, 8 / 120), or when
    the measures rest on fewer samples than a validation needs (``enough_samples`` False,
    ``faithfulness.min_samples``): then no measure is "validated", whatever its p."""
    from statsmodels.stats.multitest import multipletests

    out, keys, pvals = {}, [], []
    for key, v in values.items():
        common = [m for m in methods if m in ref[key] and np.isfinite(v[m]) and np.isfinite(ref[key][m])]
        if len(common) >= 3:
            x, y = [v[m] for m in common], [ref[key][m] for m in common]
            rho, p = float(spearmanr(x, y)[0]), spearman_p(x, y)
        else:
            rho, p = float("nan"), float("nan")
        out[key] = {"spearman": rho, "p": p, "methods": len(common)}
        if np.isfinite(p):
            keys.append(key)
            pvals.append(p)
    adjusted = multipletests(pvals, method="holm")[1] if pvals else []
    for key in values:
        out[key]["p_holm"] = float(adjusted[keys.index(key)]) if key in keys else float("nan")
        n = out[key]["methods"]
        out[key]["underpowered"] = bool(n < 3 or len(keys) / math.factorial(n) >= alpha or not enough_samples)
        rho, p_holm = out[key]["spearman"], out[key]["p_holm"]
        out[key]["verdict"] = ("validated" if p_holm < alpha and enough_samples
                               else "ranks against the truth" if rho < 0
                               else "consistent" if rho > 0 else "undecided")
    return out


def faithfulness_measures(ds: xr.Dataset, score: dict | None = None, *, alpha: float,
                          min_samples: int = 1) -> dict:
    """Flat metrics per method, the ranking, and, with the truth (``score``), its validation.

    Per method and scale and baseline: ``deletion_auc_degC`` (mean over cells and samples of
    :func:`deletion_auc`), ``correlation`` (median faithfulness correlation). ``ranking``: per
    measure (``scale.baseline.metric``), the methods from the most faithful. ``validation``
    (``score``: score.json with the truth): per measure, :func:`validate` over the distinct methods
    (:func:`distinct`, controls left out) against the agreement with the exact contributions (``pearson_median`` at
    the cell scale, the block variant's ``pearson_median`` at the block scale). ``overall``:
    methods by mean rank over the measures not ranking against the truth.
    """
    fractions = ds["fraction"].values
    methods = [str(m) for m in ds["method"].values]
    out: dict = {"n_samples": int(ds.attrs["n_samples"]), "lead": int(ds.attrs["lead"]),
                 "seconds": round(float(ds.attrs["seconds"]), 2), "forwards": int(ds.attrs["forwards"]),
                 "fractions": [float(q) for q in fractions], "block_cells": int(ds.attrs["block_cells"])}
    auc = deletion_auc(ds["curve"].values, fractions)                    # (method, scale, baseline, cell, sample)
    values: dict[str, dict[str, float]] = {}
    for m_idx, method in enumerate(methods):
        entry: dict = {}
        for s_idx, scale in enumerate(SCALES):
            entry[scale] = {}
            for b_idx, base in enumerate(BASELINES):
                a = auc[m_idx, s_idx, b_idx]
                c = ds["correlation"].values[m_idx, s_idx, b_idx]
                v = {"deletion_auc_degC": float(np.nanmean(a)) if np.isfinite(a).any() else float("nan"),
                     "correlation": float(np.nanmedian(c)) if np.isfinite(c).any() else float("nan")}
                entry[scale][base] = v
                for key, val in v.items():
                    values.setdefault(f"{scale}.{base}.{key}", {})[method] = val
        out[method] = entry
    out["ranking"] = {k: sorted(v, key=lambda m: -v[m] if np.isfinite(v[m]) else np.inf) for k, v in values.items()}
    against: set[str] = set()
    control = controls(methods)
    if control:
        out["controls"] = judge_controls(values, [m for m in methods if m not in control], control)
    if score is not None:
        ref = {key: _agreement(score, key.split(".")[0]) for key in values}
        out["distinct_methods"] = distinct(values, [m for m in methods if m not in control])
        out["alpha"] = alpha
        out["min_samples"] = min_samples
        out["validation"] = validate(values, ref, out["distinct_methods"], alpha,
                                     enough_samples=out["n_samples"] >= min_samples)
        against = {k for k, v in out["validation"].items() if v["verdict"] == "ranks against the truth"}
    kept = [k for k in values if k not in against]
    out["values"] = values
    mean = mean_rank(values, kept)
    out["overall"] = {"measures": kept, "mean_rank": mean, "ranking": sorted(mean, key=mean.get)}
    return out


def judge_controls(values: dict[str, dict[str, float]], methods: list[str], control: list[str]) -> dict:
    """Per measure: does every method score above every control? A measure that ranks a control
    (a random map, the inputs' edges) at or above a real method cannot tell a method from a
    control, whatever its agreement with the truth (docs/measures.md, "Controls").

    ``below``: True when the best control scores below the worst method; ``margin``: the worst
    method's value less the best control's (NaN values are left out)."""
    out = {}
    for key, v in values.items():
        real = {m: v[m] for m in methods if np.isfinite(v.get(m, np.nan))}
        ctrl = {m: v[m] for m in control if np.isfinite(v.get(m, np.nan))}
        if not real or not ctrl:
            out[key] = {"below": None, "margin": float("nan"), "worst_method": None, "best_control": None}
            continue
        worst, best = min(real, key=real.get), max(ctrl, key=ctrl.get)
        margin = real[worst] - ctrl[best]
        out[key] = {"below": bool(margin > 0), "margin": float(margin), "worst_method": worst,
                    "best_control": best,
                    "methods_at_or_below": sorted(m for m in real if real[m] <= ctrl[best])}
    return out


def _agreement(score: dict, scale: str) -> dict[str, float]:
    """Per method, the agreement with the exact contributions that matches ``scale``."""
    ref = {}
    for m, v in score.items():
        if isinstance(v, dict) and "all" in v:
            a = v["all"]
            value = a.get("variants", {}).get("block", {}).get("pearson_median") if scale == "block" \
                else a.get("pearson_median")
            if value is not None:
                ref[m] = float(value)
    return ref


def curves_table(ds: xr.Dataset) -> list[dict]:
    """Rows for plots/faithfulness.csv: the mean deletion curve per method, scale and baseline."""
    mean = ds["curve"].mean(("cell", "sample"))
    return [{"method": str(m), "scale": str(s), "baseline": str(b), "fraction": float(q),
             "change_degC": float(mean.sel({"method": m, "scale": s, "baseline": b, "fraction": q}))}
            for m in ds["method"].values for s in ds["scale"].values for b in ds["baseline"].values
            for q in ds["fraction"].values]
