"""Run the committed pipeline with some params replaced, in a fresh clone, and keep its small outputs.

The common part of ``tools/seeds.py``, ``tools/judges.py``, ``tools/study.py`` and
``tools/controls.py`` (the last two through :func:`run_queue`): a fresh clone of the committed
HEAD in a temporary folder (sharing this repository's DVC cache, so stages whose inputs are
unchanged are reused), ``dvc exp run -S key=value ...`` there, and its ``metrics/*.json`` and
``reports/findings.md`` copied to one folder of ``reports/`` with the commit they came from
(``commit.txt``) and the values replaced (``set.json``). The copy is written beside the folder
and moved into place at the end, so a killed run leaves the last complete copy.
"""

from __future__ import annotations

import json
import os
import shutil
import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run(cmd: list[str], cwd: Path, env: dict) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, env=env, check=True)


def committed_head() -> str | None:
    """HEAD's commit, or None (with a message) when tracked files have uncommitted changes."""
    if subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                      capture_output=True, text=True).stdout.strip():
        print(f"{sys.argv[0]} runs the committed HEAD: commit your changes first", file=sys.stderr)
        return None
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()


def setting(key: str, value) -> str:
    """One ``-S`` argument: the value in YAML flow style, as DVC parses it."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return f"{key}={text.removesuffix('...').strip()}"


def keep(repo: Path, dest: Path, commit: str, overrides: dict, files: list[str] | None = None,
         derive: Callable[[Path, Path], None] | None = None, seconds: float | None = None) -> None:
    """Copy the run's metrics and findings (or just ``files``, paths in the repository) from
    ``repo`` to ``dest``, atomically; ``derive(repo, folder)`` writes more files into the folder
    (the study's maps, from outputs too large to keep)."""
    staging = dest.parent / f".{dest.name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if files is None:
        files = [str(f.relative_to(repo)) for f in sorted((repo / "metrics").glob("*.json"))]
        files += ["reports/findings.md"] if (repo / "reports" / "findings.md").exists() else []
    for f in files:
        shutil.copy2(repo / f, staging / Path(f).name)
    if derive is not None:
        derive(repo, staging)
    (staging / "commit.txt").write_text(commit + "\n")
    (staging / "set.json").write_text(json.dumps(overrides, indent=1) + "\n")
    if seconds is not None:       # wall time from clone to kept, and where (the study's cost, docs/study.md)
        (staging / "wall.txt").write_text(f"{seconds:.1f} s on {os.cpu_count()} cores\n")
    shutil.rmtree(dest, ignore_errors=True)
    staging.replace(dest)
    print(f"kept {dest.relative_to(ROOT)}", flush=True)


def run_experiment(overrides: dict, dest: Path, commit: str, targets: list[str] = (),
                   files: list[str] | None = None,
                   derive: Callable[[Path, Path], None] | None = None) -> None:
    """``dvc exp run`` with ``overrides`` in a fresh clone of ``commit``, of ``targets`` (stages;
    default every stage); its outputs (:func:`keep`) to ``dest``."""
    # The interpreter running this tool (the project's environment) runs the stages too.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)                 # each clone logs to its own store
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"climemu-{dest.name}-") as tmp:
        repo = Path(tmp) / "repo"
        run(["git", "clone", "--quiet", str(ROOT), str(repo)], ROOT, env)
        run(["git", "checkout", "--quiet", commit], repo, env)
        if (ROOT / ".venv").exists():
            (repo / ".venv").symlink_to(ROOT / ".venv")
        run(["dvc", "cache", "dir", "--local", str(ROOT / ".dvc" / "cache")], repo, env)
        if targets and files is None:
            # Only some stages run: the committed metrics of the others would be kept as if this
            # run had written them, so they go first and only this run's are kept.
            for f in [*(repo / "metrics").glob("*.json"), repo / "reports" / "findings.md"]:
                f.unlink(missing_ok=True)
        args = [a for k, v in overrides.items() for a in ("-S", setting(k, v))]
        run(["dvc", "exp", "run", "--quiet", *args, *targets], repo, env)
        keep(repo, dest, commit, overrides, files, derive, seconds=time.perf_counter() - start)


def _clock(seconds: float) -> str:
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def run_queue(label: str, todo: list[tuple[Path, dict]], targets: list[str], kept: Callable[[Path], bool],
              argv: list[str] | None = None, derive: Callable[[Path, Path], None] | None = None,
              description: str = "") -> int:
    """The command line of a queue of experiments (tools/study.py, tools/controls.py): ``--list``,
    ``--max N``, ``--commit``; every ``(folder, values)`` of ``todo`` whose folder is not ``kept``
    run with :func:`run_experiment`, with progress and an estimate of the time left after each."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--list", action="store_true", help="list the experiments and exit")
    ap.add_argument("--commit", action="store_true", help="git-commit each kept folder as it finishes")
    ap.add_argument("--max", type=int, default=None, help="run at most this many experiments")
    args = ap.parse_args(argv)
    if args.list:
        for folder, _ in todo:
            print(f"{'kept ' if kept(folder) else 'to do'}  {folder.relative_to(ROOT)}")
        return 0
    commit = committed_head()
    if commit is None:
        return 2
    pending = [(f, v) for f, v in todo if not kept(f)]
    n_kept = len(todo) - len(pending)
    if args.max is not None:
        pending = pending[:args.max]
    print(f"{label}: {len(todo)} experiments, {n_kept} kept, {len(pending)} to run now", flush=True)
    start = time.perf_counter()
    failed = []
    for k, (folder, values) in enumerate(pending, 1):
        try:
            run_experiment(values, folder, commit, targets=targets, derive=derive)
        except subprocess.CalledProcessError as e:
            # One experiment's failure (its stage's message is above) does not stop the others:
            # they are independent, and a long run is left unattended.
            failed.append(folder)
            print(f"{label}: {folder.relative_to(ROOT)} failed ({' '.join(e.cmd[:3])} ... exited with "
                  f"{e.returncode}); going on with the next", flush=True)
            continue
        if args.commit:
            subprocess.run(["git", "add", str(folder)], cwd=ROOT, check=True)
            subprocess.run(["git", "commit", "--quiet", "-m", f"{label}: {folder.relative_to(ROOT)}"],
                           cwd=ROOT, check=True)
        per = (time.perf_counter() - start) / k
        print(f"{label}: {k} of {len(pending)} run ({folder.relative_to(ROOT)}), {_clock(per * k)} so far, "
              f"about {_clock(per * (len(pending) - k))} left", flush=True)
    if failed:
        print(f"{label}: {len(failed)} experiment(s) failed, not kept (rerun the command to retry them): "
              + ", ".join(str(f.relative_to(ROOT)) for f in failed), file=sys.stderr)
        return 1
    return 0
