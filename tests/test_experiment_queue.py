"""tools/experiments.py's queue (make study, make controls): one failed experiment does not stop the
others, and the command says which failed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import experiments  # noqa: E402  (tools/experiments.py)


def test_a_failed_experiment_is_reported_and_the_rest_run(tmp_path, monkeypatch, capsys):
    ran = []

    def fake_run(values, folder, commit, targets=(), derive=None):
        ran.append(folder.name)
        if folder.name == "b":
            raise subprocess.CalledProcessError(255, ["dvc", "exp", "run"])
        folder.mkdir(parents=True)
        (folder / "commit.txt").write_text(commit)

    monkeypatch.setattr(experiments, "run_experiment", fake_run)
    monkeypatch.setattr(experiments, "committed_head", lambda: "abc")
    monkeypatch.setattr(experiments, "ROOT", tmp_path)
    todo = [(tmp_path / name, {}) for name in ("a", "b", "c")]
    kept = lambda folder: (folder / "commit.txt").exists()   # noqa: E731
    assert experiments.run_queue("study", todo, [], kept, []) == 1
    assert ran == ["a", "b", "c"] and kept(tmp_path / "c") and not kept(tmp_path / "b")
    out = capsys.readouterr()
    assert "b failed (dvc exp run ... exited with 255); going on with the next" in out.out
    assert "1 experiment(s) failed, not kept (rerun the command to retry them): b" in out.err
    # rerun: only the failed one is to do
    ran.clear()
    monkeypatch.setattr(experiments, "run_experiment", lambda v, f, c, targets=(), derive=None:
                        ran.append(f.name) or f.mkdir() or (f / "commit.txt").write_text(c))
    assert experiments.run_queue("study", todo, [], kept, []) == 0 and ran == ["b"]
