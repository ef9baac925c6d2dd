"""The paper's findings as claims, decided by the current run's numbers (the report stage).

The paper (Sec. 4) states its findings from heatmaps: (1) importance is local around the
target cell; (2) with a longer lead, importance reaches further back in time; (3) the temporal
decay does not depend on location; (4, Sec. 4.3) the ablation shows no teleconnection. Each is
turned into a :class:`Claim`: the numbers for it and against it, beside the truth where the
synthetic source gives one, and a verdict that follows from stated rules (``report`` params),
never from the paper's wording. Every sentence here is built from the metrics it is given.

Inputs are the stages' metrics as loaded from JSON: ``aggregate`` (group method's measures and
the truth's), ``ablate``, ``score``, ``sanity``, ``skill`` (evaluate).
"""

from __future__ import annotations

import math

from dataclasses import dataclass, field

from climemu.attribution.ranking import mean_rank
from climemu.report import rules
from climemu.report.band import band_table



@dataclass
class Claim:
    title: str
    paper: str                     # the paper's statement, quoted
    verdict: str
    evidence_for: list[str] = field(default_factory=list)
    evidence_against: list[str] = field(default_factory=list)
    short: str = ""                # one cell of the summary table

    def markdown(self) -> str:
        lines = [f"## {self.title}", "", f"Paper: {self.paper}", "", f"**Verdict:** {self.verdict}", ""]
        for label, items in (("For", self.evidence_for), ("Against", self.evidence_against)):
            lines.append(f"{label}:")
            lines += [f"- {item}" for item in items] or ["- nothing in this run"]
            lines.append("")
        return "\n".join(lines)


def _km(v: float) -> str:
    return f"{v:.0f} km"


def _range(values, fmt) -> str:
    lo, hi = min(values), max(values)
    return fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)} to {fmt(hi)}"


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%" if abs(v) >= 1e-3 else f"{100 * v:.1e}%"


def exact_setting(params) -> bool:
    """Whether the truth is exact here: the synthetic source with no smoothing and no seasonal
    cycle (docs/data.md, "The exact setting")."""
    return (params.data.source == "synthetic" and params.smooth.months["synthetic"] == 1
            and not params.data.synthetic.seasonal_cycle)


def claim_locality(aggregate: dict, sanity: dict | None, local_km: float, ratio_min: float) -> Claim:
    """Finding 1: importance is local around the target cell (Secs. 4.1-4.2)."""
    net = aggregate["attribution"]["cells"]
    r50 = [c["radius50_km"] for c in net.values()]
    r90 = [c["radius90_km"] for c in net.values()]
    method = aggregate["method"]
    claim = Claim("Finding 1: importance is local", '"our network only focuses on a neighborhood of the '
                  'target pixel" (Secs. 4.1, 4.2).', verdict="")
    local = max(r90) <= local_km
    (claim.evidence_for if local else claim.evidence_against).append(
        f"90% of the mean |{method}| lies within {_range(r90, _km)} of the explained cell "
        f"(50% within {_range(r50, _km)}); rule: local if r90 <= {_km(local_km)} at every cell.")
    truth = aggregate.get("truth", {}).get("cells")
    parts = []
    if truth:
        t90 = [c["radius90_km"] for c in truth.values()]
        t50 = [c["radius50_km"] for c in truth.values()]
        wider = min(r90) > max(t90)
        (claim.evidence_for if max(t90) <= local_km else claim.evidence_against).append(
            f"The exact contributions are local too: r50 {_range(t50, _km)}, r90 {_range(t90, _km)}.")
        if wider:
            claim.evidence_against.append(
                f"The network's attribution is wider than the truth's: r90 {_range(r90, _km)} against "
                f"{_range(t90, _km)}, i.e. it spreads importance over cells the best predictor does not use.")
        parts.append("the truth is " + ("local as well" if max(t90) <= local_km else "not local"))
    null = sanity.get(method) if sanity else None
    architectural = False
    if null:
        tr, rnd = null["trained"], null["randomised"]
        ratio = rnd["radius90_km"] / tr["radius90_km"] if tr["radius90_km"] > 0 else float("nan")
        architectural = same_size(rnd["radius90_km"], tr["radius90_km"], ratio_min)
        text = (f"A network with random weights (every block re-initialised) gives r50 {_km(rnd['radius50_km'])}, "
                f"r90 {_km(rnd['radius90_km'])} at cell {sanity['cell']} (trained, same samples: "
                f"r50 {_km(tr['radius50_km'])}, r90 {_km(tr['radius90_km'])}; ratio of r90 {ratio:.2f}; rule: "
                f"architectural if the smaller r90 is at least {ratio_min:.2f} of the larger).")
        if architectural:
            claim.evidence_against.append(text + " Locality of this size comes with the architecture, "
                                                  "whatever the weights learnt.")
            parts.append(f"but a random-weight network is about as local (r90 {_km(rnd['radius90_km'])}, "
                         f"{ratio:.2f} of the trained one's), so the spatial locality is mostly the architecture's")
        elif rnd["radius90_km"] < tr["radius90_km"]:
            # with a skip path (model.skip) random weights are far more local than trained ones
            claim.evidence_for.append(text + " Random weights are more local still: the trained network's "
                                             "reach is learnt, not the architecture's.")
            parts.append(f"learnt (random weights are more local still, r90 {_km(rnd['radius90_km'])})")
        else:
            claim.evidence_for.append(text + " The random-weight network spreads importance wider: "
                                             "the trained locality is learnt.")
            parts.append("and it is learnt (random weights spread wider)")
    claim.verdict = ("Holds for the network" if local else "Does not hold for the network") + (
        f" (r90 {'<=' if local else '>'} {_km(local_km)})") + ("; " + "; ".join(parts) if parts else "") + "."
    claim.short = ("holds" if local else "does not hold") + ("; mostly architectural" if architectural else "")
    return claim


def same_size(a: float, b: float, ratio_min: float) -> bool:
    """Whether two positive measures agree within a factor: the smaller at least ``ratio_min`` of
    the larger. Decides "architectural": a random-weight network's measure close to the trained
    one's (``report.architectural_ratio_min``), not merely passing the same absolute threshold."""
    if not (a > 0 and b > 0):
        return False
    return min(a, b) / max(a, b) >= ratio_min


def claim_reach(aggregate: dict, sanity: dict | None, lead: int, ratio_min: float) -> Claim:
    """Finding 2: with a longer lead, importance reaches further back (Sec. 4.2)."""
    net = aggregate["attribution"]["cells"]
    method = aggregate["method"]
    share = [c["share_month_minus1"] for c in net.values()]
    efold = [c["efolding_month"] for c in net.values()]
    claim = Claim("Finding 2: longer lead, importance reaches further back",
                  '"when lead time is longer more preceding months are leveraged" (Sec. 4.2).', verdict="")
    fmt2 = lambda v: f"{v:.2f}"   # noqa: E731
    claim.evidence_for.append(f"At lead {lead}, month -1 holds {_range(share, fmt2)} of the network's "
                              f"|{method}| and the curve falls to 1/e by month {_range(efold, lambda v: f'{v:.1f}')}.")
    truth = aggregate.get("truth", {}).get("cells")
    if truth:
        t_share = [c["share_month_minus1"] for c in truth.values()]
        text = f"The truth puts {_range(t_share, fmt2)} on month -1 at this lead"
        if max(share) < min(t_share):
            claim.evidence_against.append(text + ": the network already reaches further back than the best "
                                                 "predictor, so a longer reach says little about the data.")
        else:
            claim.evidence_for.append(text + ".")
    null = sanity.get(method) if sanity else None
    if null:
        flat = 1.0 / 36
        rnd, tr = null["randomised"]["share_month_minus1"], null["trained"]["share_month_minus1"]
        text = (f"Random weights give month -1 a share of {rnd:.3f} (a flat curve gives {flat:.3f}; trained, "
                f"same samples: {tr:.3f}; rule: architectural if the smaller share is at least "
                f"{ratio_min:.2f} of the larger)")
        if same_size(rnd, tr, ratio_min):
            claim.evidence_against.append(text + ": the temporal profile comes with the architecture, "
                                                 "whatever the weights learnt.")
        else:
            claim.evidence_for.append(text + ": the temporal profile is learnt, not the architecture's.")
    claim.verdict = (f"Not decidable from one run: this run has one lead ({lead}). Compare the share of month -1 "
                     "across `dvc exp run --queue -S lead=1,6,9` (README, \"Three leads\").")
    claim.short = "needs several leads"
    return claim


def claim_location(aggregate: dict, spread_max: float, basin: dict | None = None) -> Claim:
    """Finding 3: the monthly curve does not depend on location (Sec. 4.2).

    ``basin``: metrics of the basin stage; its many cells decide the verdict with the group cells.
    """
    spread = aggregate["attribution"]["curve_spread"]
    n = len(aggregate["attribution"]["cells"])
    claim = Claim("Finding 3: the temporal decay does not depend on location",
                  '"the monthly contribution plot is independent of the location" (Sec. 4.2).', verdict="")
    holds = not rules.location_dependent(spread, spread_max)
    (claim.evidence_for if holds else claim.evidence_against).append(
        f"Across {n} cells the normalised monthly curves differ by at most {spread:.3f} (largest std of a "
        f"month's share); rule: independent if <= {spread_max:g}.")
    if basin:
        # The basin's curves come from few samples per cell: sampling noise alone spreads them,
        # so the rule is applied to the spread in excess of the split-half noise estimate.
        b, noise, excess = basin["curve_spread"], basin["curve_spread_noise"], basin["curve_spread_excess"]
        share = basin["share_month_minus1"]
        (claim.evidence_for if excess <= spread_max else claim.evidence_against).append(
            f"Across {basin['n_cells']} ocean cells of the basin stage ({basin['attributions'] // basin['n_cells']} "
            f"samples each) the curves differ by at most {b:.3f}, of which sampling noise alone gives about "
            f"{noise:.3f} (split halves): {excess:.3f} in excess of noise. The share of month -1 ranges "
            f"{share['p10']:.2f} to {share['p90']:.2f} (10th to 90th percentile of cells).")
        holds = holds and not rules.location_dependent(b, spread_max, noise)
        spread = max(spread, excess)
    truth = aggregate.get("truth")
    if truth:
        t = truth["curve_spread"]
        t_dep = rules.location_dependent(t, spread_max)
        (claim.evidence_against if t_dep else claim.evidence_for).append(
            f"The truth's curves differ by {t:.3f}" + (": the data's decay is location-independent too."
                                                        if not t_dep else
                                                        ": the data's decay does depend on location, "
                                                        "and the network does not follow it."))
    claim.verdict = ("Holds" if holds else "Does not hold") + f" for the network (spread {spread:.3f})."
    claim.short = "holds" if holds else "does not hold"
    return claim


def claim_teleconnection(aggregate: dict, ablate: dict, ratio_max: float, linked: list[str]) -> Claim:
    """Finding 4: no teleconnection: ablating a region changes only its surroundings (Sec. 4.3).

    ``linked``: the group cells inside the planted link's target box (:func:`linked_cells`).
    """
    claim = Claim("Finding 4: no teleconnection in the ablation",
                  '"except a small surrounding area along the boundary of the ablated region the rest image '
                  'has literally zero influence ... this baseline model neglects teleconnections" (Sec. 4.3).',
                  verdict="")
    far = ablate["far_field_influence"]
    claim.evidence_for.append(f"Ablating the default box: the mean |change| beyond a {ablate['halo_cells']}-cell "
                              f"halo is {far:.3f} of that inside the box.")
    tele = ablate.get("teleconnection")
    if not tele:
        claim.verdict = f"Holds for the network in the default ablation (far-field influence {far:.3f})."
        claim.short = "holds"
        return claim
    ratio = tele["response_ratio"]
    misses = ratio <= ratio_max
    (claim.evidence_for if misses else claim.evidence_against).append(
        f"Ablating the planted link's source box moves the network's target-box prediction by "
        f"{tele['model_target_response_mean_abs']:.2g} (mean |change|, normalised units) against "
        f"{tele['true_target_response_mean_abs']:.2g} for the true predictor: ratio {ratio:.2g} "
        f"(rule: no teleconnection if <= {ratio_max:g}); correlation across samples "
        f"{tele['response_correlation']:.2f}.")
    cells = aggregate["attribution"]["cells"]
    truth = aggregate.get("truth", {}).get("cells", {})
    linked = next((c for c in linked if c in truth), None)
    if linked and "source_box_share" in cells[linked]:
        t_share, n_share = truth[linked]["source_box_share"], cells[linked]["source_box_share"]
        claim.evidence_against.append(
            f"The data has the link: the exact contributions to cell {linked} put {_pct(t_share)} of their "
            f"|mass| in the source box; the network's {aggregate['method']} puts {_pct(n_share)} there.")
    claim.verdict = ((f"Holds for the network (response ratio {ratio:.2g})" if misses else
                      f"Does not hold: the network responds to the planted link (ratio {ratio:.2g})")
                     + "; the planted teleconnection is in the data, so \"no teleconnection\" describes the "
                     "network, not the climate it emulates.")
    claim.short = "holds for the network, not for the data" if misses else "does not hold"
    return claim


def linked_cells(aggregate: dict) -> list[str]:
    """Group cells inside the planted link's target box, as the aggregate stage resolved them on the
    grid (``linked_cells`` of metrics/aggregate.json, :meth:`climemu.truth.loader.Truth.linked`)."""
    return [c for c in aggregate.get("linked_cells", []) if c in aggregate["attribution"]["cells"]]


def _yes(flag, yes: str, no: str) -> str:
    return "n/a" if flag is None else (yes if flag else no)


def controls(params, aggregate: dict, score: dict | None, basin: dict | None) -> str:
    """Per finding: what the generator planted, what the exact contributions give through the
    report's rule (the control), and what the network's methods give through the same rule."""
    truth = aggregate.get("truth")
    if not truth or params.data.source != "synthetic":
        return ""
    cfg, syn = params.report, params.data.synthetic
    linked = linked_cells(aggregate)
    method = aggregate["method"]
    net = aggregate["attribution"]["cells"]
    methods = [m for m, v in (score or {}).items() if isinstance(v, dict) and "all" in v]
    fmt_km = lambda cells, key: _range([c[key] for c in cells.values()], _km)   # noqa: E731

    def per_method(decide) -> str:
        return "; ".join(f"{m}: {decide({k: v for k, v in score[m].items() if k in net})}" for m in methods) or "-"

    regions = ", ".join(f"{r.name} {r.kernel_radius}" for r in syn.regions)
    local_t = rules.local(truth["cells"], cfg.local_km)
    t50 = ", ".join(f"{k} {v['radius50_km']:.0f}" for k, v in truth["cells"].items())
    row1 = ["importance is local (r90 <= " + _km(cfg.local_km) + ")",
            f"kernel radius {syn.kernel_radius} cells, {regions}",
            f"{_yes(local_t, 'local', 'not local')}: r90 {fmt_km(truth['cells'], 'radius90_km')}, "
            f"r50 by cell: {t50} km",
            f"{_yes(rules.local(net, cfg.local_km), 'local', 'not local')}: r90 {fmt_km(net, 'radius90_km')}",
            per_method(lambda c: _yes(rules.local(c, cfg.local_km), "local", "not local"))]

    by_lead = truth.get("by_lead")
    grows = rules.reach_by_cell(by_lead, cfg.reach_ratio_min, cfg.reach_share_min) if by_lead else {}
    leads = sorted(int(k) for k in by_lead) if by_lead else []
    shares = (", ".join(f"{c} {by_lead[str(leads[0])]['cells'][c]['share_before_minus12']:.3f} -> "
                        f"{by_lead[str(leads[-1])]['cells'][c]['share_before_minus12']:.3f}" for c in grows)
              if by_lead else "")
    reemerging = ", ".join(f"{r.name} {r.reemergence:g}" for r in syn.regions if r.reemergence > 0) or "none"
    row2 = [f"reach grows with lead (share of months <= -13 x{cfg.reach_ratio_min:g} from the shortest to the "
            "longest lead)",
            f"re-emergence on lags {syn.reemergence_lags}: {reemerging}",
            (f"grows at {', '.join(c for c, g in grows.items() if g) or 'no cell'} (leads {leads[0]} -> "
             f"{leads[-1]}: {shares})") if by_lead else "n/a",
            f"needs runs at leads {leads[0] if leads else 1} and {leads[-1] if leads else 9} "
            f"(this run, lead {params.lead}: share {_range([c['share_before_minus12'] for c in net.values()], lambda v: f'{v:.3f}')})",
            per_method(lambda c: _range([v.get("share_before_minus12", float("nan")) for v in c.values()],
                                        lambda v: f"{v:.3f}"))]

    decays = ", ".join(f"{r.name} {r.decay:g}" for r in syn.regions)
    t_dep = rules.location_dependent(truth["curve_spread"], cfg.spread_max)
    n_dep = rules.location_dependent(aggregate["attribution"]["curve_spread"], cfg.spread_max)
    basin_text = ""
    if basin:
        b_dep = rules.location_dependent(basin["curve_spread"], cfg.spread_max, basin["curve_spread_noise"])
        basin_text = (f"; basin: {_yes(b_dep, 'depends', 'independent')} (spread {basin['curve_spread']:.3f}, "
                      f"noise {basin['curve_spread_noise']:.3f})")
    truth_basin = ""
    if basin and "truth" in basin:
        tb = basin["truth"]
        tb_dep = rules.location_dependent(tb["curve_spread"], cfg.spread_max, tb["curve_spread_noise"])
        truth_basin = (f"; basin ({basin['n_cells']} cells): {_yes(tb_dep, 'depends', 'independent')} "
                       f"(spread {tb['curve_spread']:.3f}, noise {tb['curve_spread_noise']:.3f})")
    row3 = [f"decay depends on location (curve spread > {cfg.spread_max:g} beyond noise)",
            f"memory decay {syn.decay:g}, {decays}",
            f"{_yes(t_dep, 'depends', 'independent')}: spread {truth['curve_spread']:.3f}" + truth_basin,
            f"{_yes(n_dep, 'depends', 'independent')}: spread {aggregate['attribution']['curve_spread']:.3f}"
            + basin_text,
            per_method(lambda c: "share of month -1 " + _range([v["share_month_minus1"] for v in c.values()],
                                                               lambda v: f"{v:.2f}"))]

    t_tele = rules.teleconnection(truth["cells"], linked, cfg.tele_share_min)
    share = lambda cells: _range([cells[c].get("source_box_share", float("nan")) for c in linked], _pct)         if linked else "n/a"  # noqa: E731
    row4 = [f"teleconnection (a target-box cell puts >= {_pct(cfg.tele_share_min)} in the source box)",
            f"gain {syn.tele_gain:g} at lag {syn.tele_lag} into {', '.join(linked) or 'no group cell'}",
            f"{_yes(t_tele, 'present', 'absent')}: {share(truth['cells'])}",
            f"{_yes(rules.teleconnection(net, linked, cfg.tele_share_min), 'present', 'absent')}: {share(net)}",
            per_method(lambda c: _yes(rules.teleconnection(c, linked, cfg.tele_share_min), "present", "absent"))]

    head = ["| finding (rule) | planted in the data | truth through the rule | "
            f"`{method}` on the network ({aggregate['n_samples']} samples) | each method "
            f"({score['n_samples'] if score else 0} samples per cell) |", "|---|---|---|---|---|"]
    return "\n".join([
        "## Controls: the truth through the same rules", "",
        "Each rule (`report` in `params.yaml`) decides for the exact contributions as for a method's heatmaps. "
        "The truth column is the control: it must find what the generator planted (tests/report/"
        "test_controls.py also checks that it finds nothing when the property is switched off).", "",
        *head, *("| " + " | ".join(r) + " |" for r in (row1, row2, row3, row4)), ""])


def methods_table(score: dict, aggregate: dict | None = None) -> str:
    """Every method against the truth (score.json, all cells pooled)."""
    methods = [k for k, v in score.items() if isinstance(v, dict) and "all" in v]
    truth = score["truth"]
    # The source-box share at the target-box cell the aggregate stage resolved (the one definition).
    linked = next((c for c in (linked_cells(aggregate) if aggregate else []) if c in truth), None)
    share = lambda cells: _pct(cells[linked].get("source_box_share", float("nan"))) if linked else "n/a"  # noqa: E731
    rows = ["| method | Pearson median [q25, q75] | Spearman | Pearson, support | Spearman, support "
            "| mean abs. r50 error | mean abs. r90 error | curve error | source-box share "
            f"({linked or 'no target-box cell'}; truth {share(truth)}) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for m in methods:
        a = score[m]["all"]
        rows.append(f"| {m} | {a['pearson_median']:.2f} [{a['pearson_q25']:.2f}, {a['pearson_q75']:.2f}] "
                    f"| {a['spearman_median']:.2f} | {a['pearson_support_median']:.2f} "
                    f"| {a['spearman_support_median']:.2f} | {_km(a['radius50_abs_error_km'])} "
                    f"| {_km(a['radius90_abs_error_km'])} | {a['curve_error']:.2f} "
                    f"| {share(score[m])} |")
    control = score.get("controls", [])
    support = {m: score[m]["all"]["pearson_support_median"] for m in methods if m not in control}
    best, worst = max(support, key=support.get), min(support, key=support.get)
    vs = score.get("pearson_support_vs_best")
    if vs and vs.get("best"):                 # the samples' own uncertainty (score.json)
        best = vs["best"]
        close = [m for m, d in vs["methods"].items() if m != best and not d["distinguishable"]]
    else:
        close = [m for m in support if m != best and support[best] - support[m] < 0.01]
    ctrl_text = ""
    if control:
        top = max(score[c]["all"]["pearson_support_median"] for c in control)
        at_or_below = [m for m in support if support[m] <= top]
        ctrl_text = (f" Controls (they ignore the model): "
                     + ", ".join(f"{c} {score[c]['all']['pearson_support_median']:.2f}" for c in control) + "; "
                     + (f"methods at or below a control: {', '.join(at_or_below)}." if at_or_below
                        else "every method scores above both."))
    return "\n".join([
        f"Every method of `explain.methods` on the first {score['n_samples']} training samples at each group "
        f"cell, lead {score['lead']}. Correlations are per sample; \"support\" scores only the inputs with a "
        "non-zero true coefficient (over all ocean inputs the truth is mostly exact zeros, so Spearman ranks "
        "ties). Radius errors are |method - truth| of the mean |map|, averaged over cells; the curve error is "
        "the sum over months of |share - true share| (0 to 2).", "", *rows, "",
        f"Highest median Pearson on the truth's support: **{best}** ({support[best]:.2f})"
        + ((f"; the samples cannot tell it from {', '.join(close) or 'no other method'} (the "
            f"{vs['level']:.0%} paired bootstrap interval of the difference of medians over {vs['n']} "
            "cell-samples reaches 0)") if vs and vs.get("best")
           else (f", within 0.01 of it: {', '.join(close)}" if close else ""))
        + f"; lowest: {worst} ({support[worst]:.2f})." + ctrl_text,
        "", "![methods against truth](../plots/figures/score_methods.png)", ""])


def skip_path_table(aggregate: dict) -> str:
    """The group method's maps split at the skip path (``model.skip``, docs/model.md): the share of
    the |map| mass through the path, and each judged measure on the whole map and on Table 1's
    part (the network without the path; both parts exact, attribution/skip.py)."""
    whole, table1 = aggregate["attribution"], aggregate["table1"]
    rows = ["| cell | through the skip path | r50 | r90 | share month -1 | share months -13 and earlier "
            "| source-box share |", "|---|---|---|---|---|---|---|"]
    pair = lambda a, b, fmt: f"{fmt(a)} / {fmt(b)}"        # noqa: E731  whole / Table 1's part
    for name, w in whole["cells"].items():
        t = table1["cells"][name]
        rows.append(f"| {name} | {_pct(table1['skip_share'][name])} | {pair(w['radius50_km'], t['radius50_km'], _km)} "
                    f"| {pair(w['radius90_km'], t['radius90_km'], _km)} "
                    f"| {pair(w['share_month_minus1'], t['share_month_minus1'], _pct)} "
                    f"| {pair(w['share_before_minus12'], t['share_before_minus12'], _pct)} "
                    + (f"| {pair(w['source_box_share'], t['source_box_share'], _pct)} |"
                       if "source_box_share" in w else "| n/a (no planted source box) |"))
    return "\n".join([
        f"This network adds a linear skip path to Table 1's (`model.skip`). The {aggregate['method']} maps "
        "are the sum of the path's part (w x the inputs on the k x k cells around the explained cell) and "
        "Table 1's part; each cell below gives the share of the |map| mass through the path and every judged "
        "measure as **whole map / Table 1's part**. The verdicts above judge the whole map; a finding that "
        "holds only with the path is the path's, not Table 1's.", "", *rows, "",
        f"Curve spread across cells (finding 3): {whole['curve_spread']:.3f} / {table1['curve_spread']:.3f}.", ""])


def sanity_table(sanity: dict, rank_max: float) -> str:
    """Cascading randomisation per method (sanity.json)."""
    steps = sanity["steps"]
    methods = [k for k, v in sanity.items() if isinstance(v, dict) and "spearman" in v]
    rows = [f"| method | signed: after `{steps[0]}` | signed: all blocks | abs.: after `{steps[0]}` "
            "| abs.: all blocks | signed maps survive down to | verdict |", "|---|---|---|---|---|---|---|"]
    failing = []
    control = sanity.get("controls", [])
    for m in methods:
        s, a = sanity[m]["spearman"], sanity[m]["spearman_abs"]
        survive = [st for st in steps if s[st] >= rank_max]
        deepest = survive[-1] if survive else "none"
        fails = s[steps[-1]] >= rank_max
        if fails and m not in control:
            failing.append(m)
        rows.append(f"| {m} | {s[steps[0]]:.2f} | {s[steps[-1]]:.2f} | {a[steps[0]]:.2f} | {a[steps[-1]]:.2f} "
                    f"| `{deepest}` | {'fails: maps survive random weights' if fails else 'passes'} |")
    real = [m for m in methods if m not in control]
    abs_min = min(sanity[m]["spearman_abs"][steps[-1]] for m in real)
    passing_controls = [m for m in control if m in methods and sanity[m]["spearman"][steps[-1]] < rank_max]
    ctrl_text = ""
    if control:
        ctrl_text = (f" The controls ({', '.join(control)}) ignore the weights and must fail: "
                     + (f"{', '.join(passing_controls)} passed, so the test cannot tell them from a method."
                        if passing_controls else "they do."))
    return "\n".join([
        f"Blocks re-initialised one by one from the output (`{steps[0]}`) to the input (`{steps[-1]}`); Spearman "
        f"correlation between the trained network's heatmaps and each step's, median over "
        f"{sanity['n_samples']} training samples at cell {sanity['cell']}, over ocean inputs where either map is "
        f"non-zero. Rule: a method fails when its signed maps still correlate >= {rank_max:g} with those of the "
        "fully randomised network. \"Survive down to\": the deepest step whose correlation is still above "
        "the rule.", "", *rows, "",
        (f"Failing: {', '.join(failing)}." if failing else "Every method's signed maps change with the weights.")
        + f" The |maps| of every method keep a rank correlation of at least {abs_min:.2f} with random weights: "
        "their spatial ordering (decay with distance from the cell) is set by the architecture." + ctrl_text,
        "", "![sanity checks](../plots/figures/sanity.png)", ""])


def control_verdict(check: dict) -> str:
    """One cell of the controls column: every method above every control, or which are not."""
    if check["below"] is None:
        return "not measured"
    if check["below"]:
        return f"yes (margin {check['margin']:.3g})"
    return (f"no: cannot tell a method from a control ({check['best_control']} scores at or above "
            f"{', '.join(check['methods_at_or_below'])})")


def faithfulness_table(faith: dict, validated: list[str] = ()) -> str:
    """The methods ranked by faithfulness to the network (faithfulness.json), and which measures the
    synthetic truth validated: in this run, or (real data) in the synthetic runs that
    ``validated`` (params ``report.faithfulness_validated``) names (docs/measures.md,
    "Faithfulness without a truth")."""
    measures = list(faith["ranking"])
    methods = faith["overall"]["ranking"] or faith["ranking"][measures[0]]
    validation = faith.get("validation")
    judged = faith.get("controls")
    rows = ["| measure (scale.baseline.metric) | ranking, most faithful first | Spearman with the truth's ranking |"
            + (" controls below every method? |" if judged else ""),
            "|---|---|---|" + ("---|" if judged else "")]
    for key in measures:
        check = validation[key] if validation else None
        if check:
            verdict = f"{check['spearman']:.2f} (p {check['p']:.3g}, Holm {check['p_holm']:.3g}): {check['verdict']}"
            if check["verdict"] != "validated" and check.get("underpowered"):
                verdict += "; not validated: underpowered"
        else:
            verdict = "no truth in this run; " + ("validated on the synthetic source" if key in validated
                                                  else "not validated on the synthetic source")
        row = f"| {key} | {' > '.join(faith['ranking'][key])} | {verdict} |"
        if judged:
            row += f" {control_verdict(judged[key])} |"
        rows.append(row)
    if validation:
        kept = [k for k in measures if validation[k]["verdict"] == "validated"]
        distinct = faith.get("distinct_methods", methods)
        n, k = len(distinct), len(measures)
        note = (f"A measure is validated when its Spearman with the truth's ranking over the {n} distinct methods "
                f"({', '.join(distinct)}; the controls are judged apart) has a one-sided permutation p below "
                f"{faith.get('alpha', 0.05):g} after a Holm correction across the {k} measures. "
                f"Validated in this run: {', '.join(kept) or 'none'}. ")
        if faith["n_samples"] < faith.get("min_samples", 1):
            note += (f"Not validated: underpowered. {faith['n_samples']} samples per cell, fewer than the "
                     f"{faith['min_samples']} a validation needs (`faithfulness.min_samples`); the judges' run has them "
                     "(docs/measures.md, \"Power of the judges\"). ")
        elif all(validation[m].get("underpowered") for m in measures):
            note += (f"Not validated: underpowered. With {n} distinct methods the smallest p is 1/{n}! and the smallest "
                     f"Holm-adjusted p {k}/{n}! = {k / math.factorial(n):.3g}: no ranking of so few methods can "
                     "validate a measure (docs/measures.md, \"Faithfulness without a truth\"). ")
        note += "A measure ranking against the truth is left out of the overall ranking."
    else:
        kept = [k for k in measures if k in validated]
        mean = mean_rank(faith["values"], kept)
        by_kept = f" Ranked by those alone: **{' > '.join(sorted(mean, key=mean.get))}**." if kept else ""
        note = ("No truth here: which measures rank the methods as the exact contributions do was checked on the "
                "synthetic source (docs/results.md, \"Faithfulness\"): validated there "
                f"(`report.faithfulness_validated`): {', '.join(kept) or 'none of this run'}.{by_kept} "
                "The overall ranking above uses every measure.")
    return "\n".join([
        f"Each method's inputs removed in the order of its own importance, {faith['n_samples']} training samples per "
        "group cell: deletion AUC (output change toward the prediction's sign, degC, over log fractions "
        f"{faith['fractions'][0]:g} to {faith['fractions'][-1]:g}) and faithfulness correlation (Bhatt et al. 2020), "
        f"single inputs (cell) and {faith.get('block_cells', 3)}x{faith.get('block_cells', 3)} blocks of one month "
        "(block), zero anomaly or ROAD-style imputation (impute).", "",
        *rows, "", f"Overall (mean rank): **{' > '.join(methods)}**. {note}", "",
        "![deletion curves](../plots/figures/faithfulness.png)", ""])


NOT_JUDGED = "not judged: the network is not skilful"


def captured_share(mse: dict[str, float]) -> float:
    """The network's share of the predictable MSE, (MSE_climatology - MSE_network) /
    (MSE_climatology - MSE_truth), from MSEs by predictor name (NaN without room to capture)."""
    room = mse["climatology"] - mse["truth"]
    return (mse["climatology"] - mse["model"]) / room if room > 0 else float("nan")


def skill_gate(skill: dict, captured_min: float) -> tuple[bool, str]:
    """Whether the network is skilful enough for its attributions to be judged, and why.

    On the test split (metrics/skill.json) the network's MSE must be below damped persistence's
    and the LIM's, and, where the truth is known, it must capture at least ``captured_min`` of the
    predictable MSE, (MSE_climatology - MSE_network) / (MSE_climatology - MSE_truth). An
    attribution of a network that does not beat these explains a poor forecast, not the data.
    """
    mse = {name: v["rmse_degC"] ** 2 for name, v in skill["test"].items()}
    net = mse["model"]
    checks = [(net < mse[rival], f"MSE {net / mse[rival]:.2f}x {rival}'s")
              for rival in ("damped_persistence", "lim") if rival in mse]
    if "truth" in mse and "climatology" in mse:
        captured = captured_share(mse)
        checks.append((captured >= captured_min,
                       f"captures {captured:.0%} of the predictable MSE (rule: at least {captured_min:.0%})"))
    passed = all(ok for ok, _ in checks)
    text = ("skilful" if passed else "**not skilful**") + (": " + "; ".join(t for _, t in checks) if checks else
                                                          ": no baseline to compare with")
    # every predictor beside it, as MSE over the best one's (the truth's where it is known)
    ref = "truth" if "truth" in mse else min(mse, key=mse.get)
    text += (f" (MSE over the {ref}'s: " + ", ".join(f"{'network' if n == 'model' else n} {v / mse[ref]:.2f}"
                                                    for n, v in sorted(mse.items(), key=lambda kv: kv[1])) + ")")
    return passed, text


def ceiling(skill: dict, exact: bool) -> str:
    """The true predictor beside the network and every baseline on the test split (skill.json)."""
    test = skill["test"]
    if "truth" not in test:
        return "No truth predictor in metrics/skill.json (not the synthetic source).\n"
    rows = ["| predictor | RMSE (degC) | time ACC |", "|---|---|---|"]
    rows += [f"| {name} | {v['rmse_degC']:.3f} | {v['acc_time']:.3f} |"
             for name, v in sorted(test.items(), key=lambda kv: kv[1]["rmse_degC"])]
    beaten = [n for n, v in test.items() if n != "truth" and v["rmse_degC"] <= test["truth"]["rmse_degC"]]
    if not beaten:
        verdict = "The true predictor has the lowest test RMSE of all predictors"
        verdict += ", as it must in the exact setting." if exact else " (approximate setting: not guaranteed)."
    else:
        verdict = f"{', '.join(beaten)} match(es) or beat(s) the true predictor's RMSE"
        verdict += (": in the exact setting this should not happen, check the truth." if exact else
                    ": possible here, since with smoothing or a seasonal cycle the truth is only approximate. "
                    "The scores above then measure agreement with an approximation that these predictors "
                    "beat; the exact setting scores the methods against the real optimum.")
    # MSE over the truth's: how far each forecast is from the ceiling (docs/model.md, "A
    # full-resolution path"); the shared filter is the best the network's kind of linear map does.
    ratios = ", ".join(f"{name} {(test[name]['rmse_degC'] / test['truth']['rmse_degC']) ** 2:.3f}x"
                       for name in ("model", "shared_filter") if name in test)
    verdict += f" Test MSE over the truth's: {ratios}." if ratios else ""
    if "lim_span_share_val" in skill:
        verdict += (f" The LIM ({skill['lim_modes']} EOFs of the training period, chosen on validation) can "
                    f"represent {skill['lim_span_share_val']:.0%} of the validation targets' sum of squares; "
                    "the rest it forecasts as climatology (docs/results.md, \"The LIM\").")
    return "\n".join(["Test split (the only stage that reads it is evaluate):", "", *rows, "", verdict, ""])


def chain_power(power: dict | None, finding: str) -> str:
    """What the end-to-end controls measured of the group method's chain for ``finding``
    (reports/controls/power.json, docs/controls.md): found where planted and where absent, k of n."""
    entry = (power or {}).get(finding, {}).get("sources", {}).get("group")
    if not entry or not entry["present"]["n"]:
        return "not measured (`make controls`)"
    p, a = entry["present"], entry["absent"]
    prop = {"local": "locality", "reach": "a longer reach", "location": "location-dependent decay",
            "teleconnection": "the link"}[finding]
    text = (f"finds {prop} in {p['k']}/{p['n']} where planted [{p['low']:.2f}, {p['high']:.2f}], "
            f"in {a['k']}/{a['n']} where absent [{a['low']:.2f}, {a['high']:.2f}]")
    rp, ra = p.get("rule", p), a.get("rule", a)
    if (rp["k"], ra["k"]) != (p["k"], a["k"]):      # the gate changed the count: say what the maps said
        text += f" (the rule alone, gate or not: {rp['k']}/{rp['n']} where planted, {ra['k']}/{ra['n']} where absent)"
    return text


def render(params, aggregate: dict, ablate: dict, score: dict | None, sanity: dict | None,
           skill: dict, basin: dict | None = None, band: dict | None = None,
           faithfulness: dict | None = None, power: dict | None = None) -> str:
    """reports/findings.md for the current run; ``params`` is the report stage's view of the params
    (:class:`climemu.core.params.StageParams`: the keys its dvc.yaml stage declares)."""
    cfg = params.report
    exact = exact_setting(params)
    months = params.smooth.months[params.data.source]
    setting = (f"smoothing {months} month(s), seasonal cycle "
               f"{'on' if params.data.synthetic.seasonal_cycle else 'off'}: the truth is "
               + ("**exact**" if exact else "**approximate** (exact only without smoothing and seasonal cycle; "
                                             "docs/data.md, \"The exact setting\")"))
    if params.data.source != "synthetic":
        setting = (f"`data.source: {params.data.source}`, smoothing {months} month(s): "
                   "**no ground truth**; the claims rest on the network's numbers alone")
    claims = [claim_locality(aggregate, sanity, cfg.local_km, cfg.architectural_ratio_min),
              claim_reach(aggregate, sanity, params.lead, cfg.architectural_ratio_min),
              claim_location(aggregate, cfg.spread_max, basin), claim_teleconnection(aggregate, ablate, cfg.response_ratio_max,
                                   linked_cells(aggregate) if params.data.source == "synthetic" else [])]
    skilful, gate = skill_gate(skill, cfg.captured_min)
    if not skilful:         # no verdict on the attributions of a network without skill
        for c in claims:
            c.short = NOT_JUDGED
            c.verdict = (f"Not judged: the network is not skilful ({gate}). The evidence below is "
                         "reported, not judged.")
    # The chain's measured power beside each verdict: the claims in the order of the four findings.
    summary = (["| finding | this run | the chain's power (end-to-end controls, docs/controls.md) |",
                "|---|---|---|", f"| skill (test split; the gate) | {gate} | - |"]
               + [f"| {c.title.split(': ', 1)[1]} | {c.short} | {chain_power(power, finding)} |"
                  for c, finding in zip(claims, ("local", "reach", "location", "teleconnection"))])
    parts = [f"# The paper's findings, tested: lead {params.lead}, `{params.model.arch}`", "",
             "Written by the `report` stage from `metrics/*.json` of this run; every number and verdict below "
             "follows from those files and the rules in `params.yaml` (`report`). Do not edit by hand.", "",
             f"Setting: {setting}. Group method: `{aggregate['method']}` over {aggregate['n_samples']} training "
             "samples.", "", *summary, ""]
    parts += [controls(params, aggregate, score, basin)]
    parts += [c.markdown() for c in claims]
    if "table1" in aggregate:
        parts += ["## The skip path and Table 1's network", "", skip_path_table(aggregate)]
    if score:
        parts += ["## Every method against the truth", "", methods_table(score, aggregate)]
    if band:
        parts += ["## Equivalence band: what any near-optimal predictor shows", "", band_table(aggregate, band, cfg), ""]
    if sanity:
        parts += ["## Sanity checks (Adebayo et al. 2018)", "", sanity_table(sanity, cfg.sanity_rank_max)]
    if faithfulness:
        parts += ["## Faithfulness to the network (no truth needed)", "", faithfulness_table(faithfulness, cfg.faithfulness_validated)]
    parts += ["## The ceiling: the best linear predictor", "", ceiling(skill, exact)]
    return "\n".join(parts)
