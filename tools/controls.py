"""End-to-end controls: each finding planted and absent, through the whole chain, resumable.

    make controls                                 # every experiment not yet kept, then the report
    .venv/bin/python tools/controls.py --list     # the experiments and which are kept
    .venv/bin/python tools/controls.py --commit   # git-commit each experiment's folder as it finishes

params.yaml's ``controls`` section sets the experiments (climemu.config.ControlsConfig): every
generator setting of ``settings`` at every replicate (its own ``data.synthetic.seed`` and network
``seed``) and at every lead a finding's pair needs it at, with ``set`` (the scale: a smaller box of
the same generator) replaced in all. Each runs ``controls.stages`` as ``dvc exp run -S ... STAGES``
in a fresh clone of the committed HEAD (:mod:`experiments`): the pipeline's own stages train the
network, explain it, aggregate and score the maps. Its metrics are kept in
``reports/controls/SETTING/lead-L/rep-R/``; a kept folder is skipped, so a stopped run resumes on
any machine once the folders are committed. Then ``python -m climemu.report.controls`` applies the
report's rules to them and writes the power table (docs/controls.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

from climemu.core.params import read_params_file
from climemu.report.config import ControlsConfig
from climemu.report import controls as report
from experiments import ROOT, run_queue

OUT = ROOT / report.CONTROLS


def experiments() -> list[tuple[Path, dict]]:
    """``(folder, values replaced)`` of every experiment, replicates outermost."""
    cfg = config()
    return [(OUT / setting / f"lead-{lead}" / f"rep-{r}", values)
            for setting, lead, r, values in cfg.experiments()]


def config() -> ControlsConfig:
    """The ``controls`` section (``python -m climemu.config`` checks every setting's whole file)."""
    return ControlsConfig.model_validate(read_params_file(ROOT / "params.yaml")["controls"])


def kept(folder: Path) -> bool:
    """A finished experiment: its folder is moved into place complete (experiments.keep)."""
    return (folder / "commit.txt").exists()


def main(argv: list[str] | None = None) -> int:
    return run_queue("controls", experiments(), config().stages, kept, argv, description=__doc__.split("\n\n")[0])


if __name__ == "__main__":
    sys.exit(main())
