"""Rerun the committed default run at other seeds and keep each seed's small outputs.

    .venv/bin/python tools/seeds.py 0 1 2      # about 9 minutes a seed on 2 cores
    make results                               # docs/reliability.md's seed table from them

For each seed: a fresh clone of the committed HEAD in a temporary folder (sharing this
repository's DVC cache, so the data stages are reused), ``dvc exp run -S seed=N`` there, and its
``metrics/*.json`` and ``reports/findings.md`` copied to ``reports/seeds/seed-N/`` with the commit
they came from (``commit.txt``). The committed run's own seed (``seed`` in params.yaml) is copied
from the committed ``metrics/`` and ``reports/findings.md`` instead (same commit, same params:
the same numbers on this machine, docs/reliability.md), so every seed's numbers come from one commit. ``seed`` sets the network's initialisation, the shuffling and
the basin's cell sample; the synthetic data's own ``data.synthetic.seed`` is left as it is.
A developer's tool (no stage runs it); commit ``reports/seeds/`` after it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "seeds"


def run(cmd: list[str], cwd: Path, env: dict) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, env=env, check=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("seeds", type=int, nargs="+")
    args = ap.parse_args(argv)
    if subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                      capture_output=True, text=True).stdout.strip():
        print("tools/seeds.py runs the committed HEAD: commit your changes first", file=sys.stderr)
        return 2
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)                 # each clone logs to its own store
    committed_seed = yaml.safe_load((ROOT / "params.yaml").read_text())["seed"]
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix=f"climemu-seed{seed}-") as tmp:
            repo = ROOT
            if seed != committed_seed:
                repo = Path(tmp) / "repo"
                run(["git", "clone", "--quiet", str(ROOT), str(repo)], ROOT, env)
                (repo / ".venv").symlink_to(ROOT / ".venv")
                run(["dvc", "cache", "dir", "--local", str(ROOT / ".dvc" / "cache")], repo, env)
                run(["dvc", "exp", "run", "--quiet", "-S", f"seed={seed}"], repo, env)
            dest = OUT / f"seed-{seed}"
            staging = OUT / f".seed-{seed}.tmp"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            for f in sorted((repo / "metrics").glob("*.json")):
                shutil.copy2(f, staging / f.name)
            shutil.copy2(repo / "reports" / "findings.md", staging / "findings.md")
            (staging / "commit.txt").write_text(commit + "\n")
            shutil.rmtree(dest, ignore_errors=True)
            staging.replace(dest)                        # a killed run leaves the last complete copy
            print(f"seed {seed}: {dest.relative_to(ROOT)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
