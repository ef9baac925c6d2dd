"""Real DVC stages on tiny inputs, in a temporary git repository copied from this one."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from tests.helpers import TINY, merge

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.pipeline

STAGES = ["ablate", "aggregate", "band", "basin", "evaluate", "explain", "faithfulness", "fetch", "identify",
          "report", "sanity", "score", "smooth", "train", "window"]
PREDICTORS = {"model", "climatology", "persistence", "damped_persistence", "lim", "shared_filter", "truth"}
METHODS = {"deeplift", "integrated_gradients", "guided_backprop", "deeplift_shap", "saliency",
           "input_x_gradient", "smoothgrad", "occlusion", "kernel_shap", "random", "edges"}


def _run(cmd: list[str], cwd: Path, env: dict) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


def _make_repo(dst: Path) -> dict:
    """Copy this project's files into ``dst`` with tiny params, commit; returns the environment."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file() and not f.startswith(("metrics/", "plots/")) and f != "dvc.lock":
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dst / f)
    params = merge(yaml.safe_load((ROOT / "params.yaml").read_text()), TINY)
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
    return env


def _make_tool_repo(tmp_path: Path, edit, kept: str) -> tuple[Path, dict]:
    """A tiny repository for a tool's test (tools/study.py, tools/controls.py): ``edit(params)``
    changes its params in place, the project's own kept experiments (``reports/<kept>``) are
    removed, and the result is committed (the tools run the committed HEAD)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    env = _make_repo(repo)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    edit(params)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.rmtree(repo / "reports" / kept, ignore_errors=True)
    _run(["git", "commit", "-q", "-am", f"tiny {kept}"], repo, env)
    return repo, env


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, dict]:
    """A git repository holding this project's files with tiny params, after `dvc repro`."""
    dst = tmp_path_factory.mktemp("pipeline") / "repo"
    env = _make_repo(dst)
    _run(["dvc", "repro"], dst, env)
    return dst, env


def _mlflow_tags(repo: Path) -> dict[str, dict]:
    """run id -> tags of every run in the repository's MLflow database."""
    con = sqlite3.connect(repo / "mlflow.db")
    rows = con.execute("select run_uuid, key, value from tags").fetchall()
    con.close()
    runs: dict[str, dict] = {}
    for run, key, value in rows:
        runs.setdefault(run, {})[key] = value
    return runs


def _mlflow_runs(repo: Path) -> list[tuple[str, str, str]]:
    """(stage, dvc_exp, lead) tags of every stage run (the parent runs left out)."""
    return [(t["stage"], t.get("dvc_exp"), t.get("lead")) for t in _mlflow_tags(repo).values()
            if "stage" in t]


def _executions(repo: Path) -> dict[str, list[list[str]]]:
    """Experiment name -> the sorted stage names nested under each of its parent runs."""
    tags = _mlflow_tags(repo)
    out: dict[str, list[list[str]]] = {}
    for run, t in tags.items():
        if t.get("climemu.kind") == "execution":
            children = sorted(c["stage"] for c in tags.values() if c.get("mlflow.parentRunId") == run)
            out.setdefault(t["mlflow.runName"], []).append(children)
    return out


def test_repro_writes_outputs_and_metrics(repo):
    path, _ = repo
    for out in ("data/raw.nc", "data/smoothed.nc", "data/windows.nc", "models/model.pt",
                "explain/instance.nc", "explain/group.nc", "plots/train_curve.csv",
                "plots/contribution.csv", "plots/figures/fig4_group.png",
                "plots/figures/fig5_ablation.png", "plots/figures/score_methods.png",
                "plots/figures/sanity.png", "reports/findings.md", "explain/basin.nc",
                "plots/figures/basin_maps.png", "plots/figures/faithfulness.png", "plots/faithfulness.csv",
                "reports/index.html", "dvc.lock"):
        assert (path / out).is_file(), out
    metrics = json.loads((path / "metrics/train.json").read_text())
    assert metrics["n_params"] == 606_300 + 36 * 3 * 3 and metrics["best_epoch"] == 1   # Table 1 + the 3 x 3 skip path
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
    basin = json.loads((path / "metrics/basin.json").read_text())
    assert basin["n_cells"] == 3 and basin["attributions"] == 12
    score = json.loads((path / "metrics/score.json").read_text())
    assert METHODS <= set(score) and set(score["truth"]) == {"target_box", "open_ocean"}
    assert score["deeplift"]["all"]["pearson_support_median"] <= 1 and score["n_samples"] == 2
    sanity = json.loads((path / "metrics/sanity.json").read_text())
    # the default skip path reads the input like the stem: re-initialised last, after it (docs/model.md)
    assert sanity["cell"] == "open_ocean" and sanity["steps"][0] == "last" and sanity["steps"][-2:] == ["stem", "skip"]
    assert set(sanity["deeplift"]["spearman"]) == set(sanity["steps"])
    faith = json.loads((path / "metrics/faithfulness.json").read_text())
    assert METHODS <= set(faith) and faith["synthetic_truth"] and faith["n_samples"] == 1
    assert set(faith["validation"]) == set(faith["ranking"]) and len(faith["ranking"]) == 8
    findings = (path / "reports/findings.md").read_text()
    assert "## Finding 4" in findings and "## Sanity checks" in findings and "## Faithfulness" in findings
    assert sorted(s for s, _, _ in _mlflow_runs(path)) == STAGES
    page = (path / "reports/index.html").read_text()
    assert 'id="plot-contribution"' in page and "## Finding 4" not in page and "Finding 4" in page
    # One parent run for the `dvc repro`, every stage nested under it.
    assert _executions(path) == {"workspace": [STAGES]}


def test_training_is_logged_with_step_metrics_and_a_loadable_model(repo):
    import mlflow
    import torch
    from climemu.training.checkpoint import load_checkpoint

    path, _ = repo
    uri = f"sqlite:///{path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    train = next(r for r, t in _mlflow_tags(path).items() if t.get("stage") == "train")
    curve = np.loadtxt(path / "plots/train_curve.csv", delimiter=",", skiprows=1, ndmin=2)
    history = sorted(client.get_metric_history(train, "val_loss"), key=lambda m: m.step)
    assert [m.step for m in history] == [int(e) for e in curve[:, 0]]
    np.testing.assert_allclose([m.value for m in history], curve[:, 2], rtol=1e-4)
    mlflow.set_tracking_uri(uri)
    loaded = mlflow.pytorch.load_model(f"runs:/{train}/model")
    net, meta = load_checkpoint(path / "models/model.pt")
    x = torch.randn(2, meta["input_months"], *meta["grid"], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        np.testing.assert_allclose(loaded(x).numpy(), net(x).numpy(), rtol=1e-4, atol=1e-5)


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


TIMING = ("second", "elapsed")               # keys that measure the run, not its result
RUN_KEYS = ("device", "processes", "threads")


def _result_metrics(repo: Path) -> dict:
    """Every metric of ``metrics/*.json``, flattened, without timings."""
    def flat(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                yield from flat(v, f"{prefix}{k}.")
            elif not any(t in k for t in TIMING) and k not in RUN_KEYS:
                yield f"{prefix}{k}", v
    return {f"{f.name}:{k}": v for f in sorted((repo / "metrics").glob("*.json"))
            for k, v in flat(json.loads(f.read_text()))}


def test_repro_again_gives_identical_metrics(repo, tmp_path):
    """Same machine, same commit: `dvc repro -f` reproduces every non-timing metric exactly.

    From `train` down: the stages with seeded randomness (initialisation, shuffling, sample and
    baseline draws) and every stage after them; fetch, identify, smooth and window are plain
    array arithmetic, and their outputs feed the rerun unchanged (it saves a quarter of the test)."""
    src, env = repo
    first = _result_metrics(src)
    assert len(first) > 100 and "train.json:val_rmse_degC" in first
    work = tmp_path / "again"
    shutil.copytree(src, work, ignore=shutil.ignore_patterns("mlflow.db", "mlartifacts"))
    out = _run(["dvc", "repro", "-f", "--downstream", "train"], work, env)
    assert "Running stage 'train'" in out and "Running stage 'report'" in out
    assert "Running stage 'fetch'" not in out
    again = _result_metrics(work)
    assert again.keys() == first.keys()
    differ = {k: (first[k], again[k]) for k in first if first[k] != again[k]
              and not (first[k] != first[k] and again[k] != again[k])}        # NaN == NaN here
    assert not differ, differ


def test_exp_run_lead_6_reruns_window_and_train_only(repo):
    path, env = repo
    _run(["git", "add", "-A"], path, env)
    _run(["git", "commit", "-q", "-m", "lead 1 results"], path, env)
    out = _run(["dvc", "exp", "run", "-S", "lead=6", "-n", "lead6"], path, env)
    assert "Running stage 'window'" in out and "Running stage 'train'" in out
    assert "Running stage 'fetch'" not in out and "Running stage 'smooth'" not in out
    runs = _mlflow_runs(path)
    # identify states its rules at lead 1 whatever `lead` is: it does not rerun either
    assert sorted(s for s, e, _ in runs if e == "lead6") == [s for s in STAGES
                                                             if s not in ("fetch", "identify", "smooth")]
    assert {lead for s, e, lead in runs if e == "lead6"} == {"6"}
    assert _executions(path)["lead6"] == [sorted(s for s, e, _ in runs if e == "lead6")]
    shown = json.loads(_run(["dvc", "exp", "show", "--json"], path, env))
    assert "lead6" in json.dumps(shown)
    diff = json.loads(_run(["dvc", "metrics", "diff", "HEAD", "lead6", "--json"], path, env))
    rows = diff["metrics/skill.json"]
    assert {key.split(".")[1] for key in rows if key.startswith("test.")} == PREDICTORS


def _assert_same_across_processes(one: xr.Dataset, two: xr.Dataset, atol: dict) -> None:
    """1- and 2-process results agree to what a different summation order can move them.

    Float32 sums in another order (another split of samples, another CPU) move a value by a few
    ulps of the largest terms summed, not of the value itself: values near zero are compared with
    an absolute tolerance, 1e-5 of the variable's largest magnitude unless ``atol`` names one in
    the variable's units: shares of a curve that sums to 1; correlations in [-1, 1], where
    ``truth_spearman`` (a rank correlation over mostly tied inputs, values ~0.004) moved by 9e-8
    on another CPU: 1e-4 leaves room for a swap of near-ties and still catches a lost sample.
    """
    assert set(one.data_vars) == set(two.data_vars)
    xr.testing.assert_equal(one.drop_vars(list(one.data_vars)), two.drop_vars(list(two.data_vars)))
    for name in one.data_vars:
        a, b = one[name].values, two[name].values
        if not np.issubdtype(a.dtype, np.floating):
            np.testing.assert_array_equal(b, a, err_msg=name)
            continue
        scale = float(np.nanmax(np.abs(a))) if np.isfinite(a).any() else 0.0
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=atol.get(name, 1e-5 * scale), err_msg=name)


def test_torchrun_two_cpu_processes(repo, tmp_path):
    """explain, basin and train under torchrun, 2 CPU processes with gloo (docs/design.md).

    explain's running sums over samples split between the processes, and basin's measures of
    cells split between them, equal the one-process results to float tolerance; training runs
    data-parallel and writes a checkpoint.
    """
    src, env = repo
    work = tmp_path / "ddp"
    shutil.copytree(src, work, ignore=shutil.ignore_patterns(".git", ".dvc", "mlflow.db"))
    env = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
    params = yaml.safe_load((work / "params.yaml").read_text())

    def run(stage: str, nproc: int) -> str:
        params[stage]["nproc"] = nproc
        (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        return _run([sys.executable, f"stages/{stage}.py"], work, env)

    run("explain", 1)
    one = xr.load_dataset(work / "explain/group.nc")
    out = run("explain", 2)
    assert "on 2 process(es)" in out
    two = xr.load_dataset(work / "explain/group.nc")
    _assert_same_across_processes(one, two, atol={"truth_spearman": 1e-4, "truth_pearson": 1e-6})
    assert json.loads((work / "metrics/explain.json").read_text())["group"]["processes"] == 2

    run("basin", 1)
    one = xr.load_dataset(work / "explain/basin.nc")
    run("basin", 2)                    # 3 cells: one process takes 1, the other 2
    two = xr.load_dataset(work / "explain/basin.nc")
    _assert_same_across_processes(one, two, atol={"curve": 1e-6, "half_difference": 1e-6})
    assert json.loads((work / "metrics/basin.json").read_text())["processes"] == 2

    (work / "models/model.pt").unlink()
    run("train", 2)
    assert (work / "models/model.pt").is_file()
    train = json.loads((work / "metrics/train.json").read_text())
    assert train["processes"] == 2 and train["val_rmse_degC"] > 0


def _varying_field(lat, lon, months):
    """The linear field plus anomalies that vary in time (the emulator needs a non-zero scale)."""
    from tests.helpers_cmip6 import linear_field

    rng = np.random.default_rng(int(months[0]))
    wave = np.sin(0.37 * months[:, None, None] + 0.2 * lat) * np.cos(0.11 * months[:, None, None] + 0.15 * lon)
    return linear_field(lat, lon, months) + 0.5 * wave + 0.2 * rng.standard_normal((len(months),) + lat.shape)


def test_exp_run_on_local_cmip6_files(tmp_path_factory):
    """`dvc exp run -S data.source=local -S data.paths=<glob>`: every stage runs on files in the
    real CMIP6 layout (curvilinear grid, 0-360 longitude, 365_day, 1e20 fill, files in sequence)."""
    from tests.helpers_cmip6 import Grid, write_files

    base = tmp_path_factory.mktemp("local")
    grid = Grid.make(n_lat=30, n_lon=40, lat0=40.0, lon0=300.0)      # 40-69 N, 60-12 W
    land = np.zeros(grid.lat.shape, bool)
    land[20:, :12] = True                                             # a "Greenland" in the north-west
    files = write_files(base / "cmip6", grid, 401, 10, 3, land, field=_varying_field)   # 0401-0430
    dst = base / "repo"
    env = _make_repo(dst)
    glob = str(files[0].parent / "tos_Omon_CESM2_piControl_*.nc")
    out = _run(["dvc", "exp", "run", "-S", "data.source=local", "-S", f"data.paths={glob}"], dst, env)
    for stage in STAGES:
        assert f"Running stage '{stage}'" in out, stage
    with xr.open_dataset(dst / "data/raw.nc") as raw:
        assert raw.attrs["fetch_source"] == "local" and raw.sizes["time"] == 360
        assert json.loads(raw.attrs["files"]) == [f.name for f in files]
        ocean = raw["ocean"].values.astype(bool)
        assert ocean.any() and not ocean.all()
    assert json.loads((dst / "metrics/explain.json").read_text())["synthetic_truth"] is False
    assert "teleconnection" not in json.loads((dst / "metrics/ablate.json").read_text())
    skill = json.loads((dst / "metrics/skill.json").read_text())
    assert set(skill["test"]) == PREDICTORS - {"truth"} and "target_box" not in skill   # no truth in real data
    assert json.loads((dst / "metrics/score.json").read_text())["synthetic_truth"] is False
    assert json.loads((dst / "metrics/identify.json").read_text())["synthetic_truth"] is False
    assert "**no ground truth**" in (dst / "reports/findings.md").read_text()


def _exp_metrics(shown: list, name: str) -> dict:
    """``{metrics file: data}`` of the experiment ``name`` in ``dvc exp show --json``."""
    for baseline in shown:
        for exp in baseline.get("experiments") or []:
            if exp.get("name") == name:
                data = exp["revs"][0]["data"]
                return {path: m.get("data", {}) for path, m in (data.get("metrics") or {}).items()}
    raise AssertionError(f"experiment {name} not in dvc exp show")


# The stages up to `train`: the queue's machinery (two experiments at once, one MLflow database,
# separate outputs) is the same for any target; the full pipeline of an experiment is tested by
# test_exp_run_lead_6 and test_exp_run_on_local_cmip6_files (the whole queue took 400 s on 2 cores).
QUEUED = ["fetch", "smooth", "train", "window"]


def test_queued_experiments_run_in_parallel(tmp_path):
    """`dvc exp run --queue` twice, `dvc queue start -j 2`: both succeed, every stage of each is
    in the one MLflow database of the main repository, and each keeps its own outputs."""
    dst = tmp_path / "repo"
    env = _make_repo(dst)
    for lead in (1, 2):
        _run(["dvc", "exp", "run", "--queue", "-S", f"lead={lead}", "-n", f"q{lead}", "train"], dst, env)
    _run(["dvc", "queue", "start", "-j", "2"], dst, env)
    try:
        for _ in range(240):                             # at most 20 minutes
            status = _run(["dvc", "queue", "status"], dst, env)
            if "Queued" not in status and "Running" not in status:
                break
            time.sleep(5)
        else:
            pytest.fail(f"queue not done after 20 minutes:\n{status}")
    finally:
        subprocess.run(["dvc", "queue", "stop"], cwd=dst, env=env, capture_output=True, timeout=120)
    rows = {line.split()[1]: line.split()[-1] for line in status.splitlines()
            if len(line.split()) > 2 and line.split()[1] in ("q1", "q2")}
    assert rows == {"q1": "Success", "q2": "Success"}, status
    runs = _mlflow_runs(dst)                             # the main repository's database
    for lead in (1, 2):
        assert sorted(s for s, e, _ in runs if e == f"q{lead}") == QUEUED, lead
        assert {le for _, e, le in runs if e == f"q{lead}"} == {str(lead)}
        assert _executions(dst)[f"q{lead}"] == [QUEUED]        # its own parent, its stages nested
    shown = json.loads(_run(["dvc", "exp", "show", "--json"], dst, env))
    for lead in (1, 2):
        metrics = _exp_metrics(shown, f"q{lead}")
        assert metrics["metrics/train.json"]["n_train"] > 0 and not metrics.get("metrics/skill.json")
    assert not list(dst.glob("metrics/*.json"))          # nothing landed in the workspace
