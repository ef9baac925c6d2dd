"""faithfulness: every method of explain.methods perturbed in the order of its own importance,
no truth needed -> metrics/faithfulness.json, plots/faithfulness.csv, plots/figures/faithfulness.png.

With the synthetic source, the ranking is checked against the methods' agreement with the exact
contributions (metrics/score.json): Spearman across methods, per faithfulness measure.
"""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)

import json

import pandas as pd

from climemu.core import paths
from climemu.attribution.faithfulness import curves_table, faithfulness_measures, faithfulness_study
from climemu.attribution.cells import resolve_cells
from climemu.attribution.explain import shap_baselines
from climemu.training.checkpoint import load_trained
from climemu.attribution.config import ExplainConfig, FaithfulnessConfig
from climemu.core.params import LEAD, SEED, load_stage_params
from climemu.core.errors import run_stage
from climemu.report.figures_checks import fig_faithfulness
from climemu.core.io import write_csv, write_json
from climemu.core.tracking import log_run


def main() -> None:
    params = load_stage_params("faithfulness", lead=LEAD, seed=SEED, explain=ExplainConfig,
                               faithfulness=FaithfulnessConfig)
    cfg, explain = params.faithfulness, params.explain
    with open(paths.SCORE_METRICS) as f:
        score = json.load(f)
    truth = score if score.get("synthetic_truth", True) else None      # real data: nothing to validate
    model, data = load_trained()
    cells = resolve_cells(explain.group_cells, data.lat, data.lon, data.ocean)
    ds = faithfulness_study(model, data, explain.methods, cells, n_samples=cfg.max_samples,
                            batch_size=cfg.batch_size, forward_batch=cfg.forward_batch, n_steps=cfg.n_steps,
                            fractions=cfg.fractions, n_subsets=cfg.subsets, subset_fraction=cfg.subset_fraction,
                            noise=cfg.noise, sweeps=cfg.sweeps, block_cells=explain.block_cells, seed=params.seed,
                            shap_base=shap_baselines(explain, data, params.seed),
                            channels_last=explain.channels_last, options=explain.options)
    metrics = faithfulness_measures(ds, truth, alpha=cfg.alpha, min_samples=cfg.min_samples)
    metrics["synthetic_truth"] = truth is not None
    write_json(metrics, paths.FAITHFULNESS_METRICS)
    write_csv(pd.DataFrame(curves_table(ds)), paths.FAITHFULNESS_CURVES)
    fig_faithfulness(ds, paths.FAITHFULNESS_FIGURE)
    print(f"faithfulness: {ds.attrs['forwards']} forward passes in {ds.attrs['seconds']:.1f} s; "
          "deletion AUC (cell, zero) / correlation: "
          + ", ".join(f"{m} {metrics[m]['cell']['zero']['deletion_auc_degC']:.3f}/"
                      f"{metrics[m]['cell']['zero']['correlation']:.2f}" for m in explain.methods))
    print("faithfulness: overall ranking " + " > ".join(metrics["overall"]["ranking"]))
    log_run("faithfulness", params, metrics, [paths.FAITHFULNESS_METRICS, paths.FAITHFULNESS_CURVES,
                                              paths.FAITHFULNESS_FIGURE])


if __name__ == "__main__":
    run_stage(main, "faithfulness")
