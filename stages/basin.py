"""basin: group DeepLift at a stratified sample of ocean cells (or all of them) ->
explain/basin.nc, metrics/basin.json, plots/figures/basin_maps.png. ``basin.nproc > 1`` shards
the cells across processes under torchrun."""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)


from climemu.core import distributed, paths
from climemu.attribution.basin import describe, explain_basin, stratified_cells, summary
from climemu.training.checkpoint import load_trained
from climemu.attribution.config import BasinConfig
from climemu.core.params import SEED, load_stage_params
from climemu.core.errors import run_stage
from climemu.report.figures import basin_maps
from climemu.core.io import write_json, write_netcdf
from climemu.core.tracking import log_run
from climemu.truth.loader import load_truth


def main() -> None:
    params = load_stage_params("basin", seed=SEED, basin=BasinConfig)
    device = distributed.start(params.basin.nproc, __file__, "basin.nproc", params.basin.device)
    if device is None:          # the launcher: the torchrun workers did the work
        return
    cfg, (model, data) = params.basin, load_trained()
    cells = stratified_cells(data.ocean, data.lat, cfg.n_cells, cfg.band_degrees, params.seed)
    known = load_truth()                              # synthetic: the exact contributions too
    truth = ((lambda i, j: known.coefficients((i, j), data.lead, data.input_months))
             if known is not None else None)
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
