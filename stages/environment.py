"""Imported first by every stage script: a plain message, not an ImportError traceback, when the
stage runs with a Python that lacks the project's packages (``dvc repro`` without the ``.venv``).

Standard library only, so it runs under any Python 3.
"""

import importlib.util
import sys
from pathlib import Path

# This checkout's library first. The editable install points at the checkout it was made in, so
# without this an experiment that DVC runs in a copy of the repository (`dvc exp run --queue`,
# `--temp`) would import the workspace's code as it is when the stage starts, not its own.
SRC = Path(__file__).resolve().parent.parent / "src"
if SRC.is_dir() and str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

# The project itself and the packages every stage imports at its start.
REQUIRED = ("climemu", "numpy", "xarray", "yaml", "pydantic", "torch")

MESSAGE = ("error: the project's environment is not active: {python} cannot import {missing}.\n"
           "Run `make repro` (it sets up .venv and runs the pipeline), or `make setup`, then\n"
           "`source .venv/bin/activate` and `dvc repro`.")


def missing(names=REQUIRED):
    """The names of ``names`` that this Python cannot import."""
    return [name for name in names if importlib.util.find_spec(name) is None]


def require(names=REQUIRED):
    absent = missing(names)
    if absent:
        print(MESSAGE.format(python=sys.executable or "python", missing=", ".join(absent)),
              file=sys.stderr)
        sys.exit(1)


require()
