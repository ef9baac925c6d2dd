"""The rules that decide the paper's findings, one function per finding (``report`` params).

Each rule reads measures in the schema of ``metrics/aggregate.json`` (per cell
:data:`~climemu.attribution.measures.MAP_MEASURES`) and returns whether the property is present.
The same rule decides for the network's heatmaps and for the exact contributions of the
synthetic source (the ``truth`` entries of the same metrics): a rule that gives the same verdict on
the truth with the property planted and switched off cannot decide anything, and the controls
test (tests/report/test_controls.py) checks that each one can (docs/measures.md).
"""

from __future__ import annotations

import math


def local(cells: dict[str, dict], local_km: float) -> bool:
    """Finding 1: 90% of the |attribution| mass lies within ``local_km`` of every explained cell."""
    return all(c["radius90_km"] <= local_km for c in cells.values())


def reach_grows(shares: dict[int, float], ratio_min: float, share_min: float) -> bool | None:
    """Finding 2 at one cell: the share of months -13 and earlier, ``shares`` {lead: share}, is at the
    longest lead at least ``ratio_min`` times that at the shortest, and at least ``share_min``
    (a ratio of two shares near zero says nothing). None with fewer than two leads."""
    leads = sorted(int(k) for k in shares)
    if len(leads) < 2:
        return None
    first, last = shares[leads[0]], shares[leads[-1]]
    if not (math.isfinite(first) and math.isfinite(last)):
        return None
    return last >= share_min and last >= ratio_min * first


def reach_by_cell(by_lead: dict, ratio_min: float, share_min: float) -> dict[str, bool | None]:
    """:func:`reach_grows` at each cell of an aggregate ``by_lead`` section {lead: {"cells": ...}}."""
    cells = next(iter(by_lead.values()))["cells"]
    return {name: reach_grows({int(lead): v["cells"][name]["share_before_minus12"]
                               for lead, v in by_lead.items()}, ratio_min, share_min)
            for name in cells}


def location_dependent(spread: float, spread_max: float, noise: float = 0.0) -> bool:
    """Finding 3 (negated): the normalised monthly curves differ across cells by more than
    ``spread_max`` beyond what sampling noise alone gives (both in shares of the total)."""
    return math.sqrt(max(spread ** 2 - noise ** 2, 0.0)) > spread_max


def teleconnection(cells: dict[str, dict], linked: list[str], share_min: float) -> bool:
    """Finding 4 (negated): a cell of the planted link's target box puts at least ``share_min`` of
    its |attribution| mass in the source box."""
    return any(cells[name].get("source_box_share", 0.0) >= share_min for name in linked if name in cells)
