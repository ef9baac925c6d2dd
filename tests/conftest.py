"""Shared fixtures. Shared code lives in tests/helpers.py: tests import that, never conftest."""

from __future__ import annotations

import os
import sys

# One OpenMP/BLAS thread per test process and per stage it starts (subprocesses inherit it),
# unless the caller sets OMP_NUM_THREADS. The tests' tensors are tiny, and with torch's default
# (a thread per core) two processes on the 2-core machine (xdist workers, a stage beside a test)
# spin against each other: tests/training took 122 s with the default and 6 s with one thread,
# a tiny `dvc repro` 247 s and 132 s (2 cores, both beside another 2-thread job; Makefile).
# Set before numpy and torch are imported, so their thread pools start with it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
if "torch" in sys.modules:                      # imported by a plugin before this file: set it too
    sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

import pytest  # noqa: E402

pytest_plugins = ["tests.xdist_groups"]   # xdist_group under pytest 9 (see there)

from climemu.config import DataConfig  # noqa: E402
from tests.helpers import TINY, section  # noqa: E402


# The unit-test modules that take longest (`pytest --durations=0`, 2 idle cores, one process):
# tracking waits on timeouts, subprocesses and an MLflow server (about 60 s).
LONG_FIRST = ("tests/core/test_tracking.py",)


@pytest.hookimpl(tryfirst=True)             # before xdist reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`make test`, `make test-fast`: ``-n 2 --dist loadgroup``):

    - a test that uses a module-scoped fixture runs on the worker that runs the module's other
      users, so the fixture is built once (tests/pipeline's ``repo`` is a whole `dvc repro`);
    - the long tests start first (the pipeline tests, then the modules in ``LONG_FIRST``) and the
      short ones fill in behind, so no worker is left with a long test at the end.
    Without xdist nothing changes.
    """
    if config.getoption("dist", "no") == "no":        # no xdist, or -n 0
        return
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        shared = info and any(defs and defs[-1].scope in ("module", "class", "package")
                              for defs in info.name2fixturedefs.values())
        if shared and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("pipeline"):
            return 0
        module = item.nodeid.split("::")[0]
        return 1 + LONG_FIRST.index(module) if module in LONG_FIRST else 1 + len(LONG_FIRST)

    items.sort(key=rank)                                 # stable: a module keeps its own order


@pytest.fixture
def tiny_data_cfg() -> DataConfig:
    """The tiny run's data section (tests.helpers.TINY), 20 years instead of 30."""
    return section("data", TINY["data"], years=[401, 420])
