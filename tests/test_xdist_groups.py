"""The test tiers' scheduling: tests of one ``xdist_group`` run on one worker (tests/xdist_groups.py)."""

import os
import subprocess
import sys

from tests.helpers import ROOT

_TOY = '''
import pytest
G = pytest.mark.xdist_group("g")

@G
def test_a(): pass

@pytest.mark.parametrize("p", ["free", pytest.param("grouped", marks=G)])
def test_b(p): pass

@G
def test_c(): pass

def test_d(): pass

def test_e(): pass
'''


def test_a_group_runs_on_one_worker(tmp_path):
    (tmp_path / "test_toy.py").write_text(_TOY)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider",
         "-p", "tests.xdist_groups", "--rootdir", str(tmp_path), str(tmp_path / "test_toy.py")],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=300).stdout
    workers = {}
    for line in out.splitlines():
        if "PASSED" in line and line.startswith("[gw"):
            workers[line.split()[-1]] = line[1:4]
    grouped = {k: v for k, v in workers.items() if k.endswith("@g")}
    assert sorted(grouped) == ["test_toy.py::test_a@g", "test_toy.py::test_b[grouped]@g",
                               "test_toy.py::test_c@g"], out
    assert len(set(grouped.values())) == 1, workers
    assert len(workers) == 6, out
