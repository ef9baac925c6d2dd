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
import sys

import yaml

from experiments import ROOT, committed_head, keep, run_experiment

OUT = ROOT / "reports" / "seeds"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("seeds", type=int, nargs="+")
    args = ap.parse_args(argv)
    commit = committed_head()
    if commit is None:
        return 2
    committed_seed = yaml.safe_load((ROOT / "params.yaml").read_text())["seed"]
    for seed in args.seeds:
        dest = OUT / f"seed-{seed}"
        if seed != committed_seed:
            run_experiment({"seed": seed}, dest, commit)
            continue
        keep(ROOT, dest, commit, {"seed": seed})          # the committed run: its own outputs
    return 0


if __name__ == "__main__":
    sys.exit(main())
