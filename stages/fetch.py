"""fetch: SST from ``data.source`` on the box of ``data.box`` -> data/raw.nc."""

import time

from climemu.core import paths
from climemu.config import load_params
from climemu.data.sources import dask_threads, fetch
from climemu.core.io import write_netcdf
from climemu.core.progress import dask_progress
from climemu.core.tracking import log_run


def main() -> None:
    params = load_params()
    start = time.perf_counter()
    ds = fetch(params.data)
    with dask_threads(), dask_progress("fetch"):   # CMIP6 sources are lazy: read and regridded here
        write_netcdf(ds, paths.RAW)
    seconds = time.perf_counter() - start
    years = ds.sizes["time"] / 12
    print(f"fetch: {ds.sizes['time']} months x {ds.sizes['lat']} x {ds.sizes['lon']} "
          f"from {params.data.source} in {seconds:.1f} s ({seconds / years:.2f} s per year)")
    log_run("fetch", params, {"months": ds.sizes["time"], "ocean_cells": int(ds["ocean"].sum()),
                              "seconds": seconds, "seconds_per_year": seconds / years})


if __name__ == "__main__":
    main()
