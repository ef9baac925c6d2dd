"""smooth: trailing ``smooth.months[data.source]`` moving average of data/raw.nc -> data/smoothed.nc."""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)

import time

import xarray as xr

from climemu.core import paths
from climemu.core.params import load_stage_params
from climemu.data.config import DataConfig, SmoothConfig
from climemu.core.errors import run_stage
from climemu.data.smooth import smooth
from climemu.core.io import write_netcdf
from climemu.core.tracking import log_run


def main() -> None:
    params = load_stage_params("smooth", smooth=SmoothConfig, data=DataConfig)
    months = params.smooth.months[params.data.source]
    start = time.perf_counter()
    with xr.open_dataset(paths.RAW) as raw:
        out = smooth(raw.load(), months)
    write_netcdf(out, paths.SMOOTHED)
    seconds = time.perf_counter() - start
    print(f"smooth: {months}-month trailing mean ({params.data.source}), {out.sizes['time']} months "
          f"in {seconds:.1f} s")
    log_run("smooth", params, {"seconds": seconds})


if __name__ == "__main__":
    run_stage(main, "smooth")
