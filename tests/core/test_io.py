import json

import pytest

from climemu.core.io import atomic_path, write_json


def test_interrupted_write_leaves_old_output_and_no_temp(tmp_path):
    target = tmp_path / "out.json"
    write_json({"a": 1}, target)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_written_files_are_world_readable(tmp_path):
    write_json({}, tmp_path / "m.json")
    assert (tmp_path / "m.json").stat().st_mode & 0o044 == 0o044


# --- disk full (docs/reliability.md, "Interruptions and full disks") ---

import errno  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from climemu.core import io  # noqa: E402
from climemu.core.errors import UserError  # noqa: E402


def _half_then_full(write, method: bool = False):
    """A writer that writes half of what ``write`` would, then fails as a full disk does."""
    def failing(*args, **kw):
        write(*args, **kw)
        tmp = args[1] if method else args[0]
        data = Path(tmp).read_bytes()
        Path(tmp).write_bytes(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))
    return failing


def _dataset(value: float) -> xr.Dataset:
    return xr.Dataset({"tos": (("time", "lat"), np.full((4, 3), value, dtype=np.float32))})


def test_disk_full_json_keeps_previous_output_and_says_so(tmp_path, monkeypatch):
    target = tmp_path / "metrics" / "train.json"
    io.write_json({"val_rmse_degC": 0.5}, target)
    before = target.read_bytes()
    monkeypatch.setattr(Path, "write_text", _half_then_full(lambda p, text, *a, **k:
                                                            Path(p).write_bytes(text.encode())))
    with pytest.raises(UserError) as e:
        io.write_json({"val_rmse_degC": 0.7, "pad": "x" * 1000}, target)
    assert target.read_bytes() == before
    assert str(e.value).startswith(f"disk full while writing {target}; the previous {target} is "
                                   f"unchanged; free space on ")
    assert str(e.value).endswith(" and rerun")
    assert [p.name for p in target.parent.iterdir()] == ["train.json"]   # no temporary left


def test_disk_full_netcdf_keeps_previous_output(tmp_path, monkeypatch):
    target = tmp_path / "raw.nc"
    io.write_netcdf(_dataset(1.0), target)
    before = target.read_bytes()
    monkeypatch.setattr(xr.Dataset, "to_netcdf", _half_then_full(xr.Dataset.to_netcdf, method=True))
    with pytest.raises(UserError, match=r"disk full while writing .*raw\.nc; the previous .*raw\.nc "
                                        r"is unchanged"):
        io.write_netcdf(_dataset(2.0), target)
    assert target.read_bytes() == before
    with xr.open_dataset(target) as ds:
        assert float(ds.tos.max()) == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["raw.nc"]


def test_disk_full_without_previous_output_leaves_none(tmp_path, monkeypatch):
    target = tmp_path / "new.csv"
    monkeypatch.setattr(io.pd.DataFrame, "to_csv", _half_then_full(io.pd.DataFrame.to_csv, method=True))
    with pytest.raises(UserError, match=r"no .*new\.csv was written \(there was none before\)"):
        io.write_csv(io.pd.DataFrame({"a": range(100)}), target)
    assert list(tmp_path.iterdir()) == []


def test_library_error_on_a_full_disk_is_told_as_disk_full(tmp_path, monkeypatch):
    # netCDF/HDF5 report ENOSPC as "NetCDF: HDF error" without an errno: the free space decides.
    target = tmp_path / "x.nc"

    def hdf_error(self, tmp, *a, **k):
        raise RuntimeError("NetCDF: HDF error")
    monkeypatch.setattr(xr.Dataset, "to_netcdf", hdf_error)
    monkeypatch.setattr(io.shutil, "disk_usage", lambda p: type("U", (), {"free": 4096})())
    with pytest.raises(UserError, match="disk full while writing"):
        io.write_netcdf(_dataset(1.0), target)
    monkeypatch.setattr(io.shutil, "disk_usage", lambda p: type("U", (), {"free": 10 << 30})())
    with pytest.raises(RuntimeError, match="HDF error"):   # with space left: the error itself
        io.write_netcdf(_dataset(1.0), target)


def test_disk_full_at_flush_is_caught_before_the_rename(tmp_path, monkeypatch):
    target = tmp_path / "m.json"
    io.write_json({"a": 1}, target)
    before = target.read_bytes()

    def fsync_full(fd):
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
    monkeypatch.setattr(io.os, "fsync", fsync_full)
    with pytest.raises(UserError, match="the previous .*m.json is unchanged"):
        io.write_json({"a": 2}, target)
    assert target.read_bytes() == before


# --- killed writers ---

def test_temporary_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "out.json"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".out.json.{dead}.abc123.tmp"
    stale.write_text("{half")
    live = tmp_path / f".out.json.{os.getpid()}.def456.tmp"   # a writer still running
    live.write_text("{")
    other = tmp_path / f".other.json.{dead}.x.tmp"           # another target's
    other.write_text("{")
    io.write_json({"a": 1}, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out.json", live.name, other.name])
