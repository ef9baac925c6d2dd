"""How long does fetch take per year of CMIP6 data, and how much memory? (data.source=local)

Writes ``--years`` years of full-size files in the CESM2 layout (384 x 320 curvilinear grid,
0-360 longitude, 1e20 fill over land, 365_day calendar, deflate level 1 like CMOR,
``--per-file`` years per file) into a
temporary folder, then runs the fetch of ``data.source=local`` (open, check, sha256 of each file,
regrid to the default 70 x 125 box, write netCDF) in a child process, and prints seconds per
year and that process's peak resident memory:

    python benchmarks/regrid.py [--years 20] [--per-file 10]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def pop_like_grid() -> tuple[np.ndarray, np.ndarray]:
    """(384, 320) lat/lon like POP's gx1v7: rows from 79 S to 89 N, bent grid lines, lon 0-360."""
    i, j = np.meshgrid(np.arange(384), np.arange(320), indexing="ij")
    lat = -79.2 + 168.5 * i / 383 + 0.4 * np.sin(2 * np.pi * j / 320) * (i / 383) ** 2
    lon = (320.56 + 360.0 * j / 320 + 0.3 * np.cos(np.pi * i / 383)) % 360
    return lat, lon


def write_files(folder: Path, years: int, per_file: int) -> list[Path]:
    import cftime
    import xarray as xr

    from climemu.core.calendar import UNITS, monthly_time
    from roaring_landmask import RoaringLandmask

    from climemu.core.grid import wrap_lon

    lat, lon = pop_like_grid()
    land = np.asarray(RoaringLandmask.new().contains_many(wrap_lon(lon).ravel(), lat.ravel()),
                      bool).reshape(lat.shape)                       # the real coastline
    paths = []
    for first in range(401, 401 + years, per_file):
        n = 12 * per_file
        dates, bnds = monthly_time(first, n)
        days = lambda d: cftime.date2num(d, UNITS, calendar="noleap")  # noqa: E731
        rng = np.random.default_rng(first)
        values = (28 - 0.3 * np.abs(lat))[None] + rng.standard_normal((n,) + lat.shape)
        values = values.astype(np.float32)
        values[:, land] = np.nan
        ds = xr.Dataset(
            {"tos": (("time", "nlat", "nlon"), values, {"units": "degC"}),
             "time_bnds": (("time", "d2"), days(bnds))},
            coords={"time": ("time", days(dates), {"units": UNITS, "calendar": "365_day",
                                                    "bounds": "time_bnds"}),
                    "lat": (("nlat", "nlon"), lat), "lon": (("nlat", "nlon"), lon)},
            attrs={"source_id": "CESM2", "experiment_id": "piControl", "variable_id": "tos"})
        last = first + per_file - 1
        path = folder / f"tos_Omon_CESM2_piControl_r1i1p1f1_gn_{first:04d}01-{last:04d}12.nc"
        ds.to_netcdf(path, unlimited_dims=["time"],
                     encoding={"tos": {"_FillValue": np.float32(1e20), "zlib": True, "complevel": 1,
                                       "shuffle": True},   # deflate level 1, as CMOR writes CMIP6
                               "time": {"_FillValue": None}})
        paths.append(path)
    return paths


def peak_rss_mib() -> float:
    """This process's peak resident memory since it started its program (Linux VmHWM).

    Not getrusage's ru_maxrss: across fork + exec that keeps the parent's size.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**10
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 2**10


def measure(folder: str, years: int) -> None:
    """In the child: the fetch stage's work for data.source=local."""
    from climemu.config import DataConfig, load_params
    from climemu.data.sources import fetch
    from climemu.core.io import write_netcdf
    from climemu.core.progress import dask_progress
    from climemu.data.sources import dask_threads

    start = time.perf_counter()
    # params.yaml's data section (the default box), on the files written above
    committed = load_params(Path(__file__).resolve().parents[1] / "params.yaml").data.model_dump()
    cfg = DataConfig.model_validate({**committed, "source": "local", "paths": f"{folder}/tos_*.nc",
                                     "years": [401, 400 + years]})
    ds = fetch(cfg)
    with dask_threads(), dask_progress("fetch"):
        write_netcdf(ds, Path(folder) / "raw.nc")
    seconds = time.perf_counter() - start
    peak = peak_rss_mib()
    print(f"fetch: {years} years ({ds.sizes['time']} months of 384 x 320 -> "
          f"{ds.sizes['lat']} x {ds.sizes['lon']}) in {seconds:.1f} s: {seconds / years:.2f} s per year; "
          f"peak RSS {peak:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--years", type=int, default=20)
    parser.add_argument("--per-file", type=int, default=10)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        return measure(args.measure, args.years)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        paths = write_files(Path(tmp), args.years, args.per_file)
        size = sum(p.stat().st_size for p in paths) / 2**20
        print(f"wrote {len(paths)} files, {size:.0f} MiB, in {time.perf_counter() - start:.1f} s")
        # A fresh process, so that its peak memory is the fetch's alone.
        subprocess.run([sys.executable, __file__, "--measure", tmp, "--years", str(args.years)], check=True)


if __name__ == "__main__":
    main()
