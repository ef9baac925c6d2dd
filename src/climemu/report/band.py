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
    """``{(cell, variant, measure): (value, band, outside)}`` for ``key`` ``attribution`` or ``truth``.

    The truth's measures come from band.json where the band stage measured them (on its own
    samples, at any lead, no network needed), else from aggregate.json."""
    out = {}
    for name, b in band["cells"].items():
        from_band = key == "truth" and "truth" in b
        cell = b["truth"] if from_band else aggregate.get(key, {}).get("cells", {}).get(name)
        if cell is None:
            continue
        for variant in VARIANTS:
            for measure in MEASURES:
                value = (cell.get(variant, {}) if from_band else _measures(cell, variant)).get(measure)
                limits = b["band"].get(variant, {}).get(measure)
                if value is not None and limits is not None:
                    out[(name, variant, measure)] = (float(value), limits,
                                                      outside(float(value), limits, slack_of(measure, cfg)))
    return out


def coverage(truth: dict) -> dict[str, tuple[int, int]]:
    """Per cell, (measures whose truth lies inside the band, measures decided): the band's
    coverage of the truth (docs/measures.md, "Equivalence band")."""
    out: dict[str, list[int]] = {}
    for (name, _, _), (_, _, out_) in truth.items():
        if out_ is not None:
            k = out.setdefault(name, [0, 0])
            k[0] += not out_
            k[1] += 1
    return {name: (k[0], k[1]) for name, k in out.items()}


def band_table(aggregate: dict, band: dict, cfg) -> str:
    """Markdown: per measure and variant, per cell, the band, the group method's value and verdict.

    ``cfg``: the ``report`` section (the slack of each measure)."""
    method = verdicts(aggregate, band, cfg)
    truth = verdicts(aggregate, band, cfg, "truth")
    cells = list(band["cells"])
    covered = coverage(truth)
    # A cell's band judges only where it holds the truth often enough (report.band_coverage_min):
    # a band that rejects the right answer cannot call a method's value its own.
    judges = {name: (name not in covered or covered[name][1] == 0
                     or covered[name][0] / covered[name][1] >= cfg.band_coverage_min) if truth else True
              for name in cells}
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
                mark = ({True: "**outside**", False: "inside", None: "undecided"} if judges[name]
                        else {True: "beyond", False: "within", None: "undecided"})[out]
                t = truth.get((name, variant, measure))
                tail = f"; truth {_fmt(t[0])}" + (" (outside)" if t[2] else "") if t else ""
                entries.append(f"{_fmt(value)} {mark} [{_fmt(limits['low'])}, {_fmt(limits['high'])}]{tail}")
            if any(entries):
                rows.append(f"| `{measure}` | {variant} | " + " | ".join(entries) + " |")
    decided = [v for k, v in method.items() if v[2] is not None and judges[k[0]]]
    n_out = sum(v[2] for v in decided)
    lines = [f"Near-optimal: linear predictors within {band['tolerance']:.0%} of the best validation MSE "
             f"(ridge paths, docs/measures.md). Each entry: the group method's value, its verdict, "
             f"[the band]" + ("; the truth's value" if truth else "") + ". Values within "
             f"{cfg.band_slack_km:g} km, {cfg.band_slack_months:g} months or {cfg.band_slack_share:g} of a "
             "band's edge (the tolerance across machines, docs/reliability.md) count as inside.", ""]
    if truth:
        held = "; ".join(f"{name} {k} of {n}" for name, (k, n) in covered.items())
        lines.append(f"**Coverage**: the band holds the truth's measures at {held}. It judges only at the "
                     f"cells where it holds at least {cfg.band_coverage_min:.0%} of them: a band that "
                     "rejects the right answer cannot call a method's value its own.")
        weak = [name for name in cells if not judges[name]]
        if weak:
            lines.append(f"At {', '.join(weak)} it holds less, so there it is no judge: the entries say only "
                         "whether the group method lies within or beyond the near-optimal predictors' range.")
    if any(judges.values()):
        lines += ["", f"**{n_out} of {len(decided)}** of the group method's measures at the judging cells lie "
                  "outside what any near-optimal predictor shows; only those are judged as the method's own."]
    else:
        lines += ["", "**The band judges no cell here**: no measure is called the method's own by it."]
    fit = ", ".join(f"{name} {b['n_near_optimal']} of {b['n_predictors']} (best val MSE "
                    f"{b['best_val_mse']:.4f}" + (f", truth {b['truth_val_mse']:.4f}" if "truth_val_mse" in b else "")
                    + ")" for name, b in band["cells"].items())
    lines += ["", f"Near-optimal predictors per cell: {fit}.", "", *head, *rows]
    return "\n".join(lines)
