"""Errors a user can cause, told as one short paragraph instead of a traceback (docs/reliability.md).

A :class:`UserError` (or a :class:`~climemu.core.config.ConfigError`) carries a message that says
what was found, what was expected and what to do. :func:`run_stage` runs a stage's ``main`` and
prints such a message alone, exiting with status 1; ``CLIMEMU_DEBUG=1`` brings the traceback back.
"""

from __future__ import annotations

import os
import sys
from typing import Callable

from climemu.core.config import ConfigError

DEBUG_VARIABLE = "CLIMEMU_DEBUG"


class UserError(Exception):
    """Something the user can fix: a bad file, parameter, network answer or a full disk."""


def run_stage(main: Callable[[], None], name: str | None = None) -> None:
    """Run ``main``; a user error prints one paragraph on stderr and exits 1, without a traceback."""
    try:
        main()
    except (UserError, ConfigError) as e:
        if os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
            raise
        stage = f"{name}: " if name else ""
        print(f"error: {stage}{e}\n(set {DEBUG_VARIABLE}=1 to see the traceback)", file=sys.stderr)
        sys.exit(1)
