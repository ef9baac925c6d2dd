"""The study command end to end at toy sizes: 2 leads x 2 seeds through tools/study.py, resumed,
then its report (climemu.report.study), in a temporary git repository."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.pipeline.test_pipeline import _make_tool_repo, _run

pytestmark = pytest.mark.pipeline


def test_a_tiny_study_runs_resumes_and_reports(tmp_path):
    # The group method alone: the tiny pipeline's other methods are the pipeline test's business.
    repo, env = _make_tool_repo(tmp_path, lambda p: p["study"].update(
        {"leads": [1, 2], "arms": {"default": {}}, "seeds": [0, 1], "set": {"explain.methods": ["deeplift"]}}),
        "study")
    out = _run([sys.executable, "tools/study.py"], repo, env)
    assert "study: 4 experiments, 0 kept, 4 to run now" in out and "4 of 4 run" in out and "left" in out
    folders = sorted(p.relative_to(repo / "reports" / "study").as_posix()
                     for p in (repo / "reports" / "study").glob("lead-*/*/seed-*"))
    assert folders == ["lead-1/default/seed-0", "lead-1/default/seed-1", "lead-2/default/seed-0",
                       "lead-2/default/seed-1"]
    one = repo / "reports" / "study" / "lead-2" / "default" / "seed-1"
    # only what this experiment's stages wrote: skill and maps, not the committed score
    assert {"skill.json", "aggregate.json", "maps.nc", "commit.txt", "set.json"} <= {p.name for p in one.iterdir()}
    assert not (one / "score.json").exists() and not (one / "findings.md").exists()
    assert yaml.safe_load((one / "set.json").read_text())["lead"] == 2
    assert "study: 4 experiments, 4 kept, 0 to run now" in _run([sys.executable, "tools/study.py"], repo, env)
    _run([sys.executable, "-m", "climemu.report.study", "--root", str(repo)], repo, env)
    page = (repo / "reports" / "study.md").read_text()
    assert "| 1 | default | 2 |" in page and "| 2 | default | 2 |" in page
    assert "Finding 2 (reach grows)" in page and "| default | target_box |" in page
    # the seed ensemble needs 3 networks; the curves over seeds and the page are written from 2
    assert "no lead and arm has 3 networks with maps yet" in page
    curves = (repo / "reports" / "study" / "curves.csv").read_text().splitlines()
    assert curves[0] == "lead,arm,cell,source,month,mean,low,high,seeds" and len(curves) > 1
    assert (repo / "reports" / "study.html").exists()
    subprocess.run(["git", "status"], cwd=repo, check=True, capture_output=True)
