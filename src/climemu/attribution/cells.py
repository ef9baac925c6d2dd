"""The output cells a stage explains: given in degrees (``explain.group_cells``), resolved once to
grid indices, and stored with their index in every dataset that holds them (:func:`cell_coords`,
read back by :func:`cell_index`). Light (numpy and xarray), so stages that need the cells but no
attribution method (band, aggregate) do not depend on the methods' code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import xarray as xr

from climemu.attribution.config import CellSpec
from climemu.core.errors import UserError
from climemu.core.grid import nearest_cell


@dataclass(frozen=True)
class Cell:
    name: str
    i: int            # row of the (lat, lon) grid
    j: int            # column
    lat: float        # the grid cell's centre, degrees
    lon: float
    is_land: bool


def resolve_cells(specs: list[CellSpec], lat: np.ndarray, lon: np.ndarray, ocean: np.ndarray) -> list[Cell]:
    """Nearest grid cells to cells given in degrees; a land cell is allowed (paper's case A).

    A cell more than one grid step outside the grid is refused: its nearest cell would be an
    edge cell far from where the params put it.
    """
    step_lat = float(np.abs(np.diff(lat)).max()) if len(lat) > 1 else 1.0
    step_lon = float(np.abs(np.diff(lon)).max()) if len(lon) > 1 else 1.0
    cells = []
    for spec in specs:
        i, j = nearest_cell(lat, lon, spec.lat, spec.lon)
        if abs(lat[i] - spec.lat) > step_lat or abs(lon[j] - spec.lon) > step_lon:
            raise UserError(f"cell {spec.name} ({spec.lat}, {spec.lon}) lies outside the data's grid "
                            f"(lat {lat.min():g}..{lat.max():g}, lon {lon.min():g}..{lon.max():g}): move "
                            "it inside data.box in params.yaml, or fetch a larger box")
        cells.append(Cell(spec.name, i, j, float(lat[i]), float(lon[j]), not bool(ocean[i, j])))
    return cells


def cell_coords(names: Sequence[str], index: Sequence[tuple[int, int]], lat, lon) -> dict:
    """Coordinates along ``cell`` saying where each explained cell is, for ``assign_coords``.

    ``cell`` (the names), ``cell_i``, ``cell_j`` (int: the grid row and column every measure
    centres on) and ``cell_lat``, ``cell_lon`` (degrees, for figures), read off the grid ``lat``,
    ``lon`` at that index so the two never disagree. The index is stored, not looked up again
    from the degrees: a float lookup breaks as soon as a file rounds the grid differently.
    A one-cell dataset (sanity) takes these and then ``.isel(cell=0)``: the same scalar coords
    as a ``.sel(cell=name)`` of a many-cell one, so :func:`cell_index` reads both.
    """
    rows = np.array([int(i) for i, _ in index], dtype=np.int64)             # (cell,)
    cols = np.array([int(j) for _, j in index], dtype=np.int64)             # (cell,)
    if len(rows) != len(names):
        raise ValueError(f"{len(names)} cell names for {len(rows)} grid indices")
    return {"cell": [str(n) for n in names], "cell_i": ("cell", rows), "cell_j": ("cell", cols),
            "cell_lat": ("cell", np.asarray(lat, dtype=float)[rows]),
            "cell_lon": ("cell", np.asarray(lon, dtype=float)[cols])}


def cell_index(cell: xr.Dataset | xr.DataArray) -> tuple[int, int]:
    """The grid index ``(i, j)`` of one explained cell, as :func:`cell_coords` stored it.

    ``cell``: one cell of a dataset (``ds.sel(cell=name)``), or a one-cell dataset.
    """
    if "cell_i" not in cell.coords or "cell_j" not in cell.coords:
        raise ValueError("the dataset holds no cell_i / cell_j coordinates (attribution.cells."
                         "cell_coords): a file written before them; rerun the stage that wrote it")
    return int(cell["cell_i"]), int(cell["cell_j"])
