"""Errors a user can cause, told as one short paragraph instead of a traceback (docs/reliability.md).

A :class:`UserError` (or a :class:`~climemu.core.config.ConfigError`) carries a message that says
what was found, what was expected and what to do. :func:`run_stage` runs a stage's ``main`` and
prints such a message alone, exiting with status 1; ``CLIMEMU_DEBUG=1`` brings the traceback back.
Before ``main`` it checks that the inputs the stage reads from earlier stages (its ``deps`` in
``dvc.yaml`` that another stage writes) exist, so a stage run alone says which stage to run first.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Callable

import yaml

from climemu.core.config import ConfigError
from climemu.core.paths import DVC_FILE, OUTPUTS, dvc_stages

DEBUG_VARIABLE = "CLIMEMU_DEBUG"
_VAR = re.compile(r"\$\{paths\.(\w+)\}")


class UserError(ValueError):
    """Something the user can fix: a bad file, parameter, network answer or a missing input.

    A ``ValueError``, so code (and tests) that expect the ``ValueError`` of bad input still hold.
    """


def _path(entry) -> str:
    """A dvc.yaml deps/outs entry (``path`` or ``{path: {cache: false}}``) with ``${paths.x}`` resolved."""
    text = entry if isinstance(entry, str) else next(iter(entry))
    return _VAR.sub(lambda m: OUTPUTS.get(m.group(1), m.group(0)), text)


def missing_inputs(stage: str, dvc_file: str | Path = DVC_FILE) -> list[tuple[str, str]]:
    """(path, stage that writes it) for each input of ``stage`` written by another stage and absent.

    Nothing when ``dvc_file`` is absent or does not define ``stage`` (a script run elsewhere).
    """
    try:
        stages = dvc_stages(dvc_file)
        deps = stages[stage].get("deps", [])
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return []
    made_by = {_path(out): name for name, spec in stages.items() if name != stage
               for key in ("outs", "metrics", "plots") for out in spec.get(key, []) or []}
    return [(p, made_by[p]) for p in map(_path, deps) if p in made_by and not Path(p).exists()]


def require_inputs(stage: str, dvc_file: str | Path = DVC_FILE) -> None:
    missing = missing_inputs(stage, dvc_file)
    if missing:
        listed = ", ".join(f"{p} (written by stage {by})" for p, by in missing)
        raise UserError(f"the stage's inputs are missing: {listed}. Run the pipeline up to this "
                        f"stage first: `dvc repro {stage}` (runs the stages it needs), or `make repro`")


def run_stage(main: Callable[[], None], name: str | None = None) -> None:
    """Run ``main``; a user error prints one paragraph on stderr and exits 1, without a traceback."""
    try:
        if name:
            require_inputs(name)
        main()
    except (UserError, ConfigError) as e:
        if os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
            raise
        stage = f"{name}: " if name else ""
        print(f"error: {stage}{e}\n(set {DEBUG_VARIABLE}=1 to see the traceback)", file=sys.stderr)
        sys.exit(1)
