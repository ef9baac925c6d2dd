"""CMIP6 ``tos`` files: names, opening, and the checks that stop bad input before any work.

The paper's data (docs/data.md): CESM2 piControl r1i1p1f1, monthly ``tos`` on the
curvilinear POP grid (``nlat`` x ``nlon`` = 384 x 320, 2-D ``lat``/``lon``, longitude 0-360),
degC, 1e20 fill over land, a 365_day calendar with ``time_bnds``, in 100-year files named
``tos_Omon_CESM2_piControl_r1i1p1f1_gn_YYYYMM-YYYYMM.nc``. Files are opened lazily (dask), so
1,200 years never sit in memory at once; every check reads only coordinates and attributes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from climemu.core.errors import UserError

# The dataset of the paper, as ESGF and the Pangeo catalog name it (their facets).
FACETS = {"source_id": "CESM2", "experiment_id": "piControl", "variant_label": "r1i1p1f1",
          "table_id": "Omon", "variable_id": "tos", "grid_label": "gn"}
VARIABLE = "tos"
CALENDARS = ("noleap", "365_day")
CELSIUS = ("degC", "degree_C", "degrees_C", "deg_C", "C", "celsius", "Celsius")
KELVIN = ("K", "kelvin", "Kelvin", "degK")
# <variable>_<table>_<source>_<experiment>_<member>_<grid>_<YYYYMM>-<YYYYMM>.nc (CMIP6 DRS)
FILE_NAME = re.compile(r"^(?P<variable>[^_]+)_(?P<table>[^_]+)_(?P<source>[^_]+)_(?P<experiment>[^_]+)_"
                       r"(?P<member>[^_]+)_(?P<grid>[^_]+)_(?P<start>\d{4,}\d{2})-(?P<end>\d{4,}\d{2})\.nc$")
TIME_CHUNK = 120   # months per dask chunk: 120 x 384 x 320 float32 = 59 MB


class CmipError(UserError):
    """A CMIP6 file or dataset is not what the pipeline expects; the message says what was found."""


@dataclass(frozen=True)
class FileSpan:
    """The months a CMIP6 file covers according to its name, as month numbers year*12 + month-1."""

    name: str
    first: int
    last: int

    @classmethod
    def parse(cls, name: str) -> "FileSpan":
        m = FILE_NAME.match(name)
        if not m:
            raise CmipError(f"file name {name!r} does not follow the CMIP6 pattern "
                            "<variable>_<table>_<source>_<experiment>_<member>_<grid>_YYYYMM-YYYYMM.nc")
        return cls(name, _month_number(m["start"]), _month_number(m["end"]))

    def overlaps(self, years: tuple[int, int]) -> bool:
        return self.first <= 12 * years[1] + 11 and self.last >= 12 * years[0]


def _month_number(yyyymm: str) -> int:
    return int(yyyymm[:-2]) * 12 + int(yyyymm[-2:]) - 1


def month_label(number: int) -> str:
    """Month number year*12 + month-1 as 'YYYY-MM' (model years)."""
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


def sha256(path: str | Path, block: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def open_tos(store, name: str, **kwargs) -> xr.Dataset:
    """Open one file or zarr store lazily with cftime dates; a file that cannot be read says so."""
    try:
        return xr.open_dataset(store, chunks={"time": TIME_CHUNK},
                               decode_times=xr.coders.CFDatetimeCoder(use_cftime=True), **kwargs)
    except (OSError, ValueError, RuntimeError) as e:
        raise CmipError(f"{name}: cannot be read as netCDF/zarr (truncated or damaged?): {e}") from e


def check(ds: xr.Dataset, name: str) -> xr.Dataset:
    """Variable, grid, calendar and units of one opened piece; returns ``tos`` in degC.

    Kelvin is converted (and said so); any other unit is refused.
    """
    if VARIABLE not in ds.data_vars:
        raise CmipError(f"{name}: variable {VARIABLE!r} not found (found {sorted(ds.data_vars)}); "
                        f"expected monthly sea surface temperature {VARIABLE!r}")
    tos = ds[VARIABLE]
    for coord in ("lat", "lon"):
        if coord not in ds.variables or ds[coord].ndim != 2:
            found = ds[coord].dims if coord in ds.variables else "missing"
            raise CmipError(f"{name}: expected 2-D {coord}(nlat, nlon) of the curvilinear grid, "
                            f"found {found}")
    if tos.dims[0] != "time" or tos.ndim != 3:
        raise CmipError(f"{name}: expected {VARIABLE}(time, nlat, nlon), found {VARIABLE}{tos.dims}")
    calendar = ds["time"].encoding.get("calendar") or ds["time"].attrs.get("calendar", "standard")
    if calendar not in CALENDARS:
        raise CmipError(f"{name}: calendar {calendar!r}; expected one of {CALENDARS} "
                        "(CMIP6 Omon files of CESM2 use 365_day)")
    units = tos.attrs.get("units")
    if units in KELVIN:
        print(f"{name}: {VARIABLE} is in kelvin ({units!r}); converted to degC (minus 273.15)")
        tos = (tos - 273.15).assign_attrs(tos.attrs, units="degC", converted_from=units)
    elif units not in CELSIUS:
        raise CmipError(f"{name}: {VARIABLE} units {units!r}; expected degC (or kelvin, converted)")
    else:
        tos = tos.assign_attrs(units="degC")
    return tos


def months_of(ds: xr.Dataset) -> np.ndarray:
    """Month numbers (year*12 + month-1) of the time axis."""
    t = ds["time"].values
    return np.array([d.year * 12 + d.month - 1 for d in t], dtype=np.int64)


def check_continuous(pieces: list[tuple[str, np.ndarray]]) -> None:
    """Months must follow one another with no gap or overlap, inside and between pieces."""
    previous_name, previous_last = None, None
    for name, months in pieces:
        if len(months) == 0:
            raise CmipError(f"{name}: holds no time step")
        steps = np.diff(months)
        if (steps != 1).any():
            k = int(np.flatnonzero(steps != 1)[0])
            kind = "a gap" if steps[k] > 1 else "a repeated or backward month"
            raise CmipError(f"{name}: {kind} after {month_label(months[k])} (next is "
                            f"{month_label(months[k + 1])}); expected consecutive months")
        if previous_last is not None:
            if months[0] <= previous_last:
                raise CmipError(f"{previous_name} and {name} overlap: {name} starts at "
                                f"{month_label(months[0])}, {previous_name} ends at "
                                f"{month_label(previous_last)}; expected files in sequence")
            if months[0] > previous_last + 1:
                raise CmipError(f"gap between {previous_name} (ends {month_label(previous_last)}) "
                                f"and {name} (starts {month_label(months[0])}): months "
                                f"{month_label(previous_last + 1)} to {month_label(months[0] - 1)} "
                                "are missing")
        previous_name, previous_last = name, months[-1]


def select_years(tos: xr.DataArray, months: np.ndarray, years: tuple[int, int],
                 what: str) -> xr.DataArray:
    """The months of model years ``years`` (inclusive); all of them must be there."""
    first, last = 12 * years[0], 12 * years[1] + 11
    if months[0] > first or months[-1] < last:
        raise CmipError(f"{what} cover {month_label(months[0])} to {month_label(months[-1])}; "
                        f"data.years asks for {years[0]:04d}-01 to {years[1]:04d}-12")
    keep = (months >= first) & (months <= last)
    return tos.isel(time=np.flatnonzero(keep))


def open_files(paths: list[str | Path], years: tuple[int, int],
               checksums: dict[str, str] | None = None) -> tuple[xr.DataArray, dict]:
    """Open CMIP6-layout files lazily as one ``tos(time, nlat, nlon)`` in degC for ``years``.

    Only files whose names overlap the years are opened. Returns the array and provenance
    (dataset id, file names, checksums) for the output's attributes. ``checksums`` are the
    published ones, already verified (ESGF); otherwise each file's sha256 is computed.
    """
    spans = sorted(((FileSpan.parse(Path(p).name), Path(p)) for p in paths),
                   key=lambda sp: (sp[0].first, sp[0].last, sp[0].name))
    if not spans:
        raise CmipError("no files given")
    names = [s.name for s, _ in spans]
    if len(set(names)) != len(names):
        raise CmipError(f"the same file name appears twice: {sorted(n for n in names if names.count(n) > 1)}")
    wanted = [(s, p) for s, p in spans if s.overlaps(years)]
    if not wanted:
        cover = f"{month_label(spans[0][0].first)} to {month_label(spans[-1][0].last)}"
        raise CmipError(f"files cover {cover} (by their names); data.years asks for "
                        f"{years[0]:04d}-01 to {years[1]:04d}-12")
    arrays, pieces, grid, attrs = [], [], None, {}
    for span, path in wanted:
        ds = open_tos(path, span.name)
        tos = check(ds, span.name)
        if grid is None:
            grid, attrs = ds[["lat", "lon"]].load(), ds.attrs
        elif grid["lat"].shape != ds["lat"].shape:
            raise CmipError(f"{span.name}: grid {ds['lat'].shape} differs from {wanted[0][0].name}'s "
                            f"{grid['lat'].shape}")
        pieces.append((span.name, months_of(ds)))
        arrays.append(tos.drop_vars(["lat", "lon"], errors="ignore"))
    check_continuous(pieces)
    tos = xr.concat(arrays, dim="time", coords="minimal", compat="override", join="override")
    tos = tos.assign_coords(lat=grid["lat"], lon=grid["lon"])
    months = np.concatenate([m for _, m in pieces])
    tos = select_years(tos, months, years, f"files {wanted[0][0].name} .. {wanted[-1][0].name}")
    provenance = {
        "dataset_id": dataset_id(attrs, wanted[0][1]),
        "files": json.dumps([s.name for s, _ in wanted]),
        "checksums_sha256": json.dumps({s.name: (checksums or {}).get(s.name) or sha256(p)
                                        for s, p in wanted}, sort_keys=True),
    }
    return tos, provenance


def dataset_id(attrs: dict, path: Path | None = None) -> str:
    """CMIP6.<activity>.<institution>.<source>.<experiment>.<member>.<table>.<variable>.<grid>[.vYYYYMMDD]."""
    keys = ("activity_id", "institution_id", "source_id", "experiment_id", "variant_label",
            "table_id", "variable_id", "grid_label")
    parts = ["CMIP6"] + [str(attrs.get(k, "unknown")) for k in keys]
    version = next((p for p in (path.parts if path else ()) if re.fullmatch(r"v\d{8}", p)), None)
    return ".".join(parts + ([version] if version else []))
