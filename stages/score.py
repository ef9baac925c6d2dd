"""score: every method of explain.methods against the exact contributions of the synthetic
source -> metrics/score.json, plots/figures/score_methods.png."""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)


from climemu.core import paths
from climemu.attribution.score import score_measures, score_methods
from climemu.attribution.cells import resolve_cells
from climemu.attribution.explain import shap_baselines
from climemu.training.checkpoint import load_trained
from climemu.attribution.config import ExplainConfig, ScoreConfig
from climemu.core.params import LEAD, SEED, load_stage_params
from climemu.core.errors import run_stage
from climemu.truth.loader import load_truth
from climemu.report.figures import message_figure
from climemu.report.figures_checks import fig_score
from climemu.core.io import write_json
from climemu.core.tracking import log_run


def main() -> None:
    params = load_stage_params("score", lead=LEAD, seed=SEED, explain=ExplainConfig, score=ScoreConfig)
    cfg, explain = params.score, params.explain
    truth = load_truth()
    if truth is None:
        # Real data has no known answer: say so in the outputs instead of failing the pipeline.
        note = f"no ground truth: {paths.RAW} was not made by the synthetic generator"
        write_json({"synthetic_truth": False, "note": note}, paths.SCORE_METRICS)
        message_figure(f"score: {note}", paths.SCORE_FIGURE)
        print(f"score: skipped, {note}")
        return
    model, data = load_trained()
    cells = resolve_cells(explain.group_cells, data.lat, data.lon, data.ocean)
    coef = {c.name: truth.coefficients((c.i, c.j), data.lead, data.input_months) for c in cells}
    ds = score_methods(model, data, explain.methods, cells, coef, cfg.max_samples, cfg.batch_size,
                       cfg.n_steps, shap_baselines(explain, data, params.seed), explain.channels_last,
                       block_cells=explain.block_cells, options=explain.options)
    metrics = score_measures(ds, truth.source_box)
    write_json(metrics, paths.SCORE_METRICS)
    fig_score(ds, paths.SCORE_FIGURE)
    print(f"score: {ds.attrs['attributions']} attributions in {ds.attrs['seconds']:.1f} s "
          f"({ds.attrs['attributions'] / ds.attrs['seconds']:.2f}/s); Pearson median (support): "
          + ", ".join(f"{m} {metrics[m]['all']['pearson_median']:.2f} "
                      f"({metrics[m]['all']['pearson_support_median']:.2f})" for m in explain.methods))
    log_run("score", params, metrics, [paths.SCORE_METRICS, paths.SCORE_FIGURE])


if __name__ == "__main__":
    run_stage(main, "score")
