"""report: the paper's findings as claims, decided by this run's metrics -> reports/findings.md.

Reads only the small metrics files of aggregate, ablate, score, sanity, evaluate and basin, so it
reruns in a second whenever any of them changes.
"""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)

import json

from climemu.core import paths
from climemu.config import load_params
from climemu.core.errors import run_stage
from climemu.report.findings import render
from climemu.core.io import write_text
from climemu.core.tracking import log_run


def _load(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def main() -> None:
    params = load_params()
    score = _load(paths.SCORE_METRICS)
    text = render(params, _load(paths.AGGREGATE_METRICS), _load(paths.ABLATE_METRICS),
                  score if score.get("synthetic_truth", True) else None,   # real data: no truth
                  _load(paths.SANITY_METRICS), _load(paths.SKILL_METRICS), _load(paths.BASIN_METRICS),
                  faithfulness=_load(paths.FAITHFULNESS_METRICS))
    write_text(text, paths.FINDINGS)
    print(f"report: {paths.FINDINGS}")
    log_run("report", params, {}, [paths.FINDINGS])


if __name__ == "__main__":
    run_stage(main, "report")
