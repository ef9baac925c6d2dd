"""The evaluate stage's work: the emulator beside five baselines on validation and test.

The only reader of the test split (its stage unseals it in ``WindowedData``). Baselines are fitted
on the training period alone, at the same lead (:mod:`climemu.forecast.baselines`); scores are
area-weighted over ocean cells (:mod:`climemu.forecast.skill`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn

from climemu.forecast import skill
from climemu.forecast.baselines import SharedFilter, fit_baselines, select_lim
from climemu.forecast.config import EvaluateConfig
from climemu.data.window import WindowedData

SPLITS = ("val", "test")


@torch.no_grad()
def model_forecast(model: nn.Module, data: WindowedData, split: str, batch_size: int) -> np.ndarray:
    """(B, lat, lon) normalised forecasts of the trained network for every sample of a split."""
    model.eval()
    n = data.n_samples(split)
    return np.concatenate([model(data.inputs(split, np.arange(s, min(s + batch_size, n))))[:, 0].numpy()
                           for s in range(0, n, batch_size)])


def _inputs(data: WindowedData, split: str, chunk: int = 256) -> np.ndarray:
    n = data.n_samples(split)
    return np.concatenate([data.inputs(split, np.arange(s, min(s + chunk, n))).numpy()
                           for s in range(0, n, chunk)])


def _as_maps(values: np.ndarray, data: WindowedData) -> xr.DataArray:
    return xr.DataArray(values, dims=("sample", "lat", "lon"), coords={"lat": data.lat, "lon": data.lon})


def evaluate(model: nn.Module, data: WindowedData, cfg: EvaluateConfig, seed: int,
             regions: dict[str, np.ndarray] | None = None,
             extra: dict | None = None) -> tuple[dict, pd.DataFrame, dict]:
    """Scores per split and predictor, the long table for ``dvc plots``, and maps for figures.

    ``regions``: optional (lat, lon) bool masks (e.g. the planted teleconnection's target box);
    each gets the same scores over its ocean cells under ``metrics[region][split][predictor]``.
    ``extra``: further predictors by name that need no fitting (e.g. the synthetic source's
    best linear predictor, :class:`~climemu.truth.predictor.TruthPredictor`).
    """
    inputs = {s: _inputs(data, s) for s in SPLITS}                            # (B, 36, H, W)
    targets = {s: data.targets_of(s, np.arange(data.n_samples(s)))[:, 0].numpy() for s in SPLITS}
    train = data.period("train")
    lim = select_lim(train, data.lead, data.ocean, cfg.lim_modes, inputs["val"], targets["val"], seed)
    shared = SharedFilter(data.lead, data.input_months, cfg.shared_filter_radius,
                          cfg.shared_filter_cells, data.ocean, seed)
    baselines = {**fit_baselines(train, data.lead, data.ocean, lim, shared), **(extra or {})}
    ocean = xr.DataArray(data.ocean, dims=("lat", "lon"), coords={"lat": data.lat, "lon": data.lon})
    # How much of the validation targets the LIM's EOFs (fitted on train) can represent at all
    metrics, rows, maps = {"lim_modes": lim.modes, "lim_span_share_val": lim.span_share(targets["val"])}, [], {}
    for split in SPLITS:
        x, truth = inputs[split], _as_maps(targets[split], data)
        forecasts = {name: _as_maps(values, data) for name, values in {
            "model": model_forecast(model, data, split, cfg.batch_size),
            **{name: b.predict(x) for name, b in baselines.items()}}.items()}        # (B, H, W) each
        reference = skill.mse(forecasts["persistence"], truth, ocean)
        metrics[split] = {}
        for name, f in forecasts.items():
            metrics[split][name] = skill.scores(f, truth, ocean, reference, data.scale)
            rows.append({"lead": data.lead, "split": split, "predictor": name, **metrics[split][name]})
        for region, mask in (regions or {}).items():
            inside = ocean & mask
            ref = skill.mse(forecasts["persistence"], truth, inside)
            metrics.setdefault(region, {})[split] = {
                name: skill.scores(f, truth, inside, ref, data.scale) for name, f in forecasts.items()}
        if split == "test":
            maps["time_corr_model"] = skill.time_correlation(forecasts["model"], truth)
            maps["time_corr_damped"] = skill.time_correlation(forecasts["damped_persistence"], truth)
            maps["sample_target"] = truth.isel(sample=cfg.figure_sample) * data.scale
            maps["sample_forecast"] = forecasts["model"].isel(sample=cfg.figure_sample) * data.scale
            maps["sample_time"] = str(data.time[data.target_index("test", cfg.figure_sample)])
    return metrics, pd.DataFrame(rows), maps
