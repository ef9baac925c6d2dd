"""ablate: blank a box of the input and measure where the output changes -> metrics/ablate.json,
plots/figures/fig5_ablation.png (paper Sec. 4.3, Fig. 5)."""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)

import numpy as np
import torch

from climemu.report import figures
from climemu.core import paths
from climemu.attribution.ablation import ablate_box, box_cells, far_field_influence, target_response
from climemu.training.checkpoint import load_trained
from climemu.attribution.config import AblateConfig
from climemu.core.params import LEAD, load_stage_params
from climemu.core.errors import run_stage
from climemu.truth.loader import load_truth
from climemu.core.io import write_json
from climemu.core.tracking import log_run


def main() -> None:
    params = load_stage_params("ablate", lead=LEAD, ablate=AblateConfig)
    cfg = params.ablate
    model, data = load_trained()
    positions = np.arange(min(cfg.max_samples, data.n_samples("val")))
    x = data.inputs("val", positions)                                       # (B, 36, H, W)
    lat, lon, ocean = data.lat, data.lon, data.ocean

    diff = ablate_box(model, x, lat, lon, cfg.box, batch_size=cfg.batch_size)   # (B, H, W)
    metrics = {"box": cfg.box.model_dump(), "halo_cells": cfg.halo, "n_samples": len(positions),
               "far_field_influence": far_field_influence(diff, lat, lon, cfg.box, cfg.halo, mask=ocean),
               "mean_abs_change": float(np.abs(diff.values[:, ocean]).mean())}

    truth = load_truth()
    if truth:
        source, target = truth.source_box, truth.target_box
        tele = ablate_box(model, x, lat, lon, source, batch_size=cfg.batch_size)
        model_resp = target_response(tele, lat, lon, target, mask=ocean).values       # (B,)
        true_resp = truth.removal_response(x.numpy(), box_cells(lat, lon, source),
                                           box_cells(lat, lon, target), data.lead)
        metrics["teleconnection"] = {
            "model_target_response_mean_abs": float(np.abs(model_resp).mean()),
            "true_target_response_mean_abs": float(np.abs(true_resp).mean()),
            "response_ratio": float(np.abs(model_resp).mean() / max(np.abs(true_resp).mean(), 1e-12)),
            "response_correlation": float(np.corrcoef(model_resp, true_resp)[0, 1]),
            "far_field_influence": far_field_influence(tele, lat, lon, source, cfg.halo, mask=ocean)}
    write_json(metrics, paths.ABLATE_METRICS)

    x0 = x[:1]
    with torch.no_grad():
        model.eval()
        inside = torch.as_tensor(box_cells(lat, lon, cfg.box))
        ablated = x0.masked_fill(inside, 0.0)
        before, after = model(x0)[0, 0].numpy(), model(ablated)[0, 0].numpy()
    masked = lambda f: np.where(ocean, f, np.nan)   # noqa: E731 - land masked after the network
    figures.fig5_ablation({"A: ablated input, month -36": ablated[0, 0].numpy(), "B: output": masked(before),
                           "C: output after ablation": masked(after), "D: difference C - B": masked(after - before)},
                          lat, lon, ocean, ((cfg.box.lat_min, cfg.box.lat_max), (cfg.box.lon_min, cfg.box.lon_max)),
                          paths.FIG5)
    print(f"ablate: far-field influence {metrics['far_field_influence']:.4f}"
          + (f"; teleconnection response ratio {metrics['teleconnection']['response_ratio']:.3f}" if truth else ""))
    log_run("ablate", params, metrics, [paths.ABLATE_METRICS])


if __name__ == "__main__":
    run_stage(main, "ablate")
