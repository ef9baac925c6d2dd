"""The study in one command: leads x arms x seeds of the pipeline, resumable, one folder each.

    make study                                   # every experiment not yet kept, then the study report
    .venv/bin/python tools/study.py --list       # the experiments and which are kept
    .venv/bin/python tools/study.py --commit     # git-commit each experiment's folder as it finishes

params.yaml's ``study`` section sets the experiments: every seed of ``seeds`` (outermost, so a
stopped study holds every lead and arm at its first seeds) x every lead of ``leads`` x every arm of
``arms`` (each a set of replaced values: the default's network, Table 1 alone, the FNN variant),
with ``set`` replaced in all of them (the study's scale) and ``by_lead`` in those of one lead.
Each runs ``study.stages`` (and what they need) as ``dvc exp run -S ... STAGES`` in a fresh clone
of the committed HEAD sharing this repository's DVC cache (:mod:`experiments`); its small outputs
(metrics, the group maps' summary ``maps.nc`` for the seed ensemble, the commit and the values
set) are kept in ``reports/study/lead-L/ARM/seed-S/``. An experiment whose folder is complete is
skipped, so a killed study, or one moved to another machine with the folders committed, picks up
where it stopped. Progress and an estimate of the time left (from this run's experiments) are
printed after each. Then ``python -m climemu.report.study`` writes ``reports/study.md``, its
curves and figure and the offline page from the folders.
"""

from __future__ import annotations

import sys
from itertools import product
from pathlib import Path

import yaml

from climemu.core import paths
from climemu.report import ensemble, study as report
from experiments import ROOT, run_queue

OUT = ROOT / report.STUDY


def experiments(study: dict) -> list[tuple[Path, dict]]:
    """``(folder, values replaced)`` of every experiment, seeds outermost: a study stopped part way
    holds every lead and arm at its first seeds, so the report has intervals across all of them
    before the last seeds narrow them."""
    out = []
    for seed, lead, (arm, values) in product(study["seeds"], study["leads"], study["arms"].items()):
        overrides = {**study["set"], **study.get("by_lead", {}).get(lead, {}), **values,
                     "lead": lead, "seed": seed}
        out.append((OUT / f"lead-{lead}" / arm / f"seed-{seed}", overrides))
    return out


def kept(folder: Path) -> bool:
    """A finished experiment: its folder is moved into place complete (experiments.keep), with the
    ensemble's maps (a folder kept before they were is run again)."""
    return (folder / "commit.txt").exists() and (folder / ensemble.MAPS).exists()


def maps(repo: Path, folder: Path) -> None:
    """The group results' summary the seed ensemble reads (climemu.report.ensemble)."""
    ensemble.write_summary(repo / paths.GROUP, folder / ensemble.MAPS)


def main(argv: list[str] | None = None) -> int:
    study = yaml.safe_load((ROOT / "params.yaml").read_text())["study"]
    return run_queue("study", experiments(study), study["stages"], kept, argv, derive=maps,
                     description=__doc__.split("\n\n")[0])


if __name__ == "__main__":
    sys.exit(main())
