"""identify: can the data pin the truth down? Conditioning of a cell's neighbourhood, least-squares
recovery of the exact coefficients, autocorrelation and decorrelation length -> metrics/identify.json
(docs/data.md, "What the data can decide")."""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)

import numpy as np
import xarray as xr

from climemu.core import paths
from climemu.core.params import load_stage_params
from climemu.data.config import DataConfig, WindowConfig
from climemu.truth.config import IdentifyConfig, identify_cell_in_data_box
from climemu.core.errors import run_stage
from climemu.core.io import write_json
from climemu.core.tracking import log_run
from climemu.truth import identifiability as ident
from climemu.truth.loader import load_truth
from climemu.truth.synthetic import LinearModel

# The rules are stated at lead 1, the generator's own step, whatever the pipeline's `lead`
# (docs/data.md): the stage then depends on data and identify only.
LEAD = 1


def main() -> None:
    params = load_stage_params("identify", identify=IdentifyConfig, data=DataConfig, window=WindowConfig,
                               checks=(identify_cell_in_data_box,))
    cfg = params.identify
    truth = load_truth()
    with xr.open_dataset(paths.RAW) as raw:
        if truth is None:
            note = f"no ground truth: data.source is {params.data.source!r}, not 'synthetic'"
            write_json({"synthetic_truth": False, "note": note}, paths.IDENTIFY_METRICS)
            print(f"identify: skipped, {note}")
            return
        generator = truth.generator
        anom = ident.anomalies(raw).load()                                # (time, lat, lon) degC
    ocean = raw["ocean"].values.astype(bool)
    lat, lon = anom["lat"].values, anom["lon"].values
    cell = ident.cell_index(lat, lon, ocean, cfg.cell.lat, cfg.cell.lon)

    # Rule 1: the features a local predictor of the cell sees must carry variance in every direction.
    X, _ = ident.neighbourhood_features(anom.values, ocean, cell, cfg.radius_cells, cfg.months, LEAD,
                                          params.window.input_months)
    cond = ident.conditioning(X)
    del X
    eigen_floor = cfg.eigen_min_share * generator.noise_std ** 2
    # Rule 2: least squares on a long run of the same generator finds the exact coefficients.
    ols = ident.least_squares_recovery(generator, cfg.ols.box, params.data.resolution,
                                       cfg.ols.years, params.window.input_months, LEAD)
    metrics = {
        "synthetic_truth": True,
        "cell": {"lat": float(lat[cell[0]]), "lon": float(lon[cell[1]])},
        "lead": LEAD,
        "conditioning": cond,
        "eigen_floor": eigen_floor,
        "identifiable": bool(cond["condition"] <= cfg.condition_max and cond["eig_min"] >= eigen_floor),
        "ols": ols,
        "recovered": bool(ols["correlation"] >= cfg.ols.correlation_min
                          and ols["max_error_ratio"] <= cfg.ols.error_max),
        "autocorrelation": {f"lag{lag}": ident.region_autocorrelation(anom, generator, lag)
                            for lag in (1, 12)},
        "decorrelation": ident.decorrelation_km(anom, cell),
        "anomaly_std": float(np.nanmedian(anom.std("time").values)),
    }
    # The planted teleconnection's gain fitted by least squares on this record (the end-to-end
    # controls ask it within controls.link_error_max of the planted one, docs/controls.md).
    model = LinearModel.build(generator, lat, lon, ocean)
    link = metrics["link"] = ident.link_gain(anom.values, model,
                                             ident.target_kernel_radius(generator, lat, lon, ocean))
    write_json(metrics, paths.IDENTIFY_METRICS)
    ac, dec = metrics["autocorrelation"], metrics["decorrelation"]
    print(f"identify: condition {cond['condition']:.3g} (eig {cond['eig_min']:.3g}..{cond['eig_max']:.3g}), "
          f"identifiable {metrics['identifiable']}; OLS r {ols['correlation']:.3f}, max error "
          f"{ols['max_error_ratio']:.3f}, recovered {metrics['recovered']}; lag-1 {ac['lag1']['all']:.2f}, "
          f"lag-12 {ac['lag12']['all']:.2f}, decorrelation {dec['km']:.0f} km; link gain {link['estimate']:.4f} "
          f"(planted {link['planted']:g})")
    log_run("identify", params, metrics, [paths.IDENTIFY_METRICS])


if __name__ == "__main__":
    run_stage(main, "identify")
