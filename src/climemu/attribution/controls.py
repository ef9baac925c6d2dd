"""The exact contributions measured as if they were one more method: the report's controls.

The synthetic source plants a counterpart of each of the paper's findings (docs/data.md). Run
through the same measures as a method's heatmaps, the exact contributions
``coefficient * input`` (:mod:`climemu.truth.exact`) must give the planted answer; with the
property switched off in the generator, its absence. :func:`truth_measures` gives them in the
schema of ``metrics/aggregate.json``'s ``truth`` section, so the report's rules
(:mod:`climemu.report.rules`) read both alike.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from climemu.attribution.aggregate import truth_by_lead
from climemu.attribution.heatmaps import LAT, LON, MONTH, month_labels
from climemu.attribution.measures import curve_spread, map_measures
from climemu.core.config import Box
from climemu.truth.exact import coefficients
from climemu.truth.synthetic import LinearModel


def truth_measures(model: LinearModel, x: np.ndarray, cells: dict[str, tuple[int, int]],
                   lat: np.ndarray, lon: np.ndarray, lead: int, leads: list[int],
                   source_box: Box | None = None) -> dict:
    """Measures of the mean |exact contribution| at each cell, as aggregate writes them.

    ``x``: inputs (samples, 36, lat, lon) in anomaly units, zero on land; ``cells``: name ->
    (i, j). Returns ``{"cells": {name: map_measures}, "curve_spread", "by_lead"}``.
    """
    months = x.shape[1]
    coords = {MONTH: month_labels(months), LAT: lat, LON: lon}
    per_cell, curves = {}, []
    by_lead = np.zeros((len(leads), len(cells), months))                   # (lead, cell, month)
    for k, (name, cell) in enumerate(cells.items()):
        coef = coefficients(model, cell, lead, months)                      # (36, lat, lon)
        mean_abs = xr.DataArray(np.abs(coef[None] * x).mean(0), dims=(MONTH, LAT, LON), coords=coords)
        per_cell[name] = map_measures(mean_abs, cell, source_box)
        curves.append(mean_abs.sum((LAT, LON)))
        for li, other in enumerate(leads):
            by_lead[li, k] = np.abs(coefficients(model, cell, other, months)[None] * x).sum((2, 3)).mean(0)
    curve = xr.concat(curves, dim="cell").assign_coords(cell=list(cells))
    lead_curves = xr.DataArray(by_lead, dims=("truth_lead", "cell", MONTH),
                               coords={"truth_lead": leads, "cell": list(cells), MONTH: coords[MONTH]})
    return {"cells": per_cell, "curve_spread": float(curve_spread(curve, dim="cell")),
            "by_lead": truth_by_lead(lead_curves)}
