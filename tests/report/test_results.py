"""report/results.py: docs/results.md's generated sections, by hand and against the committed page."""

import json
import shutil

import pytest

from climemu.core import paths
from climemu.report import results
from tests.helpers import ROOT


def _metrics(root, table1=True):
    (root / "metrics").mkdir()
    rmse = {"truth": 0.3, "model": 0.31, "shared_filter": 0.312, "damped_persistence": 0.32,
            "persistence": 0.36, "lim": 0.39, "climatology": 0.4}
    split = {k: {"rmse_degC": v, "acc_time": 0.5} for k, v in rmse.items()}
    skill = {"lead": 1, "lim_modes": 200, "lim_span_share_val": 0.2, "test": split, "val": split}
    train = {"n_train": 1024, "best_epoch": 3, "n_params": 606624, "precision": "bf16", "train_seconds": 120.4}
    cells = {"a": {"radius90_km": 150.0}, "b": {"radius90_km": 300.0}}
    agg = {"method": "deeplift", "n_samples": 128, "attribution": {"cells": cells}}
    if table1:
        agg["table1"] = {"cells": {"a": {"radius90_km": 900.0}, "b": {"radius90_km": 1200.0}},
                         "skip_share": {"a": 0.75, "b": 0.5}}
    for path, value in ((paths.SKILL_METRICS, skill), (paths.TRAIN_METRICS, train), (paths.AGGREGATE_METRICS, agg)):
        (root / path).write_text(json.dumps(value))


def test_default_run_section_by_hand(tmp_path):
    _metrics(tmp_path)
    text = results.default_run(tmp_path)
    # MSE / truth's: (0.31 / 0.3)^2 = 1.0678; captured (0.16 - 0.0961) / (0.16 - 0.09) = 0.9129
    assert "| **network** | 0.3100 | 1.068 | 0.500 |" in text
    assert "captures **91.3%**" in text
    # LIM floor: (1 - 0.2) x 0.16 / 0.09 = 1.42; damped persistence (0.32 / 0.3)^2 = 1.14; LIM 1.69
    assert "at least 80.0% of climatology's: 1.42 times the truth's, against 1.14 for damped persistence and 1.69" in text
    assert "| a | 75.0% | 150 km | 900 km |" in text
    assert text.index("| truth |") < text.index("| **network** |") < text.index("| climatology |")


def test_no_skip_path_no_split(tmp_path):
    _metrics(tmp_path, table1=False)
    assert "Through the skip path" not in results.default_run(tmp_path)


def test_page_rewritten_between_its_markers_only(tmp_path):
    _metrics(tmp_path)
    page = tmp_path / results.PAGE
    page.parent.mkdir()
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")          # the study section reads it
    page.write_text("prose before\n<!-- generated: default-run -->\nold 1.234\n<!-- end: default-run -->\nprose after\n"
                    "<!-- generated: study -->\n<!-- end: study -->\n<!-- generated: controls -->\n<!-- end: controls -->\n")
    assert results.main(["--check", "--root", str(tmp_path)]) == 1
    assert results.main(["--root", str(tmp_path)]) == 0
    text = page.read_text()
    assert text.startswith("prose before\n<!-- generated: default-run -->\nLead 1,") and "old 1.234" not in text
    assert "\n<!-- end: default-run -->\nprose after\n" in text
    assert "<!-- generated: study -->\nNo experiment kept yet: run `make study`.\n<!-- end: study -->\n" in text
    assert text.endswith("<!-- generated: controls -->\nNo controls experiment kept yet: run `make controls`.\n"
                         "<!-- end: controls -->\n")
    assert results.main(["--check", "--root", str(tmp_path)]) == 0
    page.write_text("no markers\n")
    with pytest.raises(ValueError, match="no '<!-- generated: default-run -->'"):
        results.main(["--root", str(tmp_path)])


def test_committed_page_is_what_the_committed_metrics_give():
    # `make results` after `dvc repro`: the page's generated numbers are the metrics', never copies.
    assert results.main(["--check", "--root", str(ROOT)]) == 0, "run `make results` and commit docs/results.md"


def _seed(root, seed, rmse, r90, verdict):
    folder = root / results.SEEDS / f"seed-{seed}"
    folder.mkdir(parents=True)
    split = {k: {"rmse_degC": v, "acc_time": 0.5} for k, v in
             {"truth": 0.3, "model": rmse, "damped_persistence": 0.33, "lim": 0.35, "climatology": 0.4}.items()}
    cell = {"radius50_km": 100.0, "radius90_km": r90, "share_month_minus1": 0.2, "share_before_minus12": 0.4,
            "efolding_month": -2.0}
    files = {"skill": {"test": split, "val": split}, "train": {"precision": "bf16"},
             "aggregate": {"method": "deeplift", "attribution": {"cells": {"a": cell}, "curve_spread": 0.01}},
             "basin": {"radius50_km": {"median": 300.0}, "curve_spread": 0.02},
             "score": {"deeplift": {"all": {"pearson_median": 0.4, "pearson_support_median": 0.5}}}}
    for name, value in files.items():
        (folder / f"{name}.json").write_text(json.dumps(value))
    (folder / "findings.md").write_text(
        "# title\n\n| finding | this run |\n|---|---|\n| skill (the gate) | skilful: MSE 0.9x |\n"
        f"| importance is local | {verdict} |\n\n| another | table |\n|---|---|\n| not | a verdict |\n")
    (folder / "commit.txt").write_text("abcdef123\n")


def test_seed_spread_by_hand(tmp_path):
    assert "No seeds" in results.seed_spread(tmp_path)
    _seed(tmp_path, 0, 0.31, 900.0, "holds")
    _seed(tmp_path, 1, 0.32, 950.0, "holds")
    text = results.seed_spread(tmp_path)
    assert "Commit abcdef1; 2 seeds" in text and "training in bf16" in text
    assert "| test RMSE (degC) | 0.31000 | 0.32000 | 0.01000 |" in text
    # captured: (0.16 - 0.0961) / 0.07 = 0.9129, (0.16 - 0.1024) / 0.07 = 0.8229
    assert "| captured share of the predictable MSE | 0.9129 | 0.8229 | 0.0900 |" in text
    assert "Lowest test MSE of all predictors: seed-0 truth, seed-1 truth." in text
    assert "| test MSE over damped persistence's | 0.8825 | 0.9403 | 0.0579 |" in text   # 0.0961 / 0.1089
    assert "| r90 (km), a | 900 | 950 | 50 |" in text
    assert "the same at every seed: \nskill (the gate): skilful; importance is local: holds." in text
    _seed(tmp_path, 2, 0.33, 2000.0, "does not hold")
    assert "**they differ**" in results.seed_spread(tmp_path)
