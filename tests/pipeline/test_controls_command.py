"""The end-to-end controls' command at toy sizes: one finding's pair (location: the regions' own
memories against one memory everywhere) at one replicate through tools/controls.py, resumed, then
the power table (climemu.report.controls), in a temporary git repository."""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from tests.pipeline.test_pipeline import _make_tool_repo, _run

pytestmark = pytest.mark.pipeline


def test_a_reduced_pair_runs_resumes_and_reports(tmp_path):
    one_memory = []

    def edit(params: dict) -> None:
        syn = params["data"]["synthetic"]
        # The tiny box lies in the subpolar region: planted, its memory covers the target-box cell
        # (60.5N) and not the open-ocean one (50.5N), which keeps the base memory.
        planted = [{**r, "box": {**r["box"], "lat_min": 55.0}} for r in syn["regions"] if r["name"] == "subpolar"]
        one_memory.extend({**r, "persistence": syn["persistence"], "decay": syn["decay"],
                           "reemergence": syn["reemergence"]} for r in planted)
        params["controls"].update({
            "replicates": [{"data": 101, "seed": 0}],
            "set": {"explain.methods": ["deeplift", "input_x_gradient"]},
            "methods": ["input_x_gradient"],
            "settings": {"planted": {"data.synthetic.regions": planted},
                         "one_memory": {"data.synthetic.regions": one_memory}},
            "pairs": {"location": {"present": "planted", "absent": "one_memory", "leads": [1]}}})

    repo, env = _make_tool_repo(tmp_path, edit, "controls")
    out = _run([sys.executable, "tools/controls.py"], repo, env)
    assert "controls: 2 experiments, 0 kept, 2 to run now" in out and "2 of 2 run" in out
    folders = sorted(p.relative_to(repo / "reports" / "controls").as_posix()
                     for p in (repo / "reports" / "controls").glob("*/lead-*/rep-*"))
    assert folders == ["one_memory/lead-1/rep-0", "planted/lead-1/rep-0"]
    one = repo / "reports" / "controls" / "one_memory" / "lead-1" / "rep-0"
    assert {"aggregate.json", "score.json", "skill.json", "identify.json", "commit.txt"} <= {p.name for p in one.iterdir()}
    kept = yaml.safe_load((one / "set.json").read_text())
    assert kept["data.synthetic.seed"] == 101 and kept["data.synthetic.regions"] == one_memory
    assert "controls: 2 experiments, 2 kept, 0 to run now" in _run([sys.executable, "tools/controls.py"], repo, env)
    _run([sys.executable, "-m", "climemu.report.controls", "--root", str(repo)], repo, env)
    power = json.loads((repo / "reports" / "controls" / "power.json").read_text())
    sources = power["location"]["sources"]
    assert set(sources) == {"truth", "group", "input_x_gradient"}
    # the settings' own answer: the truth finds the regions' memories where they are planted only
    assert (sources["truth"]["present"]["k"], sources["truth"]["absent"]["k"]) == (1, 0)
    assert all(s[state]["n"] == 1 for s in sources.values() for state in ("present", "absent"))
    page = (repo / "reports" / "controls.md").read_text()
    assert "| 3: depends on location (planted / one_memory) | deeplift (group) |" in page
