"""Stage scripts run as DVC runs them (`python stages/x.py` from the repository root) on bad input:
exit status 1 and one paragraph on stderr, no traceback; CLIMEMU_DEBUG=1 brings it back."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.helpers import ROOT, TINY, merge, raw_params
from tests.helpers_cmip6 import Grid, cmip6_dataset, file_name, write_file

# A source grid around the TINY box (45-65 N, 50-20 W): 40-69 N, 60-12 W.
GRID = Grid.make(n_lat=30, n_lon=40, lat0=40.0, lon0=300.0)


def stage(name: str, cwd: Path, *flags: str, debug: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CLIMEMU_DEBUG", "DVC_ROOT")}
    env.update({"MLFLOW_TRACKING_URI": (cwd / "mlruns").as_uri(), "MPLBACKEND": "Agg"},
               **({"CLIMEMU_DEBUG": "1"} if debug else {}))
    return subprocess.run([sys.executable, *flags, str(ROOT / "stages" / f"{name}.py")], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


def workdir(tmp_path: Path, **data) -> Path:
    """A folder with params.yaml (TINY, with ``data`` merged in), as the repository root."""
    params = merge(merge(raw_params(), TINY), {"data": data})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return tmp_path


def assert_message(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert ("\n" + proc.stderr).count("\nerror: ") == 1, proc.stderr[-3000:]   # after progress bars
    for word in words:
        assert word in proc.stderr, (word, proc.stderr[-3000:])


def cmip6_files(folder: Path, years=(401, 403), hole_month: int | None = None) -> list[Path]:
    """Two-year files from each of ``years``; ``hole_month`` (of the run) loses an ocean patch."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for year in years:
        ds = cmip6_dataset(GRID, year, 24)
        k = None if hole_month is None else hole_month - (year - 401) * 12
        if k is not None and 0 <= k < 24:
            ds["tos"].values[k, 10:13, 10:13] = np.nan       # about 50 N, 48 W: inside the box
        paths.append(write_file(ds, folder / file_name(year, 24)))
    return paths


def test_a_bad_parameter(tmp_path):
    cwd = workdir(tmp_path, resolution=-1.0)
    assert_message(stage("fetch", cwd), "error: fetch:", "data.resolution")
    debug = stage("fetch", cwd, debug=True)
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "ConfigError" in debug.stderr


def test_a_gap_between_cmip6_files(tmp_path):
    cmip6_files(tmp_path / "cmip6", years=(401, 405))              # 0403-0404 missing
    cwd = workdir(tmp_path, source="local", years=[402, 406], paths="cmip6/tos_*.nc")
    assert_message(stage("fetch", cwd), "gap between", "months 0403-01 to 0404-12 are missing")
    debug = stage("fetch", cwd, debug=True)
    assert "Traceback" in debug.stderr and "CmipError" in debug.stderr


def test_missing_ocean_values_stop_fetch_and_name_the_file(tmp_path):
    paths = cmip6_files(tmp_path / "cmip6", hole_month=26)          # 0403-03
    cwd = workdir(tmp_path, source="local", years=[402, 404], paths="cmip6/tos_*.nc")
    proc = stage("fetch", cwd)
    assert_message(proc, "data.source=local: 1 month without a value at some ocean cells: 0403-03 (",
                   f"in {paths[1].name}", "data.years")
    assert not (cwd / "data" / "raw.nc").exists()


def test_a_stage_run_alone_names_the_stage_to_run_first(tmp_path):
    (tmp_path / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    assert_message(stage("explain", workdir(tmp_path)), "models/model.pt (written by stage train)",
                   "`dvc repro explain`")


def test_without_the_project_environment_a_message(tmp_path):
    # -S: no site-packages, so neither climemu nor its dependencies can be imported
    proc = stage("train", tmp_path, "-S")
    assert_message(proc, "the project's environment is not active", "numpy", "torch", "`make repro`",
                   "source .venv/bin/activate")


def test_a_stage_imports_the_library_of_its_own_checkout(tmp_path):
    # DVC runs a queued experiment in a copy of the repository; the editable install points at
    # the workspace, whose code may have moved on since the experiment was queued.
    copy = tmp_path / "copy"
    (copy / "stages").mkdir(parents=True)
    (copy / "src" / "climemu").mkdir(parents=True)
    (copy / "stages" / "environment.py").write_text((ROOT / "stages" / "environment.py").read_text())
    (copy / "src" / "climemu" / "__init__.py").write_text("")
    (copy / "stages" / "probe.py").write_text("import environment\nimport climemu\nprint(climemu.__file__)\n")
    proc = subprocess.run([sys.executable, str(copy / "stages" / "probe.py")], cwd=copy,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()) == copy / "src" / "climemu" / "__init__.py"


def test_the_environment_check_names_what_is_missing(monkeypatch):
    spec = importlib.util.spec_from_file_location("stage_env", ROOT / "stages" / "environment.py")
    env = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(env)                     # this Python has everything: no exit
    assert env.missing() == []
    assert env.missing(("json", "no_such_module_climemu")) == ["no_such_module_climemu"]
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "site-packages" not in p
                                      and "climemu" not in p and not p.endswith("/src")])
    monkeypatch.delitem(sys.modules, "climemu", raising=False)
    if importlib.util.find_spec("climemu") is not None:        # found through a path hook
        pytest.skip("climemu is importable without site-packages here")
    with pytest.raises(SystemExit) as exit_:
        env.require()
    assert exit_.value.code == 1
