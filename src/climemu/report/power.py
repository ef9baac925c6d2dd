"""The judges' power, generated into docs/measures.md from committed outputs (``make results``).

- ``judges``: the judges' run (tools/judges.py, ``reports/judges/``): every method and control
  against the truth (score.json), with each method's distance from the best and the samples'
  bootstrap interval for it, its cost per attribution (benchmarks/results/methods*.json),
  and per faithfulness measure the Spearman with the truth's ranking, its permutation p, the
  Holm-adjusted p, the verdict and whether every method scores above both controls
  (faithfulness.json);
- ``band-coverage``: how often the equivalence band holds the truth's measures, per group cell
  and lead (``reports/band/lead-L/band.json``, the band stage alone in the default setting),
  with the slack of ``report`` in params.yaml, as the report counts it (:func:`.band.coverage`).
"""

from __future__ import annotations

import json
from pathlib import Path

from climemu.core.params import read_params_file
from climemu.report.band import coverage, verdicts
from climemu.report.config import ReportConfig

JUDGES = "reports/judges"
BANDS = "reports/band"
COSTS = ("benchmarks/results/methods.json", "benchmarks/results/methods_judges.json")


def _read(path: Path) -> dict:
    return json.loads(path.read_text())


def judges(root: Path) -> str:
    """Methods against the truth and each faithfulness measure's power, in the judges' run."""
    folder = root / JUDGES
    score, faith = _read(folder / "score.json"), _read(folder / "faithfulness.json")
    sets = _read(folder / "set.json")
    commit = (folder / "commit.txt").read_text().strip()
    costs = [(_read(root / c), c) for c in COSTS if (root / c).exists()]
    methods = [m for m, v in score.items() if isinstance(v, dict) and "all" in v]
    control = score.get("controls", [])
    # The samples' own uncertainty (score.json, attribution.score.versus_best): a run kept before
    # score wrote it has no such column.
    vs = score.get("pearson_support_vs_best") or {}
    vs = vs if vs.get("best") else {}
    head = "| method | Pearson, truth's support: median [q25, q75] |"
    head += f" median minus the best's [{vs['level']:.0%} interval] |" if vs else ""
    head += " block Pearson median | curve error |"
    head += "".join(f" s per attribution, {c['shape'][1]} x {c['shape'][2]} cells |" for c, _ in costs)
    rows = [head, "|---|---|---|---|" + "---|" * (len(costs) + bool(vs))]
    for m in methods:
        a = score[m]["all"]
        name = f"{m} (control)" if m in control else m
        rows.append(f"| {name} | {a['pearson_support_median']:.2f} [{a['pearson_support_q25']:.2f}, "
                    f"{a['pearson_support_q75']:.2f}] |" + (f" {_versus_best(vs, m)} |" if vs else "")
                    + f" {a['variants']['block']['pearson_median']:.2f} | {a['curve_error']:.2f} |"
                    + "".join(f" {c['seconds_per_attribution'][m]:.3g} |" if m in c["seconds_per_attribution"]
                              else " |" for c, _ in costs))
    if vs:
        ties = [m for m, d in vs["methods"].items() if m != vs["best"] and not d["distinguishable"]]
        rows += ["", f"Best by the median Pearson on the truth's support: {vs['best']}; the samples "
                     f"({vs['n']} cell-samples, paired bootstrap) cannot tell from it: "
                     f"{', '.join(ties) or 'no other method'}. Controls are left out of this comparison."]
    val, ctrl = faith["validation"], faith.get("controls", {})
    prow = ["| measure | Spearman with the truth's ranking | p | Holm p | verdict | every method above the controls? |",
            "|---|---|---|---|---|---|"]
    for key, v in val.items():
        c = ctrl.get(key, {})
        below = ("yes" if c.get("below") else
                 f"no ({c['best_control']} at or above {', '.join(c['methods_at_or_below'])})" if c.get("below") is False
                 else "n/a")
        prow.append(f"| {key} | {v['spearman']:.2f} | {v['p']:.2g} | {v['p_holm']:.2g} | {v['verdict']} | {below} |")
    sanity = _read(folder / "sanity.json")
    rank_max = ReportConfig.model_validate(read_params_file(root / "params.yaml")["report"]).sanity_rank_max
    last = sanity["steps"][-1]
    survive = {m: sanity[m]["spearman"][last] for m in methods if m in sanity}
    fails = [m for m, r in survive.items() if r >= rank_max]
    sanity_line = (f"Sanity (cascading randomisation, {sanity['n_samples']} samples at {sanity['cell']}): signed maps "
                   f"still correlating >= {rank_max:g} with the fully randomised network's: "
                   + ", ".join(f"{m} {survive[m]:.2f}" for m in fails) + (" (and no other)." if fails else "none.")
                   + " The controls must be among them: "
                   + ("they are." if all(c in fails for c in control if c in survive) else
                      f"{', '.join(c for c in control if c in survive and c not in fails)} passed, so this test "
                      "cannot tell them from a method."))
    n = len(faith["distinct_methods"])
    validated = [k for k, v in val.items() if v["verdict"] == "validated"]
    tells = [k for k, c in ctrl.items() if c.get("below")]
    both = [k for k in validated if k in tells]
    settings = ", ".join(f"`{k}`" for k in sets)
    return "\n".join([
        f"The judges' run: commit {commit[:7]}, `tools/judges.py` (params.yaml's `judges.set` replaces {settings}); "
        f"{score['n_samples']} samples per group cell in `score`, {faith['n_samples']} in `faithfulness`, lead "
        f"{score['lead']}. Costs: `benchmarks/methods.py`, one sample and one cell per attribution, fp32, this "
        "machine (" + "; ".join(f"`{p}`" for _, p in costs) + ").", "", *rows, "",
        f"Faithfulness measures against the truth's ranking of the {n} distinct methods "
        f"({', '.join(faith['distinct_methods'])}); the smallest possible p is 1/{n}!, so after Holm over "
        f"{len(val)} measures a perfect ranking reaches {len(val)}/{n}!.", "", *prow, "",
        f"Validated (Holm p < {faith['alpha']:g}): {', '.join(validated) or 'none'}. Every method above both "
        f"controls: {', '.join(tells) or 'no measure'}. Both: {', '.join(both) or 'no measure'}.", "",
        sanity_line])


def _versus_best(vs: dict, method: str) -> str:
    """One method's difference from the best with its interval; "best" for the best, "-" for a
    control (not compared)."""
    if method == vs["best"]:
        return "best"
    d = vs["methods"].get(method)
    if d is None:
        return "-"
    return (f"{d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
            + ("" if d["distinguishable"] else " (not told apart)"))


def band_coverage(root: Path) -> str:
    """Per lead and group cell, the truth's measures inside the band (with the report's slack)."""
    cfg = ReportConfig.model_validate(read_params_file(root / "params.yaml")["report"])
    folders = sorted((root / BANDS).glob("lead-*"), key=lambda p: int(p.name.split("-")[1]))
    rows, cells = [], None
    for folder in folders:
        band = _read(folder / "band.json")
        covered = coverage(verdicts({}, band, cfg, "truth"))
        cells = cells or list(covered)
        rows.append(f"| {band['lead']} | " + " | ".join(f"{covered[c][0]} of {covered[c][1]}"
                                                           f" ({covered[c][0] / covered[c][1]:.0%})" for c in cells)
                    + f" | {', '.join(str(b['n_near_optimal']) for b in band['cells'].values())} |")
    commits = sorted({(f / "commit.txt").read_text().strip()[:7] for f in folders})
    return "\n".join([
        f"The band stage alone in the default setting (`tools/judges.py`, commit {', '.join(commits)}); slack "
        f"{cfg.band_slack_km:g} km, {cfg.band_slack_months:g} months, {cfg.band_slack_share:g}; the band judges a "
        f"cell where it holds at least {cfg.band_coverage_min:.0%} (`report.band_coverage_min`).", "",
        "| lead | " + " | ".join(cells or []) + " | near-optimal predictors per cell |",
        "|---|" + "---|" * (len(cells or []) + 1), *rows])


SECTIONS = {"judges": judges, "band-coverage": band_coverage}
