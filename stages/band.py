"""band: each measure's range over near-optimal linear predictors at the group cells
-> metrics/band.json (docs/measures.md, "Equivalence band"). The report judges a method's measure
against it. Needs no model and no truth: it runs on every source."""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)

import time


from climemu.attribution.band import cell_band
from climemu.attribution.cells import resolve_cells
from climemu.attribution.config import BandConfig, ExplainConfig
from climemu.core.params import load_stage_params
from climemu.core import paths
from climemu.core.errors import UserError, run_stage
from climemu.core.io import write_json
from climemu.core.tracking import log_run
from climemu.data.window import WindowedData
from climemu.truth.loader import load_truth


def main() -> None:
    params = load_stage_params("band", explain=ExplainConfig, band=BandConfig)
    cfg, explain = params.band, params.explain
    start = time.perf_counter()
    data = WindowedData.open(paths.SMOOTHED, paths.WINDOWS)
    truth = load_truth()
    cells = resolve_cells(explain.group_cells, data.lat, data.lon, data.ocean)
    n = min(explain.max_samples, data.n_samples("train"))
    inputs = data.inputs("train", range(n)).numpy()               # (N, 36, H, W): the group samples
    if max(cfg.months) > data.input_months:
        raise UserError(f"band.months {cfg.months}: at most window.input_months ({data.input_months}) "
                        "input months can be used; lower them in params.yaml")
    out = {"tolerance": cfg.tolerance, "n_samples": n, "lead": data.lead, "cells": {}}
    for c in cells:
        exact = truth.coefficients((c.i, c.j), data.lead, data.input_months) if truth else None
        out["cells"][c.name] = cell_band(
            data, (c.i, c.j), c.name, cfg.radii, cfg.penalties, cfg.tolerance, inputs,
            explain.block_cells, explain.small_scale_sigma,
            truth.source_box if truth else None, exact, months=cfg.months)
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
