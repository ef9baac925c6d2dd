"""basin: group DeepLift at a stratified sample of ocean cells (or all of them) ->
explain/basin.nc, metrics/basin.json, plots/figures/basin_maps.png. ``basin.nproc > 1`` shards
the cells across processes under torchrun."""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)

import xarray as xr

from climemu.core import distributed, paths
from climemu.attribution.basin import describe, explain_basin, stratified_cells, summary
from climemu.training.checkpoint import load_trained
from climemu.config import load_params
from climemu.core.errors import run_stage
from climemu.report.figures import basin_maps
from climemu.core.io import write_json, write_netcdf
from climemu.core.tracking import log_run
from climemu.truth.exact import coefficients
from climemu.truth.synthetic import LinearModel, generator_config


def main() -> None:
    params = load_params()
    device = distributed.start(params.basin.nproc, __file__, "basin.nproc", params.basin.device)
    if device is None:          # the launcher: the torchrun workers did the work
        return
    cfg, (model, data) = params.basin, load_trained()
    cells = stratified_cells(data.ocean, data.lat, cfg.n_cells, cfg.band_degrees, params.seed)
    with xr.open_dataset(paths.RAW) as raw:           # synthetic: the exact contributions too
        linear = LinearModel.from_dataset(raw) if generator_config(raw) is not None else None
    truth = ((lambda i, j: coefficients(linear, (i, j), data.lead, data.input_months))
             if linear is not None else None)
    basin, stats = explain_basin(model, data, cfg, cells, device, truth)
    if distributed.is_main():
        write_netcdf(basin, paths.BASIN)
        metrics = {**summary(basin), **{k: round(v, 4) if isinstance(v, float) else v
                                        for k, v in stats.items()}}
        write_json(metrics, paths.BASIN_METRICS)
        basin_maps(basin, data.lat, data.lon, data.ocean, paths.BASIN_FIGURE)
        print(f"basin: {describe(metrics)}")
        log_run("basin", params, metrics, [paths.BASIN_METRICS])
    distributed.teardown()


if __name__ == "__main__":
    run_stage(main, "basin")
