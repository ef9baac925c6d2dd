"""fetch: SST from ``data.source`` on the box of ``data.box`` -> data/raw.nc."""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)

import time

from climemu.core import paths
from climemu.core.params import load_stage_params
from climemu.data.config import DataConfig
from climemu.data.gaps import check_fetched
from climemu.data.sources import dask_threads, fetch
from climemu.core.errors import run_stage
from climemu.core.io import write_netcdf
from climemu.core.progress import dask_progress
from climemu.core.tracking import log_run


def main() -> None:
    params = load_stage_params("fetch", data=DataConfig)
    start = time.perf_counter()
    ds = fetch(params.data)
    # CMIP6 sources are lazy: read and regridded here. Every source's result is checked for
    # missing ocean values on the written file, before it replaces data/raw.nc.
    with dask_threads(), dask_progress("fetch"):
        write_netcdf(ds, paths.RAW, verify=check_fetched)
    seconds = time.perf_counter() - start
    years = ds.sizes["time"] / 12
    print(f"fetch: {ds.sizes['time']} months x {ds.sizes['lat']} x {ds.sizes['lon']} "
          f"from {params.data.source} in {seconds:.1f} s ({seconds / years:.2f} s per year)")
    log_run("fetch", params, {"months": ds.sizes["time"], "ocean_cells": int(ds["ocean"].sum()),
                              "seconds": seconds, "seconds_per_year": seconds / years})


if __name__ == "__main__":
    run_stage(main, "fetch")
