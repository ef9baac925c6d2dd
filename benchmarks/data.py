"""Time and peak memory of the data stages (fetch, smooth, window) on 800 synthetic years.

Each stage runs as its own process, exactly as ``dvc repro`` runs it, in a temporary folder
holding this repository's ``params.yaml`` (optionally with other years); peak memory is the
process's maximum resident set size reported by the kernel (``wait4``).
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


def _timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024                  # s, MiB (ru_maxrss is KiB on Linux)


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
            seconds, mib = _timed([sys.executable, str(ROOT / "stages" / f"{stage}.py")], work, env)
            out[stage] = {"seconds": seconds, "peak_rss_mib": mib}
        out["raw_mib"] = (work / "data" / "raw.nc").stat().st_size / 2**20
        shutil.rmtree(work / "data")
    return out


def report(r: dict) -> str:
    parts = [f"{s} {r[s]['seconds']:.1f} s / {r[s]['peak_rss_mib']:.0f} MiB" for s in STAGES]
    return f"data ({r['years']} synthetic years, raw.nc {r['raw_mib']:.0f} MiB): " + ", ".join(parts)
