"""Where each stage writes: one place, used by the stages and named again in dvc.yaml."""

from __future__ import annotations

import os
from pathlib import Path

_EXPS_MARKER = f"{os.sep}.dvc{os.sep}tmp{os.sep}exps{os.sep}"


RAW = "data/raw.nc"                 # fetch: tos (time, lat, lon) degC, NaN over land
SMOOTHED = "data/smoothed.nc"       # smooth: trailing moving average
WINDOWS = "data/windows.nc"         # window: split index tables + training normalisation
MODEL = "models/model.pt"           # train: weights + config + normalisation
TRAIN_METRICS = "metrics/train.json"
TRAIN_CURVE = "plots/train_curve.csv"
INSTANCE = "explain/instance.nc"    # explain: heatmaps (method, cell, month, lat, lon) of one sample
GROUP = "explain/group.nc"          # explain: mean +/-/|.| heatmaps (cell, month, lat, lon)
EXPLAIN_METRICS = "metrics/explain.json"
AGGREGATE_METRICS = "metrics/aggregate.json"
CONTRIBUTION = "plots/contribution.csv"
FIGURES = "plots/figures"           # PNG figures of the paper (Fig. 2-5)
ABLATE_METRICS = "metrics/ablate.json"
FIG5 = "plots/figures/fig5_ablation.png"
SKILL_METRICS = "metrics/skill.json"
SKILL = "plots/skill.csv"
FIG1 = "plots/figures/fig1_test_sample.png"
SKILL_MAP = "plots/figures/skill_map.png"
BASIN = "explain/basin.nc"          # basin: measures and curves per explained ocean cell
BASIN_METRICS = "metrics/basin.json"
BASIN_FIGURE = "plots/figures/basin_maps.png"
SCORE_METRICS = "metrics/score.json"            # score: every method against the exact contributions
SCORE_FIGURE = "plots/figures/score_methods.png"
SANITY_METRICS = "metrics/sanity.json"          # sanity: cascading randomisation (Adebayo et al. 2018)
SANITY_FIGURE = "plots/figures/sanity.png"
FINDINGS = "reports/findings.md"                # report: the paper's findings as tested claims


def repository_root(start: str | Path | None = None) -> Path:
    """The main repository's root, also from inside a DVC experiment's temporary copy."""
    here = str(Path(start or os.environ.get("DVC_ROOT") or Path.cwd()).resolve())
    if _EXPS_MARKER in here + os.sep:
        return Path((here + os.sep).split(_EXPS_MARKER)[0])
    return Path(here)
