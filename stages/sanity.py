"""sanity: cascading re-initialisation of the trained network, per method (Adebayo et al. 2018)
-> metrics/sanity.json, plots/figures/sanity.png."""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)

from climemu.core import paths
from climemu.attribution.sanity import sanity_check, sanity_measures
from climemu.attribution.cells import resolve_cells
from climemu.attribution.explain import shap_baselines
from climemu.training.checkpoint import load_trained
from climemu.attribution.config import ExplainConfig, SanityConfig, sanity_cell_named
from climemu.core.params import LEAD, SEED, load_stage_params
from climemu.core.errors import run_stage
from climemu.report.figures_checks import fig_sanity
from climemu.core.io import write_json
from climemu.core.tracking import log_run


def main() -> None:
    params = load_stage_params("sanity", lead=LEAD, seed=SEED, explain=ExplainConfig, sanity=SanityConfig,
                               checks=(sanity_cell_named,))
    cfg, explain = params.sanity, params.explain
    model, data = load_trained()
    cells = resolve_cells(explain.group_cells, data.lat, data.lon, data.ocean)
    cell = next(c for c in cells if c.name == cfg.cell) if cfg.cell else cells[0]
    ds = sanity_check(model, data, explain.methods, cell, cfg.max_samples, cfg.batch_size, cfg.n_steps,
                      cfg.seed, shap_baselines(explain, data, params.seed), explain.channels_last,
                      options=explain.options)
    metrics = sanity_measures(ds)
    write_json(metrics, paths.SANITY_METRICS)
    fig_sanity(ds, paths.SANITY_FIGURE)
    last = metrics["steps"][-1]
    print(f"sanity ({ds.attrs['seconds']:.1f} s): Spearman |maps| trained vs random weights: "
          + ", ".join(f"{m} {metrics[m]['spearman_abs'][last]:.2f}" for m in explain.methods))
    log_run("sanity", params, metrics, [paths.SANITY_METRICS, paths.SANITY_FIGURE])


if __name__ == "__main__":
    run_stage(main, "sanity")
