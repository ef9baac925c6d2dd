"""The judges' power sections of docs/measures.md (climemu.report.power) from hand-made outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from climemu.report import power

ROOT = Path(__file__).resolve().parents[2]


def test_band_coverage_counts_the_truths_inside_per_lead_and_cell(tmp_path):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")   # slack 60 km, 0.3 months, 0.01
    for lead, r50 in ((1, 100.0), (9, 400.0)):
        folder = tmp_path / power.BANDS / f"lead-{lead}"
        folder.mkdir(parents=True)
        band = {"lead": lead, "cells": {"c": {
            "n_near_optimal": 3,
            "band": {"abs": {"radius50_km": {"low": 0.0, "high": 120.0},
                             "share_month_minus1": {"low": 0.2, "high": 0.3}}},
            "truth": {"abs": {"radius50_km": r50, "share_month_minus1": 0.305}}}}}
        (folder / "band.json").write_text(json.dumps(band))
        (folder / "commit.txt").write_text("abcdef123\n")
    text = power.band_coverage(tmp_path)
    # lead 1: 100 km inside, 0.305 inside the 0.01 slack; lead 9: 400 km beyond 120 + 60
    assert "| 1 | 2 of 2 (100%) | 3 |" in text and "| 9 | 1 of 2 (50%) | 3 |" in text
    assert "commit abcdef1" in text


def test_the_measures_params_call_validated_are_those_the_judges_run_validated():
    # report.faithfulness_validated (what real-data reports trust) is no copy that can drift from
    # the committed judges' run it cites.
    import yaml
    validated = yaml.safe_load((ROOT / "params.yaml").read_text())["report"]["faithfulness_validated"]
    faith = json.loads((ROOT / power.JUDGES / "faithfulness.json").read_text())
    assert sorted(validated) == sorted(k for k, v in faith["validation"].items() if v["verdict"] == "validated")
