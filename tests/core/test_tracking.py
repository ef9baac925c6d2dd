import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from climemu.core import paths, tracking


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


@pytest.fixture
def mlflow_server(tmp_path):
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
        proc.wait(timeout=30)


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
