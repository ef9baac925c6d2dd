"""No missing value over the ocean: the check that fetch, smooth, window and training share.

A month with missing values (NaN) over the ocean would be spread by the 12-month smoothing over
the following eleven months and then reach training. Every source passes the fetch stage, which
checks what it wrote before it publishes ``data/raw.nc``; smooth and window check their inputs
again, and the windowed data (what training and every later stage read) checks its array.

Two faces of one fault are counted: a NaN at a cell the ocean mask calls ocean, and (for CMIP6
sources, whose mask comes from the first month) a cell the mask calls land that holds values in
other months, i.e. the first month misses ocean values. Counts are per month, computed chunk by
chunk for lazy (dask) data.
"""

from __future__ import annotations

import json

import dask
import numpy as np
import xarray as xr

from climemu.core.errors import UserError
from climemu.data.cmip import FileSpan, month_label

SHOWN = 6   # months named in a message; the rest are counted


class OceanGapError(UserError):
    """Some months have no value at some ocean cells."""


def gap_counts(tos: xr.DataArray, ocean: xr.DataArray) -> np.ndarray:
    """(time,) int: ocean cells without a value in each month of ``tos(time, lat, lon)``."""
    sea = ocean.astype(bool)
    nan_at_sea = tos.isnull().where(sea, False).sum(("lat", "lon"))
    land_values = tos.notnull().where(~sea, False).sum(("lat", "lon"))
    nan_at_sea, land_values = dask.compute(nan_at_sea, land_values)
    land_values = np.asarray(land_values, dtype=np.int64)
    # A land cell with values in some months is ocean the mask missed: count it where it is NaN.
    return np.asarray(nan_at_sea, dtype=np.int64) + (land_values.max(initial=0) - land_values)


def gap_counts_array(values: np.ndarray, ocean: np.ndarray, chunk: int = 120) -> np.ndarray:
    """(time,) int: NaN at ocean cells per month of a (time, lat, lon) array, ``chunk`` months at a time."""
    return np.concatenate([np.isnan(values[a:a + chunk][:, ocean]).sum(axis=1)
                           for a in range(0, len(values), chunk)] or [np.zeros(0, np.int64)])


def _files_of(months: list[int], files: list[str]) -> str:
    """' in <file>, <file>': the files (by their CMIP6 names) that hold ``months``."""
    spans = []
    for name in files:
        try:
            spans.append(FileSpan.parse(name.rstrip("/").rsplit("/", 1)[-1]))
        except ValueError:          # a zarr store or another name: name it whole
            return f" in {', '.join(files)}"
    hit = [s.name for s in spans if any(s.first <= m <= s.last for m in months)]
    return f" in {', '.join(hit)}" if hit else ""


def describe_gaps(counts: np.ndarray, time, n_ocean: int, what: str, files: list[str] = (),
                  advice: str = "") -> str | None:
    """The message for ``counts`` (per month), or None when no month has a gap."""
    bad = np.flatnonzero(counts > 0)
    if len(bad) == 0:
        return None
    dates = xr.DataArray(np.asarray(time)[bad]).dt          # cftime or datetime64
    months = [int(y) * 12 + int(m) - 1 for y, m in zip(dates.year.values, dates.month.values)]
    shown = ", ".join(f"{month_label(m)} ({int(counts[k])} of {n_ocean} ocean cells)"
                      for m, k in zip(months[:SHOWN], bad[:SHOWN]))
    more = f" and {len(bad) - SHOWN} more months" if len(bad) > SHOWN else ""
    n = f"{len(bad)} month{'s' if len(bad) > 1 else ''}"
    return (f"{what}: {n} without a value at some ocean cells: {shown}{more}"
            f"{_files_of(months, list(files))}. Expected a value at every ocean cell in every month: "
            "the 12-month smoothing would spread the gap over the following months. " + advice).strip()


FETCH_ADVICE = ("Replace or download the file again (data.source=esgf checks published checksums), "
                "or choose data.years that leave these months out.")
STAGE_ADVICE = ("Run the fetch stage again (`dvc repro fetch`), which refuses such data and names "
                "the file, then `dvc repro`.")


def check_ocean(ds: xr.Dataset, what: str, advice: str = STAGE_ADVICE) -> None:
    """Raise :class:`OceanGapError` when ``ds`` (``tos``, ``ocean``; lazy or not) has a gap over the ocean."""
    counts = gap_counts(ds["tos"], ds["ocean"])
    files = json.loads(ds.attrs["files"]) if "files" in ds.attrs else []
    message = describe_gaps(counts, ds["time"].values, int(ds["ocean"].astype(bool).sum()), what,
                            files, advice)
    if message:
        raise OceanGapError(message)


def check_fetched(ds: xr.Dataset) -> None:
    """The fetch stage's check of what a source returned (read back from the written file)."""
    source = ds.attrs.get("fetch_source") or ds.attrs.get("source_id", "?")
    check_ocean(ds, f"data.source={source}", FETCH_ADVICE)
