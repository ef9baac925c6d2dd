"""Time and peak memory of the data stages (fetch, smooth, window) on 800 synthetic years.

Each stage runs as its own process, as ``dvc repro`` runs it, in a temporary folder holding this
repository's ``params.yaml`` (optionally with other years); peak memory is the process's peak
resident set size since its program started (Linux ``VmHWM``, read by the process itself when
the stage returns; ``getrusage``'s ``ru_maxrss`` would keep the parent's size across fork + exec).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("fetch", "smooth", "window")


# Runs a stage script as __main__, then writes the process's VmHWM (KiB) to a file.
_WRAPPER = """
import os, runpy, sys
stage, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.dirname(stage))      # as `python stages/x.py` does: stages/environment.py
sys.argv = [stage]
runpy.run_path(stage, run_name="__main__")
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
open(out, "w").write(hwm)
"""


def _timed(stage: Path, cwd: Path, env: dict) -> tuple[float, float]:
    hwm = cwd / "vmhwm.txt"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, str(stage), str(hwm)], cwd=cwd, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{stage.name} failed:\n{proc.stderr[-2000:]}")
    return seconds, int(hwm.read_text()) / 1024            # s, MiB


def run(years: int | None = None) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    first, last = params["data"]["years"]
    if years:
        first = last - years + 1
        params["data"]["years"] = [first, last]
    n_years = last - first + 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "params.yaml").write_text(yaml.safe_dump(params))
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
        out = {"years": n_years}
        for stage in STAGES:
            seconds, mib = _timed(ROOT / "stages" / f"{stage}.py", work, env)
            out[stage] = {"seconds": seconds, "peak_rss_mib": mib}
        out["raw_mib"] = (work / "data" / "raw.nc").stat().st_size / 2**20
        shutil.rmtree(work / "data")
    return out


def report(r: dict) -> str:
    parts = [f"{s} {r[s]['seconds']:.1f} s / {r[s]['peak_rss_mib']:.0f} MiB" for s in STAGES]
    return f"data ({r['years']} synthetic years, raw.nc {r['raw_mib']:.0f} MiB): " + ", ".join(parts)
