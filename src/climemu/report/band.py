"""The report's "Equivalence band" section: each measure of the group method (and of the truth)
against the range over near-optimal linear predictors (docs/measures.md, "Equivalence band")."""

from __future__ import annotations

import math

# The measures of the paper (docs/measures.md), in the order a reader meets them.
MEASURES = ("radius50_km", "radius90_km", "efolding_month", "share_month_minus1", "share_before_minus12",
            "source_box_share")
VARIANTS = ("abs", "signed", "block")


def outside(value: float, band: dict, slack: float = 0.0) -> bool | None:
    """Whether ``value`` lies outside ``[low - slack, high + slack]``; None when any is not a number."""
    if not all(math.isfinite(v) for v in (value, band["low"], band["high"])):
        return None
    return value < band["low"] - slack or value > band["high"] + slack


def slack_of(measure: str, cfg) -> float:
    """The slack of a measure (``report.band_slack_*``): km for radii, months, else a share."""
    if measure.endswith("_km"):
        return cfg.band_slack_km
    if measure == "efolding_month":
        return cfg.band_slack_months
    return cfg.band_slack_share


def _measures(cell: dict, variant: str) -> dict:
    return cell if variant == "abs" else cell.get("variants", {}).get(variant, {})


def _fmt(v: float) -> str:
    return "n/a" if not math.isfinite(v) else (f"{v:.0f}" if abs(v) >= 10 else f"{v:.2f}")


def verdicts(aggregate: dict, band: dict, cfg, key: str = "attribution") -> dict:
    """``{(cell, variant, measure): (value, band, outside)}`` for ``key`` ``attribution`` or ``truth``."""
    out = {}
    for name, b in band["cells"].items():
        cell = aggregate.get(key, {}).get("cells", {}).get(name)
        if cell is None:
            continue
        for variant in VARIANTS:
            for measure in MEASURES:
                value = _measures(cell, variant).get(measure)
                limits = b["band"].get(variant, {}).get(measure)
                if value is not None and limits is not None:
                    out[(name, variant, measure)] = (float(value), limits,
                                                      outside(float(value), limits, slack_of(measure, cfg)))
    return out


def band_table(aggregate: dict, band: dict, cfg) -> str:
    """Markdown: per measure and variant, per cell, the band, the group method's value and verdict.

    ``cfg``: the ``report`` section (the slack of each measure)."""
    method = verdicts(aggregate, band, cfg)
    truth = verdicts(aggregate, band, cfg, "truth")
    cells = list(band["cells"])
    head = ["| measure | variant | " + " | ".join(cells) + " |", "|---|---|" + "---|" * len(cells)]
    rows = []
    for measure in MEASURES:
        for variant in VARIANTS:
            entries = []
            for name in cells:
                v = method.get((name, variant, measure))
                if v is None:
                    entries.append("")
                    continue
                value, limits, out = v
                mark = {True: "**outside**", False: "inside", None: "undecided"}[out]
                t = truth.get((name, variant, measure))
                tail = f"; truth {_fmt(t[0])}" + (" (outside)" if t[2] else "") if t else ""
                entries.append(f"{_fmt(value)} {mark} [{_fmt(limits['low'])}, {_fmt(limits['high'])}]{tail}")
            if any(entries):
                rows.append(f"| `{measure}` | {variant} | " + " | ".join(entries) + " |")
    decided = [v for v in method.values() if v[2] is not None]
    n_out = sum(v[2] for v in decided)
    lines = [f"Near-optimal: linear predictors within {band['tolerance']:.0%} of the best validation MSE "
             f"(ridge paths, docs/measures.md). Each entry: the group method's value, its verdict, "
             f"[the band]" + ("; the truth's value" if truth else "") + ". Values within "
             f"{cfg.band_slack_km:g} km, {cfg.band_slack_months:g} months or {cfg.band_slack_share:g} of a "
             "band's edge (the tolerance across machines, docs/reliability.md) count as inside.", "",
             f"**{n_out} of {len(decided)}** of the group method's measures lie outside what any "
             "near-optimal predictor shows; only those are judged as the method's own."]
    if truth:
        t_decided = [v for v in truth.values() if v[2] is not None]
        lines.append(f"The truth's measures outside the band: {sum(v[2] for v in t_decided)} of "
                     f"{len(t_decided)} (a truth outside means the family or the samples cannot reach it).")
    fit = ", ".join(f"{name} {b['n_near_optimal']} of {b['n_predictors']} (best val MSE "
                    f"{b['best_val_mse']:.4f}" + (f", truth {b['truth_val_mse']:.4f}" if "truth_val_mse" in b else "")
                    + ")" for name, b in band["cells"].items())
    lines += ["", f"Near-optimal predictors per cell: {fit}.", "", *head, *rows]
    return "\n".join(lines)
