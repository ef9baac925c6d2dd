"""SIGKILL in the middle of a stage, then `dvc repro`: no half-written output, same metrics.

docs/reliability.md, "Interruptions and full disks". Tiny params (tests.helpers.TINY).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
import torch
import xarray as xr
import yaml

from tests.pipeline.test_pipeline import _make_repo, _run

pytestmark = pytest.mark.pipeline

EPOCHS = 3
TRAIN_OUTS = ["data/raw.nc", "data/smoothed.nc", "data/windows.nc", "models/model.pt",
              "metrics/train.json", "plots/train_curve.csv"]
TIMINGS = {"train_seconds", "samples_per_second"}


def _set_epochs(repo: Path, env: dict, epochs: int) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["epochs"] = epochs
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _run(["git", "commit", "-qam", f"{epochs} epochs"], repo, env)


def _kill_when(cmd: list[str], cwd: Path, env: dict, trigger: str, delay: float,
               limit: float = 600) -> str:
    """Run ``cmd`` in its own process group; ``delay`` s after a line containing ``trigger``,
    SIGKILL the whole group (dvc, its shell, the stage's python). Returns the output so far."""
    proc = subprocess.Popen(cmd, cwd=cwd, env={**env, "PYTHONUNBUFFERED": "1"}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    watchdog = threading.Timer(limit, os.killpg, (proc.pid, signal.SIGKILL))
    watchdog.start()
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if trigger in line:
                threading.Event().wait(delay)
                os.killpg(proc.pid, signal.SIGKILL)
                break
    finally:
        watchdog.cancel()
        proc.wait(timeout=60)
    out = "".join(lines)
    assert trigger in out, f"never saw {trigger!r}:\n{out[-4000:]}"
    assert proc.returncode == -signal.SIGKILL, out[-4000:]
    return out


def _assert_complete_or_absent(path: Path) -> None:
    """An output is either absent or a whole, readable file."""
    if not path.exists():
        return
    if path.suffix == ".nc":
        with xr.open_dataset(path) as ds:
            ds.load()
    elif path.suffix == ".pt":
        assert "state_dict" in torch.load(path, weights_only=False)
    elif path.suffix == ".json":
        json.loads(path.read_text())
    elif path.suffix == ".csv":
        assert len(pd.read_csv(path)) > 0


def _temporaries(repo: Path) -> list[Path]:
    return [p for d in ("data", "models", "metrics", "plots") if (repo / d).is_dir()
            for p in (repo / d).rglob(".*.tmp")]


def _train_results(repo: Path) -> tuple[dict, bytes, dict]:
    metrics = json.loads((repo / "metrics/train.json").read_text())
    weights = torch.load(repo / "models/model.pt", weights_only=False)["state_dict"]
    return ({k: v for k, v in metrics.items() if k not in TIMINGS},
            (repo / "plots/train_curve.csv").read_bytes(), weights)


def test_sigkill_during_training_then_repro_resumes_to_the_same_metrics(tmp_path):
    repo = tmp_path / "repo"
    env = _make_repo(repo)
    _set_epochs(repo, env, EPOCHS)
    delay = random.Random(20240611).uniform(0.0, 0.3)   # seeded: a moment after epoch 1's line
    _kill_when(["dvc", "repro", "train"], repo, env, "epoch 1: train loss", delay)
    for out in TRAIN_OUTS:
        _assert_complete_or_absent(repo / out)
    snapshots = list((repo / ".climemu" / "resume").glob("*/last.pt"))
    saved = torch.load(snapshots[0], weights_only=False)["epoch"] if snapshots else None

    again = subprocess.run(["dvc", "repro", "train"], cwd=repo, env=env, capture_output=True,
                           text=True, timeout=900)
    out = again.stdout + again.stderr
    assert again.returncode == 0, out[-4000:]
    assert "had been killed. Auto removed it from the lock file" in out   # DVC's stale rwlock
    assert "Running stage 'train'" in out
    assert saved is not None, "killed before epoch 1's snapshot or after the stage finished"
    assert f"train: resuming after epoch {saved} of {EPOCHS}" in out
    assert not (repo / ".climemu" / "resume").exists() or not any((repo / ".climemu" / "resume").iterdir())
    assert _temporaries(repo) == []
    resumed = _train_results(repo)

    out = _run(["dvc", "repro", "--force", "--single-item", "train"], repo, env)   # uninterrupted
    assert "resuming" not in out
    whole = _train_results(repo)
    assert resumed[0] == whole[0] and resumed[0]["best_epoch"] >= 1
    assert resumed[1] == whole[1]                                     # the loss curve, every epoch
    assert resumed[2].keys() == whole[2].keys()
    for k in whole[2]:
        assert torch.equal(resumed[2][k], whole[2][k]), k
    assert "Running stage" not in _run(["dvc", "repro", "train"], repo, env)


_BLOCK_IN_WRITE = """
import random, runpy, sys, threading, xarray as xr
real = xr.Dataset.to_netcdf
def to_netcdf(self, path, *a, **k):   # killed part-way through writing the netCDF
    real(self, path, *a, **k)
    data = open(path, "rb").read()
    open(path, "wb").write(data[:int(len(data) * random.Random({seed}).random())])
    print("WRITING", path, flush=True)
    threading.Event().wait(600)
xr.Dataset.to_netcdf = to_netcdf
sys.argv = ["stages/fetch.py"]
sys.path.insert(0, "stages")   # as `python stages/fetch.py` does: the stage imports its neighbours
runpy.run_path("stages/fetch.py", run_name="__main__")
"""


def test_sigkill_while_writing_netcdf_keeps_the_previous_file(tmp_path):
    repo = tmp_path / "repo"
    env = _make_repo(repo)
    _run([sys.executable, "stages/fetch.py"], repo, env)
    raw = repo / "data/raw.nc"
    before = raw.read_bytes()
    with xr.open_dataset(raw) as ds:
        previous = ds.load()
    out = _kill_when([sys.executable, "-c", _BLOCK_IN_WRITE.format(seed=7)], repo, env, "WRITING", 0.0)
    assert raw.read_bytes() == before                                  # the previous one, whole
    assert [p.name.split(".")[1:3] for p in _temporaries(repo)] == [["raw", "nc"]], out
    _run([sys.executable, "stages/fetch.py"], repo, env)
    assert _temporaries(repo) == []                                    # the killed one's is gone
    with xr.open_dataset(raw) as ds:
        xr.testing.assert_identical(ds.load(), previous)
