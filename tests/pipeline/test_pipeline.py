"""Real DVC stages on tiny inputs, in a temporary git repository copied from this one."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.pipeline

TINY = {
    "data": {"box": {"lat_min": 45.0, "lat_max": 65.0, "lon_min": -50.0, "lon_max": -20.0},
             "first_year": 401, "last_year": 430,
             "synthetic": {"spinup_months": 24,
                           "source_box": {"lat_min": 46.0, "lat_max": 50.0, "lon_min": -45.0, "lon_max": -40.0},
                           "target_box": {"lat_min": 58.0, "lat_max": 62.0, "lon_min": -30.0, "lon_max": -25.0}}},
    "window": {"n_train": 32, "n_val": 16, "n_test": 16},
    "train": {"epochs": 1, "batch_size": 16},
    "explain": {"n_steps": 4, "max_samples": 6, "batch_size": 3,
                "instance_cells": [{"name": "A", "lat": 64.5, "lon": -45.5},
                                   {"name": "B", "lat": 55.5, "lon": -35.5}],
                "group_cells": [{"name": "target_box", "lat": 60.5, "lon": -27.5},
                                {"name": "open_ocean", "lat": 50.5, "lon": -35.5}]},
    "ablate": {"box": {"lat_min": 52.0, "lat_max": 55.0, "lon_min": -38.0, "lon_max": -35.0},
               "max_samples": 6},
    "evaluate": {"lim_modes": [2, 5]},
    "score": {"max_samples": 2, "batch_size": 2, "n_steps": 4},
    "sanity": {"max_samples": 2, "batch_size": 2, "n_steps": 4, "cell": "open_ocean"},
}
STAGES = ["ablate", "aggregate", "evaluate", "explain", "fetch", "report", "sanity", "score", "smooth",
          "train", "window"]
PREDICTORS = {"model", "climatology", "persistence", "damped_persistence", "lim", "truth"}
METHODS = {"deeplift", "integrated_gradients", "guided_backprop", "deeplift_shap", "saliency",
           "input_x_gradient"}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) else v
    return out


def _run(cmd: list[str], cwd: Path, env: dict) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, dict]:
    """A git repository holding this project's files with tiny params, committed."""
    dst = tmp_path_factory.mktemp("pipeline") / "repo"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file() and not f.startswith(("metrics/", "plots/")) and f != "dvc.lock":
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dst / f)
    params = _merge(yaml.safe_load((ROOT / "params.yaml").read_text()), TINY)
    (dst / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1", "MPLBACKEND": "Agg",
           "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
           "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("DVC_ROOT", None)
    _run(["git", "init", "-q", "-b", "main"], dst, env)
    _run(["git", "add", "-A"], dst, env)
    _run(["git", "commit", "-q", "-m", "tiny"], dst, env)
    _run(["dvc", "repro"], dst, env)
    return dst, env


def _mlflow_runs(repo: Path) -> list[tuple[str, str, str]]:
    """(stage, dvc_exp, lead) tags of every run in the repository's MLflow database."""
    con = sqlite3.connect(repo / "mlflow.db")
    rows = con.execute("select run_uuid, key, value from tags").fetchall()
    con.close()
    runs: dict[str, dict] = {}
    for run, key, value in rows:
        runs.setdefault(run, {})[key] = value
    return [(t.get("stage"), t.get("dvc_exp"), t.get("lead")) for t in runs.values()]


def test_repro_writes_outputs_and_metrics(repo):
    path, _ = repo
    for out in ("data/raw.nc", "data/smoothed.nc", "data/windows.nc", "models/model.pt",
                "explain/instance.nc", "explain/group.nc", "plots/train_curve.csv",
                "plots/contribution.csv", "plots/figures/fig4_group.png",
                "plots/figures/fig5_ablation.png", "plots/figures/score_methods.png",
                "plots/figures/sanity.png", "reports/findings.md", "dvc.lock"):
        assert (path / out).is_file(), out
    metrics = json.loads((path / "metrics/train.json").read_text())
    assert metrics["n_params"] == 606_300 and metrics["best_epoch"] == 1
    assert metrics["val_rmse_degC"] > 0 and -1 <= metrics["val_acc"] <= 1
    explain = json.loads((path / "metrics/explain.json").read_text())
    assert explain["group"]["group_attributions"] == 12 and explain["synthetic_truth"]
    assert explain["group"]["relative_delta_median"] < 0.05
    agg = json.loads((path / "metrics/aggregate.json").read_text())
    assert set(agg["attribution"]["cells"]) == {"target_box", "open_ocean"}
    assert set(agg["agreement"]) == {"target_box", "open_ocean"}
    ablate = json.loads((path / "metrics/ablate.json").read_text())
    assert ablate["far_field_influence"] >= 0 and "teleconnection" in ablate
    skill = json.loads((path / "metrics/skill.json").read_text())
    assert set(skill["val"]) == set(skill["test"]) == PREDICTORS and skill["lead"] == 1
    assert skill["test"]["persistence"]["skill_vs_persistence"] == 0.0
    assert set(skill["target_box"]["test"]) == PREDICTORS
    score = json.loads((path / "metrics/score.json").read_text())
    assert METHODS <= set(score) and set(score["truth"]) == {"target_box", "open_ocean"}
    assert score["deeplift"]["all"]["pearson_support_median"] <= 1 and score["n_samples"] == 2
    sanity = json.loads((path / "metrics/sanity.json").read_text())
    assert sanity["cell"] == "open_ocean" and sanity["steps"][0] == "last" and sanity["steps"][-1] == "stem"
    assert set(sanity["deeplift"]["spearman"]) == set(sanity["steps"])
    findings = (path / "reports/findings.md").read_text()
    assert "## Finding 4" in findings and "## Sanity checks" in findings
    assert sorted(s for s, _, _ in _mlflow_runs(path)) == STAGES


def test_contribution_plot_is_declared(repo):
    path, env = repo
    shown = json.loads(_run(["dvc", "plots", "show", "--json"], path, env))
    contribution = shown["data"]["contribution"][0]
    assert contribution["type"] == "vega"
    values = contribution["content"]["data"]["values"]
    assert {v["method"] for v in values} == {"deeplift", "truth"} and len(values) > 0


def test_nothing_changed_nothing_runs(repo):
    path, env = repo
    out = _run(["dvc", "repro"], path, env)
    assert "Running stage" not in out


def test_exp_run_lead_6_reruns_window_and_train_only(repo):
    path, env = repo
    _run(["git", "add", "-A"], path, env)
    _run(["git", "commit", "-q", "-m", "lead 1 results"], path, env)
    out = _run(["dvc", "exp", "run", "-S", "lead=6", "-n", "lead6"], path, env)
    assert "Running stage 'window'" in out and "Running stage 'train'" in out
    assert "Running stage 'fetch'" not in out and "Running stage 'smooth'" not in out
    runs = _mlflow_runs(path)
    assert sorted(s for s, e, _ in runs if e == "lead6") == [s for s in STAGES if s not in ("fetch", "smooth")]
    assert {lead for s, e, lead in runs if e == "lead6"} == {"6"}
    shown = json.loads(_run(["dvc", "exp", "show", "--json"], path, env))
    assert "lead6" in json.dumps(shown)
    diff = json.loads(_run(["dvc", "metrics", "diff", "HEAD", "lead6", "--json"], path, env))
    rows = diff["metrics/skill.json"]
    assert {key.split(".")[1] for key in rows if key.startswith("test.")} == PREDICTORS
