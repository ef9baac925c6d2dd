"""A pytest plugin (loaded by tests/conftest.py): pytest-xdist's ``--dist loadgroup`` under pytest 9."""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")   # after xdist's own
def pytest_collection_modifyitems_xdist_groups(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put each ``xdist_group``'s name into the test's node id on the workers, as pytest-xdist
    3.8 means to: it sets ``item._nodeid``, which pytest 9 no longer reads (its node id is
    ``item._id``), so without this every group was scattered over both workers and each built its
    own copy of a shared fixture (the MLflow server, a pipeline test's `dvc repro`).
    tests/test_xdist_groups.py checks that a group lands on one worker."""
    if not getattr(config.option, "loadgroup", False) or not items or not hasattr(items[0], "_id"):
        return
    from _pytest.nodeid import coerce_node_id
    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        if names and "@" not in item.nodeid:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(names)}")
