"""explain: instance and group heatmaps of the trained emulator -> explain/*.nc,
metrics/explain.json (paper Sec. 4.1-4.2). ``explain.nproc > 1`` shards the group samples
across processes under torchrun."""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)

import time

import torch

from climemu.core import distributed, paths
from climemu.attribution.cells import resolve_cells
from climemu.attribution.explain import explain_group, explain_instance
from climemu.training.checkpoint import load_trained
from climemu.attribution.config import ExplainConfig
from climemu.core.params import LEAD, SEED, load_stage_params
from climemu.core.errors import run_stage
from climemu.truth.loader import load_truth
from climemu.core.io import write_json, write_netcdf
from climemu.core.tracking import log_run


def main() -> None:
    params = load_stage_params("explain", lead=LEAD, seed=SEED, explain=ExplainConfig)
    cfg = params.explain
    device = distributed.start(cfg.nproc, __file__, "explain.nproc", cfg.device)
    if device is None:          # the launcher: the torchrun workers did the work
        return
    model, data = load_trained()
    instance_cells = resolve_cells(cfg.instance_cells, data.lat, data.lon, data.ocean)
    group_cells = resolve_cells(cfg.group_cells, data.lat, data.lon, data.ocean)
    known = load_truth()
    synthetic = known is not None
    truth = ((lambda c, lead=data.lead: known.coefficients((c.i, c.j), lead, data.input_months))
             if synthetic else None)

    group, stats = explain_group(model, data, cfg, group_cells, truth, device,
                                 source_box=known.source_box if synthetic else None)
    # The cells at which the planted link shows, resolved here once on the grid; aggregate
    # writes them into its metrics and the report reads them from there.
    linked = known.linked(group_cells) if synthetic else []
    group = group.assign_coords(cell_linked=("cell", [str(n) in linked for n in group["cell"].values]))
    if distributed.is_main():
        start = time.perf_counter()
        instance, deltas = explain_instance(model.cpu().to(memory_format=torch.contiguous_format), data, cfg, instance_cells, params.seed, truth)
        instance_seconds = time.perf_counter() - start
        write_netcdf(instance, paths.INSTANCE)
        write_netcdf(group, paths.GROUP)
        metrics = {"relative_delta_instance": deltas, "group": stats,
                   "instance_seconds": round(instance_seconds, 2), "synthetic_truth": synthetic}
        write_json(metrics, paths.EXPLAIN_METRICS)
        print(f"explain: {stats['group_attributions']} group attributions ({cfg.group_method}) at "
              f"{stats['attributions_per_second']:.2f}/s on {stats['processes']} process(es); instance "
              f"{len(cfg.methods)} methods x {len(instance_cells)} cells in {instance_seconds:.1f} s")
        log_run("explain", params, metrics, [paths.EXPLAIN_METRICS])
    distributed.teardown()


if __name__ == "__main__":
    run_stage(main, "explain")
