"""report: the paper's findings as claims, decided by this run's metrics -> reports/findings.md,
and one offline page with the findings, the figures and the curves -> reports/index.html.

Reads only the small metrics (band's too), plots and figure files of the earlier stages, so it
reruns in seconds whenever any of them changes.
"""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)

import json
import os

import yaml

from climemu.core import paths
from climemu.core.params import LEAD, load_stage_params
from climemu.data.config import DataConfig, SmoothConfig
from climemu.models.config import ModelConfig
from climemu.report.config import ReportConfig
from climemu.core.errors import run_stage
from climemu.report.findings import render
from climemu.report.page import FIGURES, page, read_experiment, workspace_reader
from climemu.core.io import write_text
from climemu.core.tracking import log_run

# make controls' power table (docs/controls.md), a file of core/paths.yaml's `tools`: no stage writes it
CONTROLS_POWER = yaml.safe_load(paths.PATHS_FILE.read_text())["tools"]["controls_power"]


def _load(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def main() -> None:
    params = load_stage_params("report", lead=LEAD, model=ModelConfig, smooth=SmoothConfig, data=DataConfig,
                               report=ReportConfig)
    score = _load(paths.SCORE_METRICS)
    band = _load(paths.BAND_METRICS)
    text = render(params, _load(paths.AGGREGATE_METRICS), _load(paths.ABLATE_METRICS),
                  score if score.get("synthetic_truth", True) else None,   # real data: no truth
                  _load(paths.SANITY_METRICS), _load(paths.SKILL_METRICS), _load(paths.BASIN_METRICS), band,
                  faithfulness=_load(paths.FAITHFULNESS_METRICS),
                  power=_load(CONTROLS_POWER))   # make controls (docs/controls.md)
    write_text(text, paths.FINDINGS)
    name = f"{os.environ.get('DVC_EXP_NAME', 'workspace')} (lead {params.lead}, {params.model.arch})"
    experiment = read_experiment(name, workspace_reader())
    write_text(page([experiment]), paths.PAGE)
    print(f"report: {paths.FINDINGS}, {paths.PAGE}")
    # The reports and every figure as artifacts of the run (earlier stages log their own too).
    log_run("report", params, {}, [paths.FINDINGS, paths.PAGE, *FIGURES])


if __name__ == "__main__":
    run_stage(main, "report")
