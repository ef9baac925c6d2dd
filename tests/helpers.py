"""What tests share: configurations built on ``params.yaml`` and hand-made inputs.

``params.yaml`` is the only place defaults live (the config models have none), so a test that
needs a configuration states only what it changes and takes everything else from there:

    params(window={"n_train": 32})                  # a validated Params
    section("window", n_train=40, n_val=30)          # a validated WindowConfig
    section("data.synthetic", {"spinup_months": 24}) # a nested section by its dotted key

Tests import this module directly (``from tests.helpers import ...``); conftest.py keeps only
fixtures.
"""

from __future__ import annotations

import copy
import http.server
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
import xarray as xr
import yaml
from pydantic import BaseModel

from climemu.config import Params, parse_params
from climemu.core.calendar import monthly_time

ROOT = Path(__file__).resolve().parents[1]
PARAMS_FILE = ROOT / "params.yaml"

# A tiny North Atlantic run, merged over params.yaml: a 20 x 30 one-degree box in the subpolar
# gyre (ocean with Greenland/Iceland coasts), 30 years, one epoch, a few samples per stage.
TINY = {
    "data": {"box": {"lat_min": 45.0, "lat_max": 65.0, "lon_min": -50.0, "lon_max": -20.0},
             "years": [401, 430],
             "synthetic": {"spinup_months": 24,
                           "source_box": {"lat_min": 46.0, "lat_max": 50.0, "lon_min": -45.0, "lon_max": -40.0},
                           "target_box": {"lat_min": 58.0, "lat_max": 62.0, "lon_min": -30.0, "lon_max": -25.0}}},
    "identify": {"radius_cells": 2, "months": 3, "ols": {"years": 100}},   # 324 samples, 75 features
    "window": {"n_train": 32, "n_val": 16, "n_test": 16},
    "train": {"epochs": 1, "batch_size": 16},
    "explain": {"n_steps": 4, "max_samples": 6, "batch_size": 3,
                # every registered method, as the judges' run has them (tools/judges.py)
                "methods": ["deeplift", "integrated_gradients", "guided_backprop", "deeplift_shap", "saliency",
                            "input_x_gradient", "smoothgrad", "occlusion", "kernel_shap", "random", "edges"],
                "shap_n_baselines": 2,
                "options": {"smoothgrad_samples": 2, "smoothgrad_stdev": 0.5, "occlusion_window": [12, 5, 5],
                            "kernel_shap_samples": 32, "superpixel": [12, 10, 10], "per_eval": 32},
                "instance_cells": [{"name": "A", "lat": 64.5, "lon": -45.5},
                                   {"name": "B", "lat": 55.5, "lon": -35.5}],
                "group_cells": [{"name": "target_box", "lat": 60.5, "lon": -27.5},
                                {"name": "open_ocean", "lat": 50.5, "lon": -35.5}]},
    "ablate": {"box": {"lat_min": 52.0, "lat_max": 55.0, "lon_min": -38.0, "lon_max": -35.0},
               "max_samples": 6},
    "basin": {"n_cells": 3, "max_samples": 4, "batch_size": 2, "cells_per_pass": 2},
    "evaluate": {"lim_modes": [2, 5]},
    "score": {"max_samples": 2, "batch_size": 2, "n_steps": 4},
    "sanity": {"max_samples": 2, "batch_size": 2, "n_steps": 4, "cell": "open_ocean"},
    "faithfulness": {"max_samples": 1, "batch_size": 1, "n_steps": 4, "fractions": [0.01, 0.1, 0.5], "subsets": 4,
                     "subset_fraction": 0.05},
}


@lru_cache(maxsize=1)
def _committed() -> dict:
    return yaml.safe_load(PARAMS_FILE.read_text())


def raw_params() -> dict:
    """``params.yaml`` as a plain dict (a fresh copy: callers may change it)."""
    return copy.deepcopy(_committed())


def merge(base: dict, over: dict) -> dict:
    """``base`` with ``over`` merged in: mappings key by key, anything else replaced."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(base.get(k) or {}, v) if isinstance(v, dict) else v
    return out


def params(overrides: dict | None = None, /, **sections) -> Params:
    """``params.yaml`` with ``overrides`` (and keyword sections) merged in, validated as a whole."""
    return parse_params(merge(raw_params(), {**(overrides or {}), **sections}), "params.yaml + test overrides")


def section(key: str, overrides: dict | None = None, /, **fields) -> BaseModel:
    """The section at dotted ``key`` (``"window"``, ``"data.esgf"``) from ``params.yaml`` with
    ``overrides`` / ``fields`` merged in, validated alone (no cross-section checks).

    Values may be section models themselves (``box=Box(...)``): they replace the committed value.
    """
    model: type[BaseModel] = Params
    raw = raw_params()
    for part in key.split("."):
        model = model.model_fields[part].annotation
        raw = raw[part]
    return model.model_validate(merge(raw, {**(overrides or {}), **fields}))


def make_sst(values: np.ndarray, first_year: int = 401, ocean: np.ndarray | None = None) -> xr.Dataset:
    """A dataset in the fetch layout around a (time, lat, lon) array, for hand-made inputs."""
    n_time, n_lat, n_lon = values.shape
    time, bnds = monthly_time(first_year, n_time)
    ocean = np.ones((n_lat, n_lon), bool) if ocean is None else ocean
    return xr.Dataset(
        {"tos": (("time", "lat", "lon"), values.astype(np.float32), {"units": "degC"}),
         "ocean": (("lat", "lon"), ocean.astype(np.int8)),
         "time_bnds": (("time", "bnds"), bnds)},
        coords={"time": time, "lat": 10.5 + np.arange(n_lat), "lon": -50.5 + np.arange(n_lon)})


@contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]):
    """A threaded HTTP server on a free port of 127.0.0.1 with ``handler``; yields the port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
