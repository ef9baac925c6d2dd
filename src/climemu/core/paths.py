"""Where each stage writes: the constants the stages use, read from ``paths.yaml`` beside this
module, which ``dvc.yaml`` reads too (``vars``), so every output path is written once."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

_EXPS_MARKER = f"{os.sep}.dvc{os.sep}tmp{os.sep}exps{os.sep}"

PATHS_FILE = Path(__file__).with_name("paths.yaml")
OUTPUTS: dict[str, str] = yaml.safe_load(PATHS_FILE.read_text())["paths"]   # key -> path

RAW = OUTPUTS["raw"]
IDENTIFY_METRICS = OUTPUTS["identify_metrics"]
SMOOTHED = OUTPUTS["smoothed"]
WINDOWS = OUTPUTS["windows"]
MODEL = OUTPUTS["model"]
TRAIN_METRICS = OUTPUTS["train_metrics"]
TRAIN_CURVE = OUTPUTS["train_curve"]
INSTANCE = OUTPUTS["instance"]
GROUP = OUTPUTS["group"]
EXPLAIN_METRICS = OUTPUTS["explain_metrics"]
AGGREGATE_METRICS = OUTPUTS["aggregate_metrics"]
CONTRIBUTION = OUTPUTS["contribution"]
FIG2 = OUTPUTS["fig2"]
FIG3 = OUTPUTS["fig3"]
FIG4 = OUTPUTS["fig4"]
ABLATE_METRICS = OUTPUTS["ablate_metrics"]
FIG5 = OUTPUTS["fig5"]
SKILL_METRICS = OUTPUTS["skill_metrics"]
SKILL = OUTPUTS["skill"]
FIG1 = OUTPUTS["fig1"]
SKILL_MAP = OUTPUTS["skill_map"]
BASIN = OUTPUTS["basin"]
BASIN_METRICS = OUTPUTS["basin_metrics"]
BASIN_FIGURE = OUTPUTS["basin_figure"]
SCORE_METRICS = OUTPUTS["score_metrics"]
BAND_METRICS = OUTPUTS["band_metrics"]
SCORE_FIGURE = OUTPUTS["score_figure"]
SANITY_METRICS = OUTPUTS["sanity_metrics"]
SANITY_FIGURE = OUTPUTS["sanity_figure"]
FAITHFULNESS_METRICS = OUTPUTS["faithfulness_metrics"]
FAITHFULNESS_CURVES = OUTPUTS["faithfulness_curves"]
FAITHFULNESS_FIGURE = OUTPUTS["faithfulness_figure"]
FINDINGS = OUTPUTS["findings"]
PAGE = OUTPUTS["page"]
DVC_FILE = Path("dvc.yaml")     # the pipeline (an input, not an output), relative to the root


def dvc_stages(dvc_file: str | Path = DVC_FILE) -> dict[str, dict]:
    """Stage name -> definition from ``dvc_file`` (a ``foreach`` stage's template is its ``do``).

    The one reader of dvc.yaml: code deps (tools/deps.py), missing inputs (core/errors.py) and the
    params a run logs (core/tracking.py) all read the stages through it.
    """
    stages = yaml.safe_load(Path(dvc_file).read_text())["stages"]
    return {name: spec.get("do", spec) for name, spec in stages.items()}


def repository_root(start: str | Path | None = None) -> Path:
    """The main repository's root, also from inside a DVC experiment's temporary copy."""
    here = str(Path(start or os.environ.get("DVC_ROOT") or Path.cwd()).resolve())
    if _EXPS_MARKER in here + os.sep:
        return Path((here + os.sep).split(_EXPS_MARKER)[0])
    return Path(here)
