"""window: chronological splits and training-period normalisation -> data/windows.nc."""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)

import time

import xarray as xr

from climemu.core import paths
from climemu.core.params import LEAD, load_stage_params
from climemu.data.config import WindowConfig
from climemu.core.errors import run_stage
from climemu.data.window import build_windows
from climemu.core.io import write_netcdf
from climemu.core.tracking import log_run


def main() -> None:
    params = load_stage_params("window", lead=LEAD, window=WindowConfig)
    start = time.perf_counter()
    with xr.open_dataset(paths.SMOOTHED) as smoothed:
        windows = build_windows(smoothed, params.window, params.lead)
    write_netcdf(windows, paths.WINDOWS)
    seconds = time.perf_counter() - start
    counts = {f"n_{s}": windows.sizes[f"sample_{s}"] for s in ("train", "val", "test")}
    print(f"window: lead {params.lead}, {counts}, gap {windows.attrs['gap_months']} months, "
          f"scale {float(windows['scale']):.3f} degC, {seconds:.1f} s")
    log_run("window", params, {**counts, "scale_degC": float(windows["scale"]), "seconds": seconds})


if __name__ == "__main__":
    run_stage(main, "window")
