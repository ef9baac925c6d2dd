"""The fetch stage's sources, by name: ``data.source`` picks one.

Every source returns the same layout (climemu.core.layout): ``tos(time, lat, lon)`` in degC on
the regular box of ``data.box`` and ``data.resolution``, a noleap monthly ``time`` with
``time_bnds``, NaN over land, and ``ocean(lat, lon)``. The three CMIP6 sources differ only in
how they reach the files; all are checked (climemu.data.cmip) and regridded
(climemu.data.regrid) the same way, and the result is lazy: it is computed chunk by chunk
when written.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Callable

import dask
import xarray as xr

from climemu.data.config import DataConfig
from climemu.data import cmip, esgf, pangeo
from climemu.truth import synthetic
from climemu.core.config import ConfigError
from climemu.core.layout import fetch_dataset
from climemu.data.regrid import regrid
from climemu.core.paths import repository_root


def dask_threads(n: int = 2):
    """Compute lazy sources with ``n`` threads: netCDF reads share one HDF5 lock, so more threads
    only hold more 120-month chunks (59 MB each, about 190 MB while regridded) in memory."""
    return dask.config.set(scheduler="threads", num_workers=n)


def resolve(path: str) -> Path:
    """A relative path from the main repository's root (also inside a queued experiment's copy)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else repository_root() / p


def to_box(tos: xr.DataArray, cfg: DataConfig, provenance: dict) -> xr.Dataset:
    """Checked CMIP6 ``tos(time, nlat, nlon)`` -> the fetch layout on the box (lazy)."""
    out, ocean = regrid(tos, cfg.box, cfg.resolution)
    if not ocean.values.any():
        raise cmip.CmipError(f"data.box {cfg.box.model_dump()} holds no ocean cell of the data")
    attrs = {
        "title": "CESM2 piControl sea surface temperature, regridded to the box",
        "source": f"CMIP6 {provenance['dataset_id']} via data.source={cfg.source}",
        "source_id": cmip.FACETS["source_id"],
        "fetch_source": cfg.source,
        **provenance,
        "years": json.dumps(cfg.years),
        "regridding": "barycentric (linear) weights on a Delaunay triangulation of the source "
                      "cell centres; a target cell whose triangle touches land is land",
        "box": json.dumps(cfg.box.model_dump(), sort_keys=True),
        "resolution_deg": cfg.resolution,
    }
    return fetch_dataset(out.data, out["lat"].values, out["lon"].values, ocean.values,
                         cfg.years[0], attrs, ocean_note="source land rule (see regridding)")


def local(cfg: DataConfig) -> xr.Dataset:
    pattern = str(resolve(cfg.paths))
    paths = sorted(glob.glob(pattern))
    if not paths:
        raise cmip.CmipError(f"data.paths: no file matches {pattern!r}; expected CMIP6 netCDF files "
                             "such as tos_Omon_CESM2_piControl_r1i1p1f1_gn_040001-049912.nc")
    tos, provenance = cmip.open_files(paths, tuple(cfg.years))
    return to_box(tos, cfg, provenance)


def esgf_source(cfg: DataConfig) -> xr.Dataset:
    e = cfg.esgf
    paths, files = esgf.fetch(e.index_nodes, resolve(e.download_dir), tuple(cfg.years),
                              e.timeout_s, e.retries)
    tos, provenance = cmip.open_files(paths, tuple(cfg.years), {f.name: f.checksum for f in files})
    provenance["dataset_id"] = f"{files[0].dataset_id}.{files[0].version}"
    return to_box(tos, cfg, provenance)


def pangeo_source(cfg: DataConfig) -> xr.Dataset:
    tos, provenance = pangeo.open_store(cfg.pangeo.catalog, tuple(cfg.years))
    return to_box(tos, cfg, provenance)


SOURCES: dict[str, Callable[[DataConfig], xr.Dataset]] = {
    "synthetic": lambda cfg: synthetic.generate(cfg.synthetic, cfg.box, cfg.resolution, cfg.years),
    "local": local,
    "esgf": esgf_source,
    "pangeo": pangeo_source,
}


def fetch(cfg: DataConfig) -> xr.Dataset:
    try:
        source = SOURCES[cfg.source]
    except KeyError:
        raise ConfigError(f"data.source: unknown source {cfg.source!r}; "
                         f"allowed: {', '.join(sorted(SOURCES))}") from None
    return source(cfg)
