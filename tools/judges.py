"""Run the judges' power experiment: every method, at the sample counts the judges need.

    .venv/bin/python tools/judges.py           # about 40 minutes on 2 cores (docs/measures.md)
    .venv/bin/python tools/judges.py --band-only   # the band's coverage alone (a few minutes)
    make results                               # docs/measures.md's power tables from it

The committed pipeline with the values of params.yaml's ``judges.set`` replaced (a 40 x 40-cell
box of the same generator in the exact setting, every registered method and both controls,
32 samples per cell in ``score`` and ``faithfulness``), in a fresh clone
(:mod:`experiments`); its metrics and findings are kept in ``reports/judges/``. Then the band
stage alone in the default setting at each lead of ``explain.truth_leads``, its band.json (with
the truth's measures, hence the band's coverage) kept in ``reports/band/lead-L/``. A developer's
tool (no stage runs it); commit ``reports/judges/`` and ``reports/band/`` after it.
"""

from __future__ import annotations

import sys

import yaml

from experiments import ROOT, committed_head, run_experiment


def main() -> int:
    commit = committed_head()
    if commit is None:
        return 2
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    if "--band-only" not in sys.argv:
        run_experiment(params["judges"]["set"], ROOT / "reports" / "judges", commit)
    # The band's coverage of the truth in the default setting at the truth's leads: the band stage
    # alone (it needs no network), its metrics kept per lead.
    for lead in params["explain"]["truth_leads"]:
        run_experiment({"lead": lead}, ROOT / "reports" / "band" / f"lead-{lead}", commit,
                       targets=["band"], files=["metrics/band.json"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
