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


def _judges_folder(root: Path, vs: dict | None) -> None:
    """A judges' run by hand: two methods and a control, one faithfulness measure, one sanity step."""
    shutil.copy(ROOT / "params.yaml", root / "params.yaml")
    folder = root / power.JUDGES
    folder.mkdir(parents=True)

    def entry(median: float) -> dict:
        return {"all": {"pearson_support_median": median, "pearson_support_q25": median - 0.1,
                        "pearson_support_q75": median + 0.05, "curve_error": 1.0,
                        "variants": {"block": {"pearson_median": median}}}}
    score = {"n_samples": 32, "lead": 1, "controls": ["random"],
             "deeplift": entry(0.94), "saliency": entry(0.90), "random": entry(0.03)}
    if vs is not None:
        score["pearson_support_vs_best"] = vs
    faith = {"alpha": 0.05, "n_samples": 32, "distinct_methods": ["deeplift", "saliency"],
             "validation": {"cell.zero.correlation": {"spearman": 1.0, "p": 0.5, "p_holm": 0.5,
                                                      "verdict": "not validated"}},
             "controls": {"cell.zero.correlation": {"below": True}}}
    sanity = {"n_samples": 4, "cell": "c", "steps": ["all"],
              "deeplift": {"spearman": {"all": 0.1}}, "saliency": {"spearman": {"all": 0.2}},
              "random": {"spearman": {"all": 1.0}}}
    for name, value in (("score.json", score), ("faithfulness.json", faith), ("sanity.json", sanity),
                        ("set.json", {"data.box": [0, 1, 0, 1]})):
        (folder / name).write_text(json.dumps(value))
    (folder / "commit.txt").write_text("abcdef123\n")


def test_judges_table_gives_each_methods_distance_from_the_best_with_its_interval(tmp_path):
    vs = {"best": "deeplift", "level": 0.9, "n": 96,
          "methods": {"deeplift": {"difference": 0.0, "low": 0.0, "high": 0.0, "distinguishable": False},
                      "saliency": {"difference": -0.04, "low": -0.07, "high": -0.01, "distinguishable": True}}}
    _judges_folder(tmp_path, vs)
    text = power.judges(tmp_path)
    assert "median minus the best's [90% interval]" in text
    assert "| deeplift | 0.94 [0.84, 0.99] | best | 0.94 | 1.00 |" in text
    assert "| saliency | 0.90 [0.80, 0.95] | -0.040 [-0.070, -0.010] | 0.90 | 1.00 |" in text
    assert "| random (control) | 0.03 [-0.07, 0.08] | - | 0.03 | 1.00 |" in text
    assert "cannot tell from it: no other method" in text


def test_judges_table_says_which_methods_the_samples_cannot_tell_from_the_best(tmp_path):
    vs = {"best": "deeplift", "level": 0.9, "n": 96,
          "methods": {"deeplift": {"difference": 0.0, "low": 0.0, "high": 0.0, "distinguishable": False},
                      "saliency": {"difference": -0.04, "low": -0.09, "high": 0.01, "distinguishable": False}}}
    _judges_folder(tmp_path, vs)
    text = power.judges(tmp_path)
    assert "| saliency | 0.90 [0.80, 0.95] | -0.040 [-0.090, +0.010] (not told apart) |" in text
    assert "cannot tell from it: saliency." in text


def test_judges_table_of_a_run_without_the_samples_interval_has_no_such_column(tmp_path):
    _judges_folder(tmp_path, None)
    text = power.judges(tmp_path)
    assert "minus the best" not in text
    assert "| deeplift | 0.94 [0.84, 0.99] | 0.94 | 1.00 |" in text
