"""Atomic output writers: a stage interrupted half-way never leaves a half-written output.

Each writer writes to a temporary file beside the target, then renames it over the target
(``os.replace`` is atomic on one file system).
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd
import xarray as xr


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        tmp.chmod(0o644)   # mkstemp creates 0600; outputs are ordinary files
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(obj: dict, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


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
