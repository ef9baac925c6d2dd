"""The study's report (climemu.report.study) from hand-made experiment folders."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import yaml

from climemu.report import study

ROOT = Path(__file__).resolve().parents[2]


def test_interval_by_hand():
    iv = study.interval([1.0, 2.0, 3.0], 0.9)
    # mean 2, sd 1, n 3: half width t(0.95, 2) / sqrt(3) = 2.919986 / 1.732051 = 1.685854
    assert iv["mean"] == 2.0 and iv["low"] == pytest.approx(2 - 1.685854, abs=1e-6)
    assert iv["high"] == pytest.approx(2 + 1.685854, abs=1e-6) and (iv["min"], iv["max"]) == (1.0, 3.0)
    one = study.interval([5.0], 0.9)
    assert math.isnan(one["low"]) and study.decide(one, 1.0) == "undecided"


def test_decide_by_the_whole_interval():
    iv = lambda lo, hi: {"low": lo, "high": hi}                       # noqa: E731
    assert study.decide(iv(1.1, 1.5), 1.0) == "yes" and study.decide(iv(0.2, 0.9), 1.0) == "no"
    assert study.decide(iv(0.9, 1.1), 1.0) == "undecided"
    assert study.decide(iv(0.2, 0.9), 1.0, above=False) == "yes"
    assert study.decide(iv(1.1, 1.5), 1.0, above=False) == "no"


def test_ratio_interval_brackets_the_ratio_of_means_and_is_seeded():
    r = study.ratio_interval([0.2, 0.22, 0.18], [0.05, 0.06, 0.04], 0.9, 2000)
    assert r["mean"] == pytest.approx(0.6 / 0.15)
    assert r["low"] < r["mean"] < r["high"]
    again = study.ratio_interval([0.2, 0.22, 0.18], [0.05, 0.06, 0.04], 0.9, 2000)
    assert (again["low"], again["high"]) == (r["low"], r["high"])
    same = study.ratio_interval([1.0, 1.0], [2.0, 2.0], 0.9, 500)
    assert same["low"] == same["high"] == 0.5


def _run(folder: Path, mse: dict, r90: float, share12: float) -> None:
    folder.mkdir(parents=True)
    skill = {"test": {k: {"rmse_degC": math.sqrt(v)} for k, v in mse.items()}}
    agg = {"linked_cells": ["t"], "attribution": {"curve_spread": 0.01, "cells": {
        "t": {"radius90_km": r90, "source_box_share": 0.0, "share_before_minus12": share12}}},
        "truth": {"cells": {"t": {"share_before_minus12": share12 / 2}}}}
    (folder / "skill.json").write_text(json.dumps(skill))
    (folder / "aggregate.json").write_text(json.dumps(agg))
    (folder / "commit.txt").write_text("abc1234\n")


def test_render_gates_and_decides_from_folders(tmp_path):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    base = {"truth": 1.0, "climatology": 2.0, "damped_persistence": 1.2, "lim": 1.3}
    for seed, (m, s1, s9) in enumerate([(1.02, 0.010, 0.050), (1.03, 0.011, 0.055), (1.04, 0.012, 0.060)]):
        _run(tmp_path / study.STUDY / "lead-1" / "default" / f"seed-{seed}", {**base, "model": m}, 300.0, s1)
        _run(tmp_path / study.STUDY / "lead-9" / "default" / f"seed-{seed}", {**base, "model": m + 0.05}, 320.0, s9)
        # an arm worse than damped persistence at every seed: reported, not judged
        _run(tmp_path / study.STUDY / "lead-1" / "table1" / f"seed-{seed}", {**base, "model": 1.5}, 900.0, s1)
    page = study.render(tmp_path)
    assert "| 1 | default | 3 |" in page and "| judged |" in page
    assert "| 1 | table1 | 3 |" in page and "| not judged |" in page
    # captured share of seed 0 at lead 1: (2 - 1.02) / (2 - 1) = 0.98, the mean 0.97
    assert "0.970 [" in page
    assert "| 1: local (largest r90 <= 1500 km) | 1 | default | 300 [" in page
    # finding 2: shares 0.055 / 0.011 = 5x at lead 9 over lead 1, every draw above 2x
    row = next(line for line in page.splitlines() if line.startswith("| default | t |"))
    assert row.startswith("| default | t | 5.00 [") and row.endswith("| yes |")
    # shares by lead: means 0.011 and 0.055; the truth's half of each (0.0055 -> 0.006 at 3 digits)
    assert "| 0.011 / 0.055 | 0.006 / 0.028 | yes |" in row


def test_the_study_lists_every_lead_arm_and_seed():
    import sys
    sys.path.insert(0, str(ROOT / "tools"))
    import study as tool                                         # tools/study.py
    cfg = yaml.safe_load((ROOT / "params.yaml").read_text())["study"]
    runs = tool.experiments(cfg)
    assert len(runs) == len(cfg["leads"]) * len(cfg["arms"]) * len(cfg["seeds"])
    folder, values = runs[0]
    assert folder.relative_to(tool.OUT).parts == (f"lead-{cfg['leads'][0]}", next(iter(cfg["arms"])),
                                                  f"seed-{cfg['seeds'][0]}")
    assert values["lead"] == cfg["leads"][0] and values["seed"] == cfg["seeds"][0]


def _maps(folder: Path, noise: float, seed: int) -> None:
    """A maps.nc (climemu.report.ensemble.summary's layout): one cell, the truth plus noise."""
    import numpy as np
    import xarray as xr
    rng = np.random.default_rng(seed)
    truth = np.exp(-np.add.outer((np.arange(5) - 2.0) ** 2, (np.arange(7) - 3.0) ** 2))   # (lat, lon)
    net = truth + noise * rng.uniform(0, 1, truth.shape)
    curve = np.array([0.1, 0.2, 0.7]) + noise * rng.uniform(0, 1, 3)
    xr.Dataset({"absolute": (("cell", "lat", "lon"), net[None]),
                "truth_absolute": (("cell", "lat", "lon"), truth[None]),
                "curve": (("cell", "month"), curve[None]),
                "truth_curve": (("cell", "month"), np.array([[0.0, 0.2, 0.8]])),
                "ocean": (("lat", "lon"), np.ones(truth.shape, np.int8))},
               coords={"cell": ["t"], "cell_i": ("cell", [2]), "cell_j": ("cell", [3]),
                       "lat": 40.5 + np.arange(5.0), "lon": -30.5 + np.arange(7.0), "month": [-3, -2, -1]},
               ).to_netcdf(folder / "maps.nc")


def test_ensemble_curves_figure_and_page_from_folders(tmp_path):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    base = {"truth": 1.0, "climatology": 2.0, "damped_persistence": 1.2, "lim": 1.3, "model": 1.03}
    for seed in range(3):
        for lead in (1, 9):
            folder = tmp_path / study.STUDY / f"lead-{lead}" / "default" / f"seed-{seed}"
            _run(folder, base, 300.0, 0.01)
            _maps(folder, 0.3, 10 * lead + seed)
    page = study.render(tmp_path)
    rows = [line for line in page.splitlines() if line.startswith("| 1 | default | 3 | map_pearson |")]
    # independent noise averages out over three networks: the ensemble's map is closer to the truth
    assert len(rows) == 1 and rows[0].endswith("| yes |")
    assert study.main(["--root", str(tmp_path)]) == 0
    table = __import__("pandas").read_csv(tmp_path / study.CURVES)
    assert set(table["lead"]) == {1, 9} and set(table["source"]) == {"network", "truth"}
    # normalised truth curve (0, 0.2, 0.8) at every lead; the networks' interval holds their mean
    truth = table[(table["source"] == "truth") & (table["lead"] == 1)]
    assert list(truth["mean"]) == pytest.approx([0.0, 0.2, 0.8])
    net = table[table["source"] == "network"]
    assert ((net["low"] <= net["mean"]) & (net["mean"] <= net["high"])).all()
    assert (tmp_path / study.FIGURE).read_bytes()[:4] == b"\x89PNG"
    html = (tmp_path / study.HTML).read_text()
    assert "data:image/png;base64," in html and "<table>" in html


def test_a_folder_without_maps_is_run_again(tmp_path):
    import sys
    sys.path.insert(0, str(ROOT / "tools"))
    import study as tool                                         # tools/study.py
    folder = tmp_path / "seed-0"
    _run(folder, {"truth": 1.0}, 300.0, 0.01)
    assert not tool.kept(folder)
    _maps(folder, 0.1, 0)
    assert tool.kept(folder)


def test_one_seed_has_no_interval():
    # a bootstrap of one seed resamples that seed only: a zero-width interval would look certain
    r = study.ratio_interval([0.2], [0.1, 0.12], 0.9, 500)
    assert r["mean"] == pytest.approx(0.2 / 0.11) and math.isnan(r["low"]) and math.isnan(r["high"])
    assert study._fmt(study.interval([1.5], 0.9)) == "1.500 (one seed: no interval)"


def test_cost_from_the_folders_wall_times(tmp_path):
    for seed, wall in enumerate(["200.0 s on 2 cores\n", "400.0 s on 2 cores\n", None]):
        folder = tmp_path / study.STUDY / "lead-1" / "default" / f"seed-{seed}"
        _run(folder, {"truth": 1.0}, 300.0, 0.01)
        if wall:
            (folder / "wall.txt").write_text(wall)
    text = "\n".join(study.cost_section(tmp_path))
    assert "2 of the 3 kept experiments" in text and "on 2 cores" in text
    assert "0.17 h in all, median 300 s, range 200-400 s" in text       # 600 s = 0.1667 h
    # the third, without wall.txt, at the median 300 s: 900 s = 0.25 h for all three
    assert "the other 1 (kept before folders recorded it) at the median, about 0.25 h for all 3 (an estimate)" in text
