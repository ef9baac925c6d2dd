"""Errors a user can cause read as one paragraph, without a traceback, unless CLIMEMU_DEBUG=1."""

import json

import pytest
import yaml

from climemu.core.config import ConfigError
from climemu.core.errors import DEBUG_VARIABLE, UserError, missing_inputs, run_stage
from climemu.data import esgf
from climemu.data.pangeo import find_store
from tests.helpers import ROOT
from tests.helpers_cmip6 import FakeEsgf, Grid, closed_port_url, cmip6_dataset, file_name, write_file


def _fails(main, capsys, name="fetch") -> str:
    with pytest.raises(SystemExit) as exit_:
        run_stage(main, name)
    assert exit_.value.code == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.err


@pytest.mark.parametrize("error", [UserError("file x is bad; expected y; do z"), ConfigError("lead: too big")])
def test_a_user_error_is_one_paragraph_on_stderr(error, capsys, monkeypatch):
    monkeypatch.delenv(DEBUG_VARIABLE, raising=False)
    monkeypatch.chdir(ROOT.parent)       # no dvc.yaml here: no input check

    def main():
        raise error
    assert _fails(main, capsys) == f"error: fetch: {error}\n(set {DEBUG_VARIABLE}=1 to see the traceback)\n"
    monkeypatch.setenv(DEBUG_VARIABLE, "1")
    with pytest.raises(type(error)):
        run_stage(main, "fetch")


def test_a_bug_keeps_its_traceback(monkeypatch):
    monkeypatch.chdir(ROOT.parent)
    with pytest.raises(ZeroDivisionError):
        run_stage(lambda: 1 / 0, "fetch")


def test_inputs_written_by_earlier_stages_are_required(tmp_path, monkeypatch, capsys):
    (tmp_path / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert missing_inputs("fetch") == []
    assert missing_inputs("explain") == [("data/raw.nc", "fetch"), ("data/smoothed.nc", "smooth"),
                                         ("data/windows.nc", "window"), ("models/model.pt", "train")]
    (tmp_path / "data").mkdir()
    for name in ("raw.nc", "smoothed.nc", "windows.nc"):
        (tmp_path / "data" / name).write_bytes(b"")
    ran = []
    err = _fails(lambda: ran.append(1), capsys, "explain")
    assert not ran
    assert "models/model.pt (written by stage train)" in err and "`dvc repro explain`" in err
    # every stage's inputs are named in dvc.yaml: report reads only metrics files
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert {p for p, _ in missing_inputs("report")} >= {"metrics/aggregate.json", "metrics/score.json"}
    assert set(stages) >= {"fetch", "report"}


def test_esgf_failures_read_as_messages(tmp_path, capsys):
    grid = Grid.make(n_lat=8, n_lon=10)
    path = write_file(cmip6_dataset(grid, 401, 12), tmp_path / file_name(401, 12))
    dead = closed_port_url()
    err = _fails(lambda: esgf.fetch([dead], tmp_path / "dl", (401, 401), 2, 0), capsys)
    assert "ESGF search found no files" in err and f"{dead}: no answer (ConnectionError" in err
    with FakeEsgf() as fake:
        fake.publish(path, checksum="ab" * 32)                    # a checksum that never matches
        err = _fails(lambda: esgf.fetch([fake.url("/search")], tmp_path / "dl", (401, 401), 5, 1), capsys)
        assert f"could not download {path.name} after 2 attempts" in err and "sha256 abab" in err
        fake.docs.clear()
        fake.publish(path)
        fake.drop_once.add(path.name)                             # dropped, and no retry left
        err = _fails(lambda: esgf.fetch([fake.url("/search")], tmp_path / "dl2", (401, 401), 5, 0), capsys)
        assert f"could not download {path.name} after 1 attempts" in err


def test_an_unreadable_pangeo_catalog_reads_as_a_message(tmp_path, capsys):
    bad = tmp_path / "catalog.json"
    bad.write_text(json.dumps({"not": "a catalog"}))
    err = _fails(lambda: find_store(str(bad)), capsys)
    assert f"cannot read the intake-esm catalog {bad}" in err
