"""aggregate: contribution curves, the findings' measures and Figs. 2-4 -> metrics/aggregate.json,
plots/contribution.csv, plots/figures/*.png (paper Sec. 4)."""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)

import xarray as xr

from climemu.attribution import aggregate
from climemu.report import figures
from climemu.core import paths
from climemu.attribution.config import ExplainConfig
from climemu.core.params import LEAD, load_stage_params
from climemu.core.errors import run_stage
from climemu.truth.loader import load_truth
from climemu.core.io import write_csv, write_json
from climemu.core.tracking import log_run


def main() -> None:
    params = load_stage_params("aggregate", lead=LEAD, explain=ExplainConfig)
    with xr.open_dataset(paths.GROUP) as g, xr.open_dataset(paths.INSTANCE) as i:
        group, instance = g.load(), i.load()
    truth = load_truth()
    source_box = truth.source_box if truth else None
    metrics = aggregate.measures(group, source_box)
    metrics["lead"] = params.lead
    # The target-box cells as explain resolved them on the grid (the report reads them here).
    metrics["linked_cells"] = ([str(c) for c in group["cell"].values[group["cell_linked"].values]]
                               if "cell_linked" in group.coords else [])
    write_json(metrics, paths.AGGREGATE_METRICS)
    write_csv(aggregate.contribution_table(group, params.lead), paths.CONTRIBUTION)
    figures.fig2_methods(instance, paths.FIG2)
    figures.fig3_instance(instance, params.explain.group_method, paths.FIG3)
    figures.fig4_group(group, paths.FIG4)
    a = metrics["attribution"]
    print("aggregate: " + "; ".join(f"{k}: r50 {v['radius50_km']:.0f} km, e-fold {v['efolding_month']:.1f}, "
                                    f"month -1 {v['share_month_minus1']:.2f}" for k, v in a["cells"].items())
          + f"; spread {a['curve_spread']:.3f}")
    log_run("aggregate", params, metrics, [paths.AGGREGATE_METRICS, paths.CONTRIBUTION, paths.FIG4])


if __name__ == "__main__":
    run_stage(main, "aggregate")
