"""The fetch stage's sources, by name: ``data.source`` picks one.

Every source returns the same layout: ``tos(time, lat, lon)`` in degC on the regular box of
``data.box`` and ``data.resolution``, a noleap monthly ``time`` with ``time_bnds``, NaN over
land, and ``ocean(lat, lon)``. A new source (the real CMIP6 files) is one function and one entry.
"""

from __future__ import annotations

from typing import Callable

import xarray as xr

from climemu.config import DataConfig
from climemu.data import synthetic

SOURCES: dict[str, Callable[[DataConfig], xr.Dataset]] = {
    "synthetic": synthetic.generate,
}


def fetch(cfg: DataConfig) -> xr.Dataset:
    try:
        source = SOURCES[cfg.source]
    except KeyError:
        raise ValueError(f"data.source: unknown source {cfg.source!r}; "
                         f"allowed: {', '.join(sorted(SOURCES))}") from None
    return source(cfg)
