"""band: each measure's range over near-optimal linear predictors at the group cells
-> metrics/band.json (docs/measures.md, "Equivalence band"). The report judges a method's measure
against it. Needs no model and no truth: it runs on every source."""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)

import time

import xarray as xr

from climemu.attribution.band import cell_band
from climemu.attribution.explain import resolve_cells
from climemu.config import load_params
from climemu.core import paths
from climemu.core.errors import run_stage
from climemu.core.io import write_json
from climemu.core.tracking import log_run
from climemu.data.window import WindowedData
from climemu.truth.exact import coefficients
from climemu.truth.synthetic import LinearModel, generator_config


def main() -> None:
    params = load_params()
    cfg, explain = params.band, params.explain
    start = time.perf_counter()
    data = WindowedData.open(paths.SMOOTHED, paths.WINDOWS)
    with xr.open_dataset(paths.RAW) as raw:
        generator = generator_config(raw)
        linear = LinearModel.from_dataset(raw) if generator is not None else None
    cells = resolve_cells(explain.group_cells, data.lat, data.lon, data.ocean)
    n = min(explain.max_samples, data.n_samples("train"))
    inputs = data.inputs("train", range(n)).numpy()               # (N, 36, H, W): the group samples
    out = {"tolerance": cfg.tolerance, "n_samples": n, "lead": data.lead, "cells": {}}
    for c in cells:
        exact = coefficients(linear, (c.i, c.j), data.lead, data.input_months) if linear else None
        out["cells"][c.name] = cell_band(
            data, (c.i, c.j), c.name, cfg.radii, cfg.penalties, cfg.tolerance, inputs,
            explain.block_cells, explain.small_scale_sigma,
            generator.source_box if generator else None, exact)
    out["seconds"] = round(time.perf_counter() - start, 2)
    write_json(out, paths.BAND_METRICS)
    print("band: " + "; ".join(
        f"{name}: {v['n_near_optimal']}/{v['n_predictors']} near-optimal, month -1 share "
        f"{v['band']['abs']['share_month_minus1']['low']:.2f}-{v['band']['abs']['share_month_minus1']['high']:.2f} "
        f"(signed {v['band']['signed']['share_month_minus1']['low']:.2f}-"
        f"{v['band']['signed']['share_month_minus1']['high']:.2f})" for name, v in out["cells"].items())
          + f"; {out['seconds']:.1f} s")
    log_run("band", params, out, [paths.BAND_METRICS])


if __name__ == "__main__":
    run_stage(main, "band")
