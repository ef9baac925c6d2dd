"""Run the judges' power experiment: every method, at the sample counts the judges need.

    .venv/bin/python tools/judges.py           # about 40 minutes on 2 cores (docs/measures.md)
    make results                               # docs/measures.md's power tables from it

The committed pipeline with the values of params.yaml's ``judges.set`` replaced (a 40 x 40-cell
box of the same generator in the exact setting, every registered method and both controls,
32 samples per cell in ``score`` and ``faithfulness``), in a fresh clone
(:mod:`experiments`); its metrics and findings are kept in ``reports/judges/``. A developer's
tool (no stage runs it); commit ``reports/judges/`` after it.
"""

from __future__ import annotations

import sys

import yaml

from experiments import ROOT, committed_head, run_experiment


def main() -> int:
    commit = committed_head()
    if commit is None:
        return 2
    overrides = yaml.safe_load((ROOT / "params.yaml").read_text())["judges"]["set"]
    run_experiment(overrides, ROOT / "reports" / "judges", commit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
