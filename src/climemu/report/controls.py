"""The end-to-end controls' power table: does the chain network + method + rule find each finding
where the generator plants it, and stay silent where it does not? (docs/controls.md)

    python -m climemu.report.controls           # reports/controls.md and reports/controls/power.json

Reads the folders ``tools/controls.py`` keeps (``reports/controls/SETTING/lead-L/rep-R/``: the
pipeline's own metrics of each run) and applies the report's rules (:mod:`.rules`) to the maps of
each source: the exact contributions (``truth``, the setting's own answer: it must say yes where the
property is planted and no where it is not, or the pair tests nothing), the group method's maps
(aggregate.json, the paper's chain) and each method of ``controls.methods`` on the score samples
(score.json). A replicate whose network fails the skill gate is "not judged": the chain stays
silent there, so it counts as not detected.

Per finding and source: detected when present (k of n replicates) and when absent (false alarms),
each with a Clopper-Pearson interval (``controls.interval``; 3 of 3 is [0.37, 1] at 90%, not
certainty), and the measure the rule reads, mean over replicates with its t interval.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from scipy import stats

from climemu.core.io import write_json, write_text
from climemu.core.params import read_params_file
from climemu.report import rules
from climemu.report.config import FINDINGS, ControlsConfig, ReportConfig
from climemu.report.findings import captured_share
from climemu.report.study import TOOLS, cost_section, interval

CONTROLS, PAGE, POWER = (TOOLS[k] for k in ("controls", "controls_page", "controls_power"))
GROUP = "group"                       # the group method's maps (aggregate.json); its name is in them
LABELS = {"local": "1: local", "reach": "2: reach grows with lead", "location": "3: depends on location",
          "teleconnection": "4: teleconnection"}


def load(root: Path) -> dict[tuple[str, int, int], dict]:
    """``{(setting, lead, replicate): {metrics file stem: its dict}}`` of the kept folders."""
    out = {}
    for folder in sorted((root / CONTROLS).glob("*/lead-*/rep-*")):
        if (folder / "commit.txt").exists():
            key = (folder.parent.parent.name, int(folder.parent.name.split("-")[1]), int(folder.name.split("-")[1]))
            out[key] = {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json") if p.stem != "set"}
    return out


def maps_of(run: dict, source: str) -> dict:
    """``{"cells": {cell: measures}, "curve_spread": float}`` of one source's maps in one run."""
    agg = run["aggregate"]
    if source in ("truth", GROUP):
        part = agg["truth" if source == "truth" else "attribution"]
        return {"cells": part["cells"], "curve_spread": part["curve_spread"]}
    m = run["score"][source]
    return {"cells": {c: v for c, v in m.items() if c != "all"}, "curve_spread": m["all"]["curve_spread"]}


def skilful(run: dict, cfg: ReportConfig, shortest: bool) -> bool:
    """The report's skill gate on one run: beat damped persistence and the LIM (test MSE) and, at
    the shortest lead, capture ``captured_min`` of the predictable MSE."""
    mse = {k: v["rmse_degC"] ** 2 for k, v in run["skill"]["test"].items()}
    ok = mse["model"] < mse["damped_persistence"] and mse["model"] < mse["lim"]
    return ok and (not shortest or captured_share(mse) >= cfg.captured_min)


def verdict(finding: str, runs: dict[int, dict], source: str, cfg: ReportConfig) -> tuple[bool, float]:
    """The report's rule for ``finding`` on one replicate's maps (``runs``: {lead: run}), and the
    value it reads: largest r90 (km), largest ratio of the share of months -13 and earlier between
    the longest and shortest lead, curve spread, largest source-box share at a linked cell."""
    first = runs[min(runs)]
    m = maps_of(first, source)
    if finding == "local":
        return rules.local(m["cells"], cfg.local_km), max(c["radius90_km"] for c in m["cells"].values())
    if finding == "location":
        return rules.location_dependent(m["curve_spread"], cfg.spread_max), float(m["curve_spread"])
    if finding == "teleconnection":
        linked = [c for c in first["aggregate"].get("linked_cells", []) if c in m["cells"]]
        share = max((m["cells"][c].get("source_box_share", 0.0) for c in linked), default=float("nan"))
        return rules.teleconnection(m["cells"], linked, cfg.tele_share_min), float(share)
    # reach: finding 2 at any cell, from the shortest and the longest lead
    # (the value: the largest ratio among the cells whose share at the longest lead reaches the
    # rule's minimum; a cell with ~0 at both leads has an undefined ratio and could not pass)
    lo, hi = m, maps_of(runs[max(runs)], source)
    grows, ratios = [], []
    for cell in lo["cells"]:
        shares = {min(runs): lo["cells"][cell]["share_before_minus12"], max(runs): hi["cells"][cell]["share_before_minus12"]}
        grows.append(bool(rules.reach_grows(shares, cfg.reach_ratio_min, cfg.reach_share_min)))
        first_share = shares[min(runs)]
        if shares[max(runs)] >= cfg.reach_share_min:
            ratios.append(shares[max(runs)] / first_share if first_share > 0 else float("inf"))
    return any(grows), float(max(ratios, default=float("nan")))


def rate(k: int, n: int, level: float) -> dict:
    """k of n with its Clopper-Pearson interval at ``level``."""
    if n == 0:
        return {"k": 0, "n": 0, "low": float("nan"), "high": float("nan")}
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return {"k": k, "n": n, "low": float(ci.low), "high": float(ci.high)}


def _t(values: list[float], level: float) -> dict:
    """:func:`.study.interval` of the finite values (the reach ratio is infinite where a share at
    the shortest lead is zero); ``n`` 0 when none is."""
    v = [x for x in values if math.isfinite(x)]
    if not v:
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    return interval(v, level)


def power(runs: dict[tuple[str, int, int], dict], controls: ControlsConfig, cfg: ReportConfig) -> dict:
    """``{finding: {"present": setting, "absent": setting, "sources": {source: {state: {...}}}}}``:
    per state the detections (k of n with interval), the gate's passes and the values read."""
    level = controls.interval
    out = {}
    for finding in FINDINGS:
        pair = controls.pairs.get(finding)
        if pair is None:
            continue
        leads = sorted(set(pair.leads))
        sources = ["truth", GROUP, *controls.methods]
        entry = {"present": pair.present, "absent": pair.absent, "leads": leads, "sources": {}}
        for source in sources:
            by_state = {}
            for state, setting in (("present", pair.present), ("absent", pair.absent)):
                reps = sorted({r for (s, lead, r) in runs if s == setting and lead == leads[0]})
                detected, values, judged, rule = 0, [], 0, 0
                for r in reps:
                    if not all((setting, lead, r) in runs for lead in leads):
                        continue                                   # a replicate missing a lead
                    rep_runs = {lead: runs[setting, lead, r] for lead in leads}
                    if source == "truth":
                        ok = True
                    else:
                        ok = all(skilful(run, cfg, lead == leads[0]) for lead, run in rep_runs.items())
                    found, value = verdict(finding, rep_runs, source, cfg)
                    values.append(value)
                    judged += ok
                    detected += bool(found and ok)
                    rule += bool(found)                            # the rule alone, gate or not
                n = len(values)
                by_state[state] = {**rate(detected, n, level), "judged": judged, "rule": rate(rule, n, level),
                                   "value": _t(values, level)}
            entry["sources"][source] = by_state
        if finding == "teleconnection":
            entry["link"] = link_recovery(runs, pair.present, leads[0], controls.link_error_max)
        out[finding] = entry
    return out


def link_recovery(runs: dict, setting: str, lead: int, error_max: float) -> dict:
    """How often least squares on the record recovers the planted link's gain (identify.json)."""
    links = [run["identify"]["link"] for (s, le, _), run in sorted(runs.items())
             if s == setting and le == lead and "link" in run.get("identify", {})]
    ok = [lk["relative_error"] <= error_max for lk in links]
    return {"planted": links[0]["planted"] if links else float("nan"),
            "estimates": [lk["estimate"] for lk in links], "recovered": int(sum(ok)), "n": len(links),
            "error_max": error_max}


def _rate(r: dict) -> str:
    if r["n"] == 0:
        return "-"
    return f"{r['k']}/{r['n']} [{r['low']:.2f}, {r['high']:.2f}]"


def _value(v: dict, digits: int) -> str:
    if v["n"] == 0:
        return "-"
    f = f"{{:.{digits}f}}"
    tail = f" [{f.format(v['low'])}, {f.format(v['high'])}]" if math.isfinite(v["low"]) else ""
    return f.format(v["mean"]) + tail


DIGITS = {"local": 0, "reach": 2, "location": 3, "teleconnection": 4}
VALUE = {"local": "largest r90 (km)",
         "reach": "largest share ratio, longest / shortest lead, over the cells whose share at the longest lead "
                  "reaches the rule's minimum",
         "location": "curve spread", "teleconnection": "source-box share at the linked cell"}


def reading(s: dict) -> str:
    """One source's answer for a pair in words, from its counts (``power``'s ``sources[source]``):
    can the chain tell the property's presence from its absence at these replicates?"""
    p, a = s["present"], s["absent"]
    if not p["n"] or not a["n"]:
        return "not measured"
    rule_p, rule_a = p.get("rule", p)["k"], a.get("rule", a)["k"]
    if p["k"] == 0:
        return "misses it where planted" + (" (and finds it where absent)" if a["k"] else "")
    if rule_a and not a["k"]:
        return (f"finds it where planted, but its maps pass the rule where absent too ({rule_a}/{a['n']}): "
                "only the skill gate keeps those silent")
    if a["k"]:
        return "finds it where planted and where absent (false alarms)"
    return "tells presence from absence" + ("" if p["k"] == p["n"] else " (not in every planted replicate)")


def tables(table: dict, level: float, group_method: str | None = None) -> str:
    """The power table (markdown) from :func:`power`'s result."""
    if not table:
        return "No controls experiment kept yet: run `make controls`.\n"
    lines = [f"Each finding's pair of generator settings, identical but for the property; per source the "
             f"replicates where the report's rule finds the property, with its {level:.0%} Clopper-Pearson "
             "interval, and the value the rule reads (mean over replicates with its t interval). A network "
             "that fails the skill gate counts as not detecting. `truth`: the exact contributions, the "
             "settings' own answer. `rule alone`: the replicates where the rule finds the property on the "
             "maps whether or not the network passes the gate (a false alarm the gate hides shows there).", "",
             "| finding | source | detected when present | false alarms when absent | value present | value absent "
             "| gate passed (present, absent) | rule alone (present, absent) |", "|---|---|---|---|---|---|---|---|"]
    for finding, entry in table.items():
        for source, s in entry["sources"].items():
            name = f"{group_method} (group)" if source == GROUP and group_method else source
            gate = "-" if source == "truth" else f"{s['present']['judged']}/{s['present']['n']}, " \
                                                 f"{s['absent']['judged']}/{s['absent']['n']}"
            alone = "-" if source == "truth" else f"{s['present']['rule']['k']}/{s['present']['rule']['n']}, " \
                                                  f"{s['absent']['rule']['k']}/{s['absent']['rule']['n']}"
            lines.append(f"| {LABELS[finding]} ({entry['present']} / {entry['absent']}) | {name} "
                         f"| {_rate(s['present'])} | {_rate(s['absent'])} "
                         f"| {_value(s['present']['value'], DIGITS[finding])} "
                         f"| {_value(s['absent']['value'], DIGITS[finding])} | {gate} | {alone} |")
    lines += ["", "Values: " + "; ".join(f"{LABELS[f]}: {VALUE[f]}" for f in table) + "."]
    lines += ["", f"In words, per finding (the {group_method or 'group'} chain; in brackets the other methods):", ""]
    for finding, entry in table.items():
        srcs = entry["sources"]
        others = "; ".join(f"{m}: {reading(srcs[m])}" for m in srcs if m not in ("truth", GROUP))
        lines.append(f"- {LABELS[finding]}: {reading(srcs[GROUP])}" + (f" ({others})" if others else "")
                     + ("" if reading(srcs["truth"]) == "tells presence from absence"
                        else " (the truth itself does not tell them apart: the pair tests nothing)") + ".")
    if "teleconnection" in table and table["teleconnection"].get("link", {}).get("n"):
        link = table["teleconnection"]["link"]
        lines += ["", f"The planted link (gain {link['planted']:g}) is pinned down by least squares on the record "
                  f"(identify.json, within {link['error_max']:.0%}) in {link['recovered']} of {link['n']} replicates: "
                  + ", ".join(f"{e:.4f}" for e in link["estimates"]) + "."]
    return "\n".join(lines) + "\n"


def group_method(runs: dict) -> str | None:
    return next((run["aggregate"].get("method") for run in runs.values()), None)


def compute(root: Path) -> tuple[dict, str]:
    """The power table of the folders under ``root`` and its markdown."""
    raw = read_params_file(root / "params.yaml")
    controls, cfg = ControlsConfig.model_validate(raw["controls"]), ReportConfig.model_validate(raw["report"])
    runs = load(root)
    table = power(runs, controls, cfg) if runs else {}
    text = tables(table, controls.interval, group_method(runs))
    if runs:
        text += "\n".join(cost_section(root, f"{CONTROLS}/*/lead-*/rep-*")).replace("## Cost", "### Cost") + "\n"
    return table, text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path("."))
    args = ap.parse_args(argv)
    table, text = compute(args.root)
    write_json(table, args.root / POWER)
    write_text("# End-to-end controls\n\n" + text, args.root / PAGE)
    print(f"{PAGE}, {POWER}: written from {args.root / CONTROLS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
