"""basin: group DeepLift at a stratified sample of ocean cells (or all of them) ->
explain/basin.nc, metrics/basin.json, plots/figures/basin_maps.png. ``basin.nproc > 1`` shards
the cells across processes under torchrun."""

from climemu.core import distributed, paths
from climemu.attribution.basin import explain_basin, stratified_cells, summary
from climemu.training.checkpoint import load_checkpoint
from climemu.config import load_params
from climemu.data.window import WindowedData
from climemu.core.devices import resolve_device
from climemu.report.figures import basin_maps
from climemu.core.io import write_json, write_netcdf
from climemu.core.tracking import log_stage


def main() -> None:
    params = load_params()
    cfg = params.basin
    if distributed.relaunch(cfg.nproc, __file__, "basin.nproc"):
        return
    device = distributed.local_device(resolve_device(cfg.device))
    distributed.setup(device)
    model, _ = load_checkpoint(paths.MODEL)
    data = WindowedData.open(paths.SMOOTHED, paths.WINDOWS)
    cells = stratified_cells(data.ocean, data.lat, cfg.n_cells, cfg.band_degrees, params.seed)
    basin, stats = explain_basin(model, data, cfg, cells, device)
    if distributed.is_main():
        write_netcdf(basin, paths.BASIN)
        metrics = {**summary(basin), **{k: round(v, 4) if isinstance(v, float) else v
                                        for k, v in stats.items()}}
        write_json(metrics, paths.BASIN_METRICS)
        basin_maps(basin, data.lat, data.lon, data.ocean, paths.BASIN_FIGURE)
        print(f"basin: {len(cells)} cells x {basin.attrs['n_samples']} samples in {stats['seconds']:.1f} s "
              f"({stats['seconds_per_cell']:.2f} s per cell, {stats['attributions_per_second']:.1f} "
              f"attributions/s on {stats['processes']} process(es)); curve spread "
              f"{metrics['curve_spread']:.4f}")
        log_stage("basin", {"lead": params.lead, "seed": params.seed, "basin": cfg.model_dump()},
                  metrics, artifacts=[paths.BASIN_METRICS],
                  tags={"lead": params.lead, "arch": params.model.arch})
    distributed.teardown()


if __name__ == "__main__":
    main()
