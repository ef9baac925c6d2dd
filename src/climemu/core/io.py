"""Atomic output writers: a stage interrupted half-way never leaves a half-written output.

Each writer writes to a temporary file beside the target (``.<name>.<pid>.<random>.tmp``),
flushes it to the disk, then renames it over the target (``os.replace`` is atomic on one file
system). A process killed before the rename leaves the previous target (or none) and a stray
temporary file, which the next write of the same target deletes once its process is gone.

A full disk (``ENOSPC``/``EDQUOT``, or any failed write with under :data:`FULL_BYTES` left)
becomes a :class:`~climemu.core.errors.UserError` that says the previous output is unchanged.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd
import xarray as xr

from climemu.core.errors import UserError

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# A write that fails with less free space than this is taken for a full disk: some libraries
# (netCDF/HDF5) report ENOSPC as a generic error without the errno.
FULL_BYTES = 1 << 20


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:      # someone else's process
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete ``path``'s temporary files left by killed writers (their process is gone)."""
    removed = []
    head = f".{path.name}."
    for entry in path.parent.iterdir() if path.parent.is_dir() else ():
        name = entry.name
        if not (name.startswith(head) and name.endswith(".tmp")):
            continue
        pid = name[len(head):].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def _disk_full(exc: BaseException, folder: Path) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
    try:
        return shutil.disk_usage(folder).free < FULL_BYTES
    except OSError:
        return False


def _fsync(path: Path) -> None:
    """Flush ``path`` to the disk: a full disk shows here, before the rename, on file systems
    that report it only on flush; and a power cut after the rename finds the whole file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    On a full disk raises :class:`UserError`; the previous ``path`` (if any) is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    existed = path.exists()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        try:
            yield tmp
            _fsync(tmp)
            tmp.chmod(0o644)   # mkstemp creates 0600; outputs are ordinary files
            os.replace(tmp, path)
        except Exception as e:
            tmp.unlink(missing_ok=True)   # give the space back before telling
            if _disk_full(e, path.parent):
                before = (f"the previous {path} is unchanged" if existed
                          else f"no {path} was written (there was none before)")
                raise UserError(f"disk full while writing {path}; {before}; free space on "
                                f"{path.parent.resolve()} and rerun") from e
            raise
    finally:
        tmp.unlink(missing_ok=True)


def write_json(obj: dict, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_text(text: str, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")


def write_netcdf(ds: xr.Dataset, path: str | Path,
                 verify: Callable[[xr.Dataset], None] | None = None) -> None:
    """``verify`` (optional) reads the written file before it replaces ``path``: if it raises,
    ``path`` is left as it was. For lazy datasets it checks without computing them twice."""
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
        if verify is not None:
            with xr.open_dataset(tmp, chunks={"time": 1200} if "time" in ds.dims else None) as written:
                verify(written)


def save_torch(obj: object, path: str | Path) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
