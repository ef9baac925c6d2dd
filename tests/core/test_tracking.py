import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from climemu.core import paths, tracking
from tests.helpers import serving


def test_root_resolves_out_of_a_queued_experiment_copy(tmp_path):
    copy = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpabc123"
    copy.mkdir(parents=True)
    assert paths.repository_root(copy) == (tmp_path / "repo").resolve()
    assert paths.repository_root(tmp_path) == tmp_path.resolve()


def test_default_uri_is_absolute_sqlite(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://example.invalid:5000")
    assert tracking.tracking_uri() == "http://example.invalid:5000"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_down_warns_and_loses_nothing(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_free_port()}")
    with pytest.warns(RuntimeWarning, match="not reachable"):
        assert tracking.log_stage("fetch", {"a": 1}, {"m": 1.0}) is None


# The tests on the shared server run on one xdist worker: one server start, not one per worker.
ON_SERVER = pytest.mark.xdist_group("mlflow_server")


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """One real ``mlflow server`` on 127.0.0.1 per test process (a start takes 7-20 s on 2 cores;
    session scope: xdist may run other modules' tests between this module's). ``store`` empties
    it before each test that reads every run back."""
    tmp_path = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    mlflow_bin = Path(sys.executable).parent / "mlflow"
    proc = subprocess.Popen(
        [str(mlflow_bin), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path}/server.db",
         "--artifacts-destination", str(tmp_path / "artifacts")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(uri + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not start within 60 s")
        yield uri
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:                # held by idle keep-alive connections
            os.killpg(proc.pid, 9)
            proc.wait(timeout=30)


@ON_SERVER
def test_stage_logged_to_a_real_server_over_http(mlflow_server, monkeypatch, tmp_path):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("DVC_EXP_NAME", "exp-test")
    artifact = tmp_path / "train.json"
    artifact.write_text('{"val_rmse_degC": 0.1}')
    run_id = tracking.log_stage("train", {"lead": 6, "train": {"epochs": 2}},
                                {"val_rmse_degC": 0.1, "device": "cpu"}, [artifact],
                                tags={"lead": 6, "arch": "densenet"})
    assert run_id is not None
    run = mlflow.MlflowClient(mlflow_server).get_run(run_id)
    assert run.data.params == {"lead": "6", "train.epochs": "2"}
    assert run.data.metrics == {"val_rmse_degC": 0.1}
    assert run.data.tags["stage"] == "train" and run.data.tags["dvc_exp"] == "exp-test"
    assert run.data.tags["lead"] == "6" and run.info.run_name == "exp-test:train"
    names = [a.path for a in mlflow.MlflowClient(mlflow_server).list_artifacts(run_id)]
    assert names == ["train.json"]


def test_stage_params_are_the_keys_dvc_yaml_lists(tmp_path):
    from tests.helpers import params
    p = params({"lead": 6, "explain": {"methods": ["deeplift", "saliency"]}})
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  score:\n    cmd: python stages/score.py\n"
        "    params:\n      - lead\n      - explain.methods\n      - sanity\n      - other.yaml:\n          - a\n")
    logged = tracking.stage_params("score", p, tmp_path / "dvc.yaml")
    assert logged == {"lead": 6, "explain.methods": ["deeplift", "saliency"],
                      "sanity": p.sanity.model_dump()}
    assert tracking.stage_params("missing", p, tmp_path / "dvc.yaml") == {}
    assert tracking.stage_params("score", p, tmp_path / "absent.yaml") == {}


def test_stage_params_cover_every_stage_of_the_pipeline():
    # Every key a stage lists in dvc.yaml resolves on the real params (a renamed section fails here).
    import yaml
    from climemu.config import load_params
    from tests.helpers import ROOT
    p = load_params(ROOT / "params.yaml")
    for stage, spec in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].items():
        keys = [k for k in spec.get("params", []) if isinstance(k, str)]
        assert set(tracking.stage_params(stage, p, ROOT / "dvc.yaml")) == set(keys), stage


# --- tracking store trouble: the call returns (with a warning) instead of retrying for minutes ---

_LOG_ONE = """
import sys, time, warnings
from climemu.core import tracking
warnings.simplefilter("always")
start = time.monotonic()
print("RUN_ID", tracking.log_stage(sys.argv[1], {"a": 1}, {"m": 1.0}), flush=True)
print("SECONDS", time.monotonic() - start, flush=True)
"""

# The bounded calls end within the HTTP limits (10 s, one retry), the 5 s health check or sqlite's
# 20 s busy timeout; MLflow's defaults hold one request for 120 s and retry it 7 times. A logging
# call under BOUND_S is bounded, whatever the load. The clock starts after the imports: on a
# starved machine starting Python and importing MLflow alone took over 60 s.
BOUND_S = 90


def _log_in_process(tmp_path, uri: str, stage: str = "fetch", env: dict | None = None,
                    preamble: str = "") -> subprocess.Popen:
    """``log_stage`` in a fresh process (its own MLflow client), against ``uri``; ``env``: more
    variables for that process; ``preamble``: code run before it (e.g. ``_SHORT_BUSY``)."""
    more = env or {}
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "DVC_ROOT": str(tmp_path), **more}
    for key in tracking.HTTP_LIMITS:
        if key not in more:
            env.pop(key, None)                           # the bounds under test, not the caller's
    return subprocess.Popen([sys.executable, "-c", preamble + _LOG_ONE, stage], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen, guard_s: float = 900) -> tuple[str, str]:
    """stdout, stderr of a logging process; every logging call in it took under ``BOUND_S``.
    ``guard_s`` only stops a hung process (start-up and imports included)."""
    try:
        out, err = proc.communicate(timeout=guard_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"log_stage still running after {guard_s} s: tracking retries unbounded")
    assert proc.returncode == 0, err[-3000:]
    seconds = [float(line.split()[1]) for line in out.splitlines() if line.startswith("SECONDS ")]
    assert seconds, out
    assert max(seconds) < BOUND_S, f"a logging call took {max(seconds):.0f} s: retries unbounded?"
    return out, err


def test_silent_socket_fails_the_health_check(tmp_path):
    # Something listens on the port but never answers (a hung server): the health check times out.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)                                      # connections queue, nothing is read
        out, err = _finish(_log_in_process(tmp_path, f"http://127.0.0.1:{s.getsockname()[1]}"))
    assert "RUN_ID None" in out and "is not reachable" in err and "outputs are written" in err


@pytest.fixture
def healthy_then_silent():
    """An HTTP server on 127.0.0.1 whose /health answers but whose API never does."""
    import http.server
    import threading

    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self):
            if self.path.rstrip("/").endswith("/health"):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"OK")
            else:
                release.wait(300)                        # hold the request, never answer it

        do_GET = do_POST = _reply

        def log_message(self, *args):
            pass

    with serving(Handler) as port:
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            release.set()                                # let held requests end before shutdown


def test_server_that_stops_answering_is_not_retried_for_minutes(healthy_then_silent, tmp_path):
    # MLflow's defaults (120 s timeout, 7 retries with backoff) would hold the stage for minutes.
    # The retries are ours (HTTP_LIMITS); the timeout is shortened to 2 s here (the user may set
    # it, test_bounds_yield_to_the_environment), so the test waits 2 x 2 s, not 2 x 10 s.
    out, err = _finish(_log_in_process(tmp_path, healthy_then_silent,
                                       env={"MLFLOW_HTTP_REQUEST_TIMEOUT": "2"}))
    assert "RUN_ID None" in out
    assert "MLflow logging of stage 'fetch'" in err and "failed" in err and "outputs are written" in err


def test_bounds_yield_to_the_environment(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "300")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    with tracking._bounded_http():
        assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "300"          # the user's choice
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == tracking.HTTP_LIMITS[
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ             # restored afterwards


# MLflow waits 20 s on a locked sqlite file (``PRAGMA busy_timeout = 20000`` on every session). The
# locked-store test needs what the lock does to a stage, not the wait: its processes ask for 1 s.
# Anything else in the statement stream is left alone.
_SHORT_BUSY = """
from sqlalchemy import event as _event
from sqlalchemy.engine import Engine as _Engine
@_event.listens_for(_Engine, "before_cursor_execute", retval=True)
def _short_busy(conn, cursor, statement, parameters, context, executemany):
    if statement.lstrip().upper().startswith("PRAGMA BUSY_TIMEOUT"):
        statement = "PRAGMA busy_timeout = 1000;"
    return statement, parameters
"""

_LOG_LOCKED = """
import sqlite3, sys, time, warnings
from climemu.core import tracking
warnings.simplefilter("always")
print("RUN_ID", tracking.log_stage("fetch", {"a": 1}, {"m": 1.0}), flush=True)    # store is open
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN EXCLUSIVE")                       # another connection holds the file
start = time.monotonic()
print("RUN_ID", tracking.log_stage("smooth", {"a": 1}, {"m": 1.0}), flush=True)
print("SECONDS", time.monotonic() - start, flush=True)
con.execute("ROLLBACK")
"""


def test_locked_sqlite_warns_once_without_a_traceback(tmp_path):
    # Locked before the process opens the store (new-process), or while it holds it open (a later
    # stage call, store-already-open). Both wait out sqlite's busy timeout (1 s here, _SHORT_BUSY),
    # so they run at once, each on its own copy of a store that has the tables.
    import sqlite3

    base = tmp_path / "tables"
    base.mkdir()
    out, _ = _finish(_log_in_process(base, f"sqlite:///{base / 'mlflow.db'}", "fetch"))
    assert "RUN_ID None" not in out
    dbs = {}
    for case in ("new-process", "store-already-open"):
        (tmp_path / case).mkdir()
        dbs[case] = tmp_path / case / "mlflow.db"
        shutil.copyfile(base / "mlflow.db", dbs[case])
    con = sqlite3.connect(dbs["new-process"], isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    try:
        new = _log_in_process(tmp_path / "new-process", f"sqlite:///{dbs['new-process']}", "smooth",
                              preamble=_SHORT_BUSY)
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{dbs['store-already-open']}",
               "DVC_ROOT": str(tmp_path / "store-already-open")}
        held = subprocess.Popen([sys.executable, "-c", _SHORT_BUSY + _LOG_LOCKED,
                                 str(dbs["store-already-open"])],
                                cwd=tmp_path / "store-already-open", env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        results = {"new-process": _finish(new), "store-already-open": _finish(held)}
    finally:
        con.execute("ROLLBACK")
        con.close()
    assert "RUN_ID None" in results["new-process"][0]
    out = results["store-already-open"][0]
    assert out.count("RUN_ID None") == 1 and out.index("RUN_ID None") > out.index("RUN_ID ")
    for case, (_, err) in results.items():
        assert "database is locked" in err and "outputs are written" in err, case
        assert "Traceback" not in err, case              # one warning, not MLflow's error log


def test_parallel_stages_on_a_new_sqlite_store_are_all_logged(tmp_path):
    # Two stages of parallel experiments logging at once to a database that does not exist yet:
    # unserialised, they race to create the tables and one run is lost ("duplicate column").
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    procs = [_log_in_process(tmp_path, uri, stage) for stage in ("fetch", "smooth")]
    outs = [_finish(p)[0] for p in procs]
    assert all("RUN_ID None" not in out and "RUN_ID " in out for out in outs), outs
    import mlflow
    runs = mlflow.MlflowClient(uri).search_runs(
        [mlflow.MlflowClient(uri).get_experiment_by_name(tracking.EXPERIMENT).experiment_id])
    assert sorted(r.data.tags["stage"] for r in runs if "stage" in r.data.tags) == ["fetch", "smooth"]
    # Same execution (same key): one parent, found again, not created twice in the race.
    assert sum(r.data.tags.get(tracking.KIND_TAG) == "execution" for r in runs) == 1


def test_store_lock_is_exclusive_while_held(tmp_path):
    import fcntl

    uri = f"sqlite:///{tmp_path / 'sub' / 'mlflow.db'}"
    with tracking.store_lock(uri):
        with open(tmp_path / "sub" / "mlflow.db.lock") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(tmp_path / "sub" / "mlflow.db.lock") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)                 # released afterwards
    with tracking.store_lock("http://127.0.0.1:1"):                       # other stores: no lock file
        pass


# --- one parent run per pipeline execution, stage runs nested, step metrics, the model ---------

def _checkpoint(tmp_path):
    """A small checkpoint in the train stage's format, and the model read back from it."""
    import numpy as np
    import torch
    from climemu.models.registry import build_model
    from climemu.training.checkpoint import load_checkpoint
    from tests.helpers import section

    cfg = section("model")
    torch.manual_seed(0)
    net = build_model(cfg, grid=(20, 30))
    path = tmp_path / "model.pt"
    torch.save({"state_dict": net.state_dict(), "model": cfg.model_dump(), "grid": (20, 30),
                "input_months": 36, "ocean": np.ones((20, 30), bool)}, path)
    return load_checkpoint(path)[0]


def _pipeline(monkeypatch, tmp_path, exp: str, stages=("fetch", "train"), model=None):
    """The stages of one pipeline execution, as ``dvc exp run -n <exp>`` would set them up."""
    monkeypatch.setenv("DVC_EXP_NAME", exp)
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "0" * 40)
    ids = {}
    for stage in stages:
        extra = {}
        if stage == "train":
            extra = {"step_metrics": {"train_loss": [0.9, 0.5, 0.3], "val_loss": [1.0, 0.6, 0.4]},
                     "steps": [1, 2, 3], "model": model}
        ids[stage] = tracking.log_stage(stage, {"lead": 6}, {"m": 1.0}, **extra)
        assert ids[stage] is not None
    return ids


# Each store-using test runs on both; the server runs join the shared server's xdist group (marks
# on a fixture's own params do not reach the tests, so the tests name them: STORES).
STORES = pytest.mark.parametrize("store", ["sqlite", pytest.param("server", marks=ON_SERVER)], indirect=True)


@pytest.fixture
def store(request, monkeypatch, tmp_path):
    """The tracking URI: the default sqlite file, or a real ``mlflow server`` on 127.0.0.1."""
    if request.param == "server":
        uri = request.getfixturevalue("mlflow_server")
        # The shared server: an experiment of this test's own, so it reads back only its own runs.
        monkeypatch.setattr(tracking, "EXPERIMENT", f"climemu-{request.node.name}")
    else:
        uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)                     # the parent run reads ./params.yaml
    (tmp_path / "params.yaml").write_text("lead: 6\ntrain:\n  epochs: 3\n")
    return uri


@STORES
def test_each_execution_is_a_parent_run_with_its_stages_nested(store, monkeypatch, tmp_path):
    import mlflow
    import numpy as np
    import torch

    # The model once, on the default store (logging it takes seconds; artifacts over HTTP are
    # test_stage_logged_to_a_real_server_over_http's).
    with_model = store.startswith("sqlite:")
    net = _checkpoint(tmp_path)
    example = np.random.default_rng(0).standard_normal((2, 36, 20, 30)).astype(np.float32)
    a = _pipeline(monkeypatch, tmp_path, "exp-a",
                  model=tracking.ModelToLog(net, example) if with_model else None)
    b = _pipeline(monkeypatch, tmp_path, "exp-b")
    client = mlflow.MlflowClient(store)
    exp_id = client.get_experiment_by_name(tracking.EXPERIMENT).experiment_id
    runs = client.search_runs([exp_id])
    parents = {r.info.run_name: r for r in runs if r.data.tags.get(tracking.KIND_TAG) == "execution"}
    assert sorted(parents) == ["exp-a", "exp-b"]                   # one parent per execution
    for name, ids in (("exp-a", a), ("exp-b", b)):
        parent = parents[name]
        assert parent.data.params == {"lead": "6", "train.epochs": "3"}
        assert parent.data.tags["dvc_exp"] == name and parent.data.tags["git_rev"]
        children = {r.info.run_id for r in runs
                    if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
        assert children == set(ids.values())                        # both stages, nothing else
    # Per-epoch losses as step metrics: the curve, not one number.
    history = client.get_metric_history(a["train"], "val_loss")
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == \
        [(1, 1.0), (2, 0.6), (3, 0.4)]
    if not with_model:
        return
    # The checkpoint as an MLflow PyTorch model, with a signature; it predicts what the checkpoint does.
    info = mlflow.models.get_model_info(f"runs:/{a['train']}/model")
    assert info.signature is not None and tuple(info.signature.inputs.inputs[0].shape) \
        == (-1, 36, 20, 30)
    loaded = mlflow.pytorch.load_model(f"runs:/{a['train']}/model")
    with torch.no_grad():
        x = torch.from_numpy(np.random.default_rng(1).standard_normal((3, 36, 20, 30)).astype(np.float32))
        np.testing.assert_allclose(loaded(x).numpy(), net(x).numpy(), rtol=1e-5, atol=1e-6)


@STORES
def test_stages_of_one_dvc_process_share_the_parent_and_another_does_not(store, monkeypatch, tmp_path):
    # Same experiment name and params, another dvc process (a rerun): a new parent run.
    import mlflow

    monkeypatch.setattr(tracking, "_dvc_process", lambda: "1234:1")
    first = _pipeline(monkeypatch, tmp_path, "lead6", stages=("fetch", "smooth"))
    monkeypatch.setattr(tracking, "_dvc_process", lambda: "5678:2")
    second = _pipeline(monkeypatch, tmp_path, "lead6", stages=("fetch",))
    client = mlflow.MlflowClient(store)
    parent = {k: client.get_run(v).data.tags["mlflow.parentRunId"] for k, v in first.items()}
    assert parent["fetch"] == parent["smooth"]
    assert client.get_run(second["fetch"]).data.tags["mlflow.parentRunId"] != parent["fetch"]


def test_the_dvc_process_is_found_among_the_ancestors(tmp_path):
    # A process started by something named `dvc` finds it; pytest itself has no dvc ancestor.
    wrapper = tmp_path / "wrapper.sh"          # dvc -> sh -> python, as dvc runs a stage's cmd
    wrapper.write_text(f"#!/bin/sh\n{sys.executable} -c "
                       "'from climemu.core import tracking; print(tracking._dvc_process())'\n")
    wrapper.chmod(0o755)
    fake = tmp_path / "dvc"
    fake.write_text(f"#!/bin/sh\n{wrapper}\n")
    fake.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([str(fake)], capture_output=True, text=True, env=env, timeout=60).stdout
    pid, start = out.strip().split(":")
    assert int(pid) > 1 and int(start) > 0
    assert tracking._dvc_process() == ""


def test_experiment_tags_come_from_params_yaml_for_every_stage(tmp_path):
    """basin and band do not read `lead`, yet rerun in a `-S lead=6` experiment: their runs are
    tagged with the experiment's lead and architecture like every other stage's."""
    params = tmp_path / "params.yaml"
    params.write_text("lead: 6\nmodel:\n  arch: densenet_fnn\nbasin:\n  stride: 2\n")
    assert tracking._experiment_tags(params) == {"lead": "6", "arch": "densenet_fnn"}
    params.write_text("basin: {stride: 2}\n")
    assert tracking._experiment_tags(params) == {}
    assert tracking._experiment_tags(tmp_path / "missing.yaml") == {}
