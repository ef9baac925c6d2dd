"""The end-to-end controls' power table (climemu.report.controls) from hand-made experiment folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from climemu.report import controls

ROOT = Path(__file__).resolve().parents[2]


def _folder(root: Path, setting: str, lead: int, rep: int, r90: float, truth_r90: float, skill_ok: bool = True,
            ig_r90: float | None = None) -> None:
    folder = root / controls.CONTROLS / setting / f"lead-{lead}" / f"rep-{rep}"
    folder.mkdir(parents=True)
    model = 1.02 if skill_ok else 1.5             # truth 1, climatology 2: captured 98% or fails the gate
    mse = {"truth": 1.0, "climatology": 2.0, "damped_persistence": 1.2, "lim": 1.3, "model": model}
    cell = lambda r: {"radius90_km": r, "source_box_share": 0.0, "share_before_minus12": 0.01}  # noqa: E731
    agg = {"method": "deeplift", "linked_cells": ["t"],
           "attribution": {"cells": {"t": cell(r90), "u": cell(300.0)}, "curve_spread": 0.01},
           "truth": {"cells": {"t": cell(truth_r90), "u": cell(200.0)}, "curve_spread": 0.02}}
    score = {"integrated_gradients": {"t": cell(ig_r90 or r90), "u": cell(300.0),
                                      "all": {"curve_spread": 0.01}}}
    files = {"aggregate": agg, "score": score, "identify": {},
             "skill": {"test": {k: {"rmse_degC": v ** 0.5} for k, v in mse.items()}}}
    for name, value in files.items():
        (folder / f"{name}.json").write_text(json.dumps(value))
    (folder / "commit.txt").write_text("abc\n")


def test_power_by_hand(tmp_path):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["controls"]["pairs"] = {"local": {"present": "planted", "absent": "wide", "leads": [1]}}
    params["controls"]["methods"] = ["integrated_gradients"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    # planted: the truth is local (200 km); the group maps at 900, 1200 and 1800 km (local_km 1500):
    # found at 2 of 3 replicates; the second replicate's network fails the gate: 1 of 3.
    for rep, (r90, ok) in enumerate([(900.0, True), (1200.0, False), (1800.0, True)]):
        _folder(tmp_path, "planted", 1, rep, r90, 200.0, ok, ig_r90=1000.0)
    # wide: the truth is not local (2500 km); the group maps 1400 km at one replicate: a false alarm
    for rep, r90 in enumerate([1400.0, 2000.0, 2600.0]):
        _folder(tmp_path, "wide", 1, rep, r90, 2500.0, ig_r90=2000.0)
    table, text = controls.compute(tmp_path)
    local = table["local"]["sources"]
    assert (local["truth"]["present"]["k"], local["truth"]["absent"]["k"]) == (3, 0)
    assert (local["group"]["present"]["k"], local["group"]["present"]["judged"]) == (1, 2)
    assert local["group"]["absent"]["k"] == 1 and local["group"]["absent"]["n"] == 3
    assert (local["integrated_gradients"]["present"]["k"], local["integrated_gradients"]["absent"]["k"]) == (2, 0)
    # 3 of 3 has a 90% Clopper-Pearson interval [0.05^(1/3), 1] = [0.368, 1]
    assert local["truth"]["present"]["low"] == pytest.approx(0.05 ** (1 / 3), abs=1e-9)
    assert local["truth"]["present"]["high"] == 1.0
    # the value read: the largest r90, mean over replicates (900, 1200, 1800 -> 1300)
    assert local["group"]["present"]["value"]["mean"] == pytest.approx(1300.0)
    # the rule alone, gate or not: 900 and 1200 km where planted, 1400 km where absent
    assert (local["group"]["present"]["rule"]["k"], local["group"]["absent"]["rule"]["k"]) == (2, 1)
    assert controls.reading(local["truth"]) == "tells presence from absence"
    assert controls.reading(local["group"]) == "finds it where planted and where absent (false alarms)"
    assert controls.reading(local["integrated_gradients"]) == "tells presence from absence (not in every planted replicate)"
    hidden = {"present": {"k": 3, "n": 3}, "absent": {"k": 0, "n": 3, "rule": {"k": 2, "n": 3}}}
    assert controls.reading(hidden).startswith("finds it where planted, but its maps pass the rule where absent too (2/3)")
    assert controls.reading({"present": {"k": 0, "n": 3}, "absent": {"k": 0, "n": 3}}) == "misses it where planted"
    row = next(line for line in text.splitlines() if "| deeplift (group) |" in line)
    assert row.startswith("| 1: local (planted / wide) | deeplift (group) | 1/3 [") and row.endswith("| 2/3, 3/3 | 2/3, 1/3 |")


def test_reach_needs_both_leads_of_a_replicate(tmp_path):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["controls"]["pairs"] = {"reach": {"present": "planted", "absent": "no_reemergence", "leads": [1, 9]}}
    params["controls"]["methods"] = []
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    for setting in ("planted", "no_reemergence"):
        for rep in range(2):
            _folder(tmp_path, setting, 1, rep, 500.0, 200.0)
    _folder(tmp_path, "planted", 9, 0, 500.0, 200.0)
    lead9 = tmp_path / controls.CONTROLS / "planted" / "lead-9" / "rep-0" / "aggregate.json"
    agg = json.loads(lead9.read_text())
    agg["attribution"]["cells"]["t"]["share_before_minus12"] = 0.05       # 5x lead 1's 0.01, above 0.02
    lead9.write_text(json.dumps(agg))
    # the truth: 0.01 -> 0.03 at cell t (3x); cell u 0 -> 0.001, an infinite ratio below the rule's
    # share minimum (0.02): not the value read
    agg["truth"]["cells"]["t"]["share_before_minus12"] = 0.03
    agg["truth"]["cells"]["u"]["share_before_minus12"] = 0.001
    lead9.write_text(json.dumps(agg))
    lead1 = lead9.parents[2] / "lead-1" / "rep-0" / "aggregate.json"
    agg1 = json.loads(lead1.read_text())
    agg1["truth"]["cells"]["u"]["share_before_minus12"] = 0.0
    lead1.write_text(json.dumps(agg1))
    table, _ = controls.compute(tmp_path)
    assert table["reach"]["sources"]["truth"]["present"]["value"]["mean"] == pytest.approx(3.0)
    assert table["reach"]["sources"]["truth"]["present"]["k"] == 1
    group = table["reach"]["sources"]["group"]
    # replicate 1 has no lead 9: left out; replicate 0 grows; the absent setting has no lead 9 at all
    assert (group["present"]["k"], group["present"]["n"]) == (1, 1)
    assert group["absent"]["n"] == 0
    assert group["present"]["value"]["mean"] == pytest.approx(5.0)


def test_no_folders_no_table(tmp_path):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    table, text = controls.compute(tmp_path)
    assert table == {} and "run `make controls`" in text
