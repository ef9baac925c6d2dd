"""The study's report: the paper's findings across leads and arms, every number over seeds with its
interval (``reports/study.md``, written from the folders ``tools/study.py`` keeps).

    python -m climemu.report.study              # reports/study.md from reports/study/

Each quantity of an arm at a lead is given as the mean over its seeds with a two-sided t interval
of that mean (``study.interval``, 90%), and the seeds' own range beside it. A finding is decided
from intervals: "yes" when the whole interval lies on the rule's side of its threshold, "no" when it
lies on the other, and "undecided" when it straddles the threshold, never a coin flip on the mean.
Finding 2 compares the shortest and the longest lead: its ratio's interval is a bootstrap over the
seeds of each lead (independent networks), percentile, ``study.bootstrap`` draws.

The skill gate (docs/results.md): at the shortest lead an arm must capture ``report.captured_min``
of the predictable MSE and beat damped persistence and the LIM; at longer leads beat both. An arm
that fails, or whose interval straddles the gate, is reported with its skill and "not judged".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml
from scipy import stats

from climemu.attribution.measures import normalised_curve
from climemu.core import paths
from climemu.core.io import atomic_path, write_csv, write_text
from climemu.core.params import read_params_file
from climemu.report import ensemble
from climemu.report.config import ReportConfig
from climemu.report.findings import captured_share

# The study's files (no stage reads or writes them; dvc.yaml's plots read CURVES).
TOOLS: dict[str, str] = yaml.safe_load(paths.PATHS_FILE.read_text())["tools"]   # core/paths.yaml
STUDY, PAGE, HTML, CURVES, FIGURE = (TOOLS[k] for k in
                                     ("study", "study_page", "study_html", "study_curves", "study_figure"))


def interval(values, level: float) -> dict:
    """Mean of ``values`` with its two-sided t interval at ``level``, and their min and max."""
    v = np.asarray(values, dtype=float)
    mean = float(v.mean())
    if len(v) < 2:
        low = high = float("nan")
    else:
        half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
        low, high = mean - half, mean + half
    return {"mean": mean, "low": low, "high": high, "min": float(v.min()), "max": float(v.max()), "n": len(v)}


def ratio_interval(top, bottom, level: float, draws: int, seed: int = 0) -> dict:
    """mean(top) / mean(bottom) with a percentile bootstrap interval, each list resampled on its own
    (no interval, NaN, when either has a single seed: its resamples would all be that seed)."""
    top, bottom = np.asarray(top, float), np.asarray(bottom, float)
    if min(len(top), len(bottom)) < 2:
        return {"mean": float(top.mean() / bottom.mean()), "low": float("nan"), "high": float("nan"),
                "min": float("nan"), "max": float("nan"), "n": min(len(top), len(bottom))}
    rng = np.random.default_rng(seed)
    a = top[rng.integers(0, len(top), (draws, len(top)))].mean(1)
    b = bottom[rng.integers(0, len(bottom), (draws, len(bottom)))].mean(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = a / b
    low, high = np.quantile(r, [0.5 - level / 2, 0.5 + level / 2])
    return {"mean": float(top.mean() / bottom.mean()), "low": float(low), "high": float(high),
            "min": float("nan"), "max": float("nan"), "n": min(len(top), len(bottom))}


def decide(iv: dict, threshold: float, above: bool = True) -> str:
    """"yes" when the interval lies wholly above ``threshold`` (below, ``above=False``), "no" when
    wholly on the other side, "undecided" when it straddles it (or has no width: one seed)."""
    low, high = iv["low"], iv["high"]
    if not (np.isfinite(low) and np.isfinite(high)):
        return "undecided"
    if (low > threshold) if above else (high < threshold):
        return "yes"
    if (high <= threshold) if above else (low >= threshold):
        return "no"
    return "undecided"


def load(root: Path) -> dict[tuple[int, str], list[dict]]:
    """``{(lead, arm): [one dict of metrics per seed]}`` from ``reports/study/lead-L/ARM/seed-S/``."""
    runs: dict[tuple[int, str], list[dict]] = {}
    for folder in sorted((root / STUDY).glob("lead-*/*/seed-*")):
        if not (folder / "commit.txt").exists():
            continue                                      # a folder being written
        lead, arm = int(folder.parent.parent.name.split("-")[1]), folder.parent.name
        run = {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json") if p.stem != "set"}
        run["seed"] = int(folder.name.split("-")[1])
        runs.setdefault((lead, arm), []).append(run)
    return runs


def _fmt(iv: dict, digits: int = 3) -> str:
    f = f"{{:.{digits}f}}"
    if not (np.isfinite(iv["low"]) and np.isfinite(iv["high"])):
        return f"{f.format(iv['mean'])} (one seed: no interval)"
    text = f"{f.format(iv['mean'])} [{f.format(iv['low'])}, {f.format(iv['high'])}]"
    return text + (f" (seeds {f.format(iv['min'])}-{f.format(iv['max'])})" if np.isfinite(iv["min"]) else "")


def skill(runs: list[dict], level: float) -> dict[str, dict]:
    """Per seed: test MSE over the truth's, over damped persistence's and the LIM's, captured share."""
    rows = {"mse_over_truth": [], "mse_over_damped": [], "mse_over_lim": [], "captured": []}
    for r in runs:
        mse = {k: v["rmse_degC"] ** 2 for k, v in r["skill"]["test"].items()}
        rows["mse_over_truth"].append(mse["model"] / mse["truth"])
        rows["mse_over_damped"].append(mse["model"] / mse["damped_persistence"])
        rows["mse_over_lim"].append(mse["model"] / mse["lim"])
        rows["captured"].append(captured_share(mse))
    return {k: interval(v, level) for k, v in rows.items()}


def gate(sk: dict, shortest: bool, captured_min: float) -> str:
    """"judged", "not judged" (fails) or "undecided" (an interval straddles the gate)."""
    checks = [decide(sk["mse_over_damped"], 1.0, above=False), decide(sk["mse_over_lim"], 1.0, above=False)]
    if shortest:
        checks.append(decide(sk["captured"], captured_min))
    if all(c == "yes" for c in checks):
        return "judged"
    return "not judged" if any(c == "no" for c in checks) else "undecided"


def measures(runs: list[dict], level: float) -> dict[str, dict]:
    """The group method's measures the findings read, each over seeds (cells: the worst or linked)."""
    out: dict[str, list[float]] = {}
    for r in runs:
        agg = r["aggregate"]
        cells = agg["attribution"]["cells"]
        out.setdefault("r90_max_km", []).append(max(c["radius90_km"] for c in cells.values()))
        out.setdefault("curve_spread", []).append(agg["attribution"]["curve_spread"])
        linked = [c for c in agg.get("linked_cells", []) if c in cells]
        out.setdefault("source_box_share", []).append(max((cells[c]["source_box_share"] for c in linked),
                                                          default=float("nan")))
        for name, c in cells.items():
            out.setdefault(f"share_before_minus12.{name}", []).append(c["share_before_minus12"])
    return {k: interval(v, level) for k, v in out.items()}


def load_maps(root: Path) -> dict[tuple[int, str], list[xr.Dataset]]:
    """``{(lead, arm): [one maps summary per seed]}`` (climemu.report.ensemble) of the kept folders."""
    out: dict[tuple[int, str], list[xr.Dataset]] = {}
    for folder in sorted((root / STUDY).glob("lead-*/*/seed-*")):
        path = folder / ensemble.MAPS
        if (folder / "commit.txt").exists() and path.exists():
            with xr.open_dataset(path) as ds:
                key = (int(folder.parent.parent.name.split("-")[1]), folder.parent.name)
                out.setdefault(key, []).append(ds.load())
    return out


def ensemble_section(maps: dict[tuple[int, str], list[xr.Dataset]], level: float) -> list[str]:
    """The seed ensemble against the single networks, per lead and arm with at least 3 networks."""
    lines = ["", "## The seed ensemble", "",
             "The group method's heatmaps averaged over the networks of a lead and arm, scored against "
             "the exact contributions beside the single networks (averaged over the group cells): the "
             "Pearson correlation of the month-summed mean |attribution| map with the truth's, the "
             "errors of r50 and r90 (km) and the L1 distance of the normalised monthly curves "
             "(docs/study.md). Single networks: mean over seeds with its t interval and range; gain: "
             f"how much closer to the truth the ensemble is than a single network (positive: closer), "
             f"with a {level:.0%} jackknife interval over the networks.", "",
             "| lead | arm | networks | score | single networks | ensemble | gain | ensemble closer |",
             "|---|---|---|---|---|---|---|---|"]
    rows = 0
    for (lead, arm), members in sorted(maps.items()):
        n = len(members)
        if n < 3:
            continue
        j = ensemble.jackknife(members)
        half = float(stats.t.ppf(0.5 + level / 2, n - 1))
        for k in ensemble.SCORES:
            d = 3 if k in ensemble.BETTER_HIGH or k == "curve_error" else 0
            g = j[k]
            gain = {"mean": g["gain"], "low": g["gain"] - half * g["gain_se"],
                    "high": g["gain"] + half * g["gain_se"], "min": float("nan"), "max": float("nan")}
            verdict = {"yes": "yes", "no": "no (farther)", "undecided": "undecided"}[decide(gain, 0.0)]
            f = f"{{:.{d}f}}"
            lines.append(f"| {lead} | {arm} | {n} | {k} | {_fmt(interval(g['singles'], level), d)} "
                         f"| {f.format(g['ensemble'])} | {_fmt(gain, d)} | {verdict} |")
            rows += 1
    if not rows:
        lines.append("| - | - | - | no lead and arm has 3 networks with maps yet | | | | |")
    return lines


def curve_table(maps: dict[tuple[int, str], list[xr.Dataset]], level: float) -> pd.DataFrame:
    """Long form (lead, arm, cell, source, month, mean, low, high, seeds) of the normalised monthly
    curves: the networks' mean over seeds with its t interval, the truth's beside it."""
    frames = []
    for (lead, arm), members in sorted(maps.items()):
        for source, var in (("network", "curve"), ("truth", "truth_curve")):
            norm = np.stack([normalised_curve(m[var].astype(float)).values for m in members])  # (seed, cell, month)
            for c, cell in enumerate(members[0]["cell"].values):
                ivs = [interval(norm[:, c, t], level) for t in range(norm.shape[2])]
                frames.append(pd.DataFrame({
                    "lead": lead, "arm": arm, "cell": str(cell), "source": source,
                    "month": members[0]["month"].values,
                    "mean": [iv["mean"] for iv in ivs], "low": [iv["low"] for iv in ivs],
                    "high": [iv["high"] for iv in ivs], "seeds": len(members)}))
    columns = ["lead", "arm", "cell", "source", "month", "mean", "low", "high", "seeds"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def figure(table: pd.DataFrame, path: Path, arms: list[str] | None = None) -> None:
    """Normalised curves across leads: one panel per arm (rows, in ``arms``' order) and cell
    (columns), the networks' mean with its interval shaded, the truth dashed in the lead's colour.
    Log scale from 1e-4: the truth's shares of the months it does not use fall to ~0."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = set(table["arm"])
    arms = [a for a in (arms or sorted(present)) if a in present]
    cells = list(dict.fromkeys(table["cell"]))
    fig, axes = plt.subplots(len(arms), len(cells), figsize=(4 * len(cells), 2.6 * len(arms)),
                             sharex=True, sharey=True, squeeze=False)
    colours = dict(zip(sorted(set(table["lead"])), ("tab:blue", "tab:orange", "tab:green", "tab:red")))
    for r, arm in enumerate(arms):
        for c, cell in enumerate(cells):
            ax = axes[r, c]
            for lead, colour in colours.items():
                sel = table[(table["arm"] == arm) & (table["cell"] == cell) & (table["lead"] == lead)]
                net, tru = sel[sel["source"] == "network"], sel[sel["source"] == "truth"]
                if net.empty:
                    continue
                ax.plot(net["month"], net["mean"], color=colour, label=f"lead {lead} ({int(net['seeds'].iloc[0])} seeds)")
                ax.fill_between(net["month"], net["low"], net["high"], color=colour, alpha=0.25, linewidth=0)
                ax.plot(tru["month"], tru["mean"], color=colour, linestyle="--", linewidth=1)
            ax.set_title(f"{arm}, {cell}", fontsize=9)
            ax.set_yscale("log")
            ax.set_ylim(1e-4, 1.0)
            if r == len(arms) - 1:
                ax.set_xlabel("input month")
            if c == 0:
                ax.set_ylabel("share of the curve")
            ax.legend(fontsize=7)
    fig.suptitle("Monthly contribution across leads (solid: networks, shaded: interval over seeds; dashed: truth)",
                 fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    plt.close(fig)


def html(markdown: str, png: bytes | None) -> str:
    """The study's offline page: the report as HTML and the curves' figure, embedded."""
    import base64

    from climemu.report.page import findings_html
    img = (f'<h2>Contribution curves across leads</h2><img alt="curves" src="data:image/png;base64,'
           f'{base64.b64encode(png).decode()}" style="max-width:100%">') if png else ""
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>climemu: the study</title>"
            "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto}table{border-collapse:collapse;"
            "font-size:90%}td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>"
            f"{findings_html(markdown)}{img}</body></html>\n")


def render(root: Path) -> str:
    """``reports/study.md``: the title and :func:`tables`."""
    return "# The study\n\n" + tables(root)


def tables(root: Path) -> str:
    """The study's sections (docs/results.md holds them too, generated)."""
    params = read_params_file(root / "params.yaml")
    cfg, study = ReportConfig.model_validate(params["report"]), params["study"]
    level, draws = float(study["interval"]), int(study["bootstrap"])
    runs = load(root)
    if not runs:
        return "No experiment kept yet: run `make study`.\n"
    leads = sorted({lead for lead, _ in runs})
    arms = [a for a in study["arms"] if any((lead, a) for lead in leads if (lead, a) in runs)]
    lines = [f"Leads {', '.join(map(str, leads))} x arms {', '.join(arms)} x seeds; each number is the mean over "
             f"seeds with its {level:.0%} t interval [low, high] and the seeds' range. Written by "
             "`python -m climemu.report.study` from `reports/study/` (`tools/study.py`).", "",
             "## Skill and the gate", "",
             "| lead | arm | seeds | MSE / truth's | MSE / damped persistence's | MSE / LIM's | captured share | gate |",
             "|---|---|---|---|---|---|---|---|"]
    judged, sk_all, ms_all = {}, {}, {}
    for lead in leads:
        for arm in arms:
            if (lead, arm) not in runs:
                continue
            sk = sk_all[lead, arm] = skill(runs[lead, arm], level)
            ms_all[lead, arm] = measures(runs[lead, arm], level)
            judged[lead, arm] = gate(sk, lead == leads[0], cfg.captured_min)
            lines.append(f"| {lead} | {arm} | {len(runs[lead, arm])} | {_fmt(sk['mse_over_truth'])} "
                         f"| {_fmt(sk['mse_over_damped'])} | {_fmt(sk['mse_over_lim'])} | {_fmt(sk['captured'])} "
                         f"| {judged[lead, arm]} |")
    lines += ["", "## Findings", "",
              "Only arms the gate judges are decided; the others show their values.", "",
              "| finding | lead | arm | value | verdict |", "|---|---|---|---|---|"]
    for lead in leads:
        for arm in arms:
            if (lead, arm) not in ms_all:
                continue
            m, ok = ms_all[lead, arm], judged[lead, arm] == "judged"
            rows = [(f"1: local (largest r90 <= {cfg.local_km:g} km)", m["r90_max_km"], cfg.local_km, False, 0),
                    (f"3: depends on location (curve spread > {cfg.spread_max:g})", m["curve_spread"],
                     cfg.spread_max, True, 4),
                    (f"4: teleconnection (source-box share >= {cfg.tele_share_min:g})", m["source_box_share"],
                     cfg.tele_share_min, True, 4)]
            for label, iv, threshold, above, digits in rows:
                verdict = decide(iv, threshold, above) if ok else "not judged"
                lines.append(f"| {label} | {lead} | {arm} | {_fmt(iv, digits)} | {verdict} |")
    if len(leads) >= 2:
        lines += ["", f"Finding 2 (reach grows): the share of months -13 and earlier at lead {leads[-1]} over "
                  f"lead {leads[0]}, at least {cfg.reach_ratio_min:g}x and {cfg.reach_share_min:g} "
                  f"(bootstrap over seeds, {draws} draws). Beside it the share at every lead (mean over seeds, "
                  f"leads {', '.join(map(str, leads))}), and the exact contributions' at the same cells and samples: "
                  "what the rule would read in the truth.", "",
                  "| arm | cell | ratio | share at the longest lead | share by lead | truth's share by lead | verdict |",
                  "|---|---|---|---|---|---|---|"]
        for arm in arms:
            first, last = (leads[0], arm), (leads[-1], arm)
            if first not in ms_all or last not in ms_all:
                continue
            ok = judged[first] == "judged" and judged[last] == "judged"
            for key in [k for k in ms_all[last] if k.startswith("share_before_minus12.")]:
                top = [r["aggregate"]["attribution"]["cells"][key.split(".", 1)[1]]["share_before_minus12"]
                       for r in runs[last]]
                bottom = [r["aggregate"]["attribution"]["cells"][key.split(".", 1)[1]]["share_before_minus12"]
                          for r in runs[first]]
                ratio = ratio_interval(top, bottom, level, draws)
                share = ms_all[last][key]
                verdict = "not judged"
                if ok:
                    grows, enough = decide(ratio, cfg.reach_ratio_min), decide(share, cfg.reach_share_min)
                    verdict = ("yes" if grows == enough == "yes" else "no" if "no" in (grows, enough)
                               else "undecided")
                cell = key.split(".", 1)[1]
                by_lead = " / ".join(f"{_share(runs.get((lead, arm), []), 'attribution', cell):.3f}" for lead in leads)
                truth = " / ".join(f"{_share(runs.get((lead, arm), []), 'truth', cell):.3f}" for lead in leads)
                lines.append(f"| {arm} | {cell} | {_fmt(ratio, 2)} | {_fmt(share, 4)} | {by_lead} | {truth} "
                             f"| {verdict} |")
    lines += ensemble_section(load_maps(root), level)
    lines += cost_section(root)
    return "\n".join(lines) + "\n"


def _share(runs: list[dict], part: str, cell: str) -> float:
    """Mean over ``runs`` of the share of months -13 and earlier at ``cell`` in the aggregate's
    ``part`` (attribution or truth); NaN where none has it."""
    v = [r["aggregate"][part]["cells"][cell]["share_before_minus12"] for r in runs
         if cell in r["aggregate"].get(part, {}).get("cells", {})]
    return float(np.mean(v)) if v else float("nan")


def cost_section(root: Path, pattern: str = f"{STUDY}/lead-*/*/seed-*") -> list[str]:
    """The measured cost of the kept folders matching ``pattern`` (the study's; the controls' too):
    each one's wall time from clone to kept (``wall.txt``, tools/experiments.py)."""
    folders = [f for f in sorted(root.glob(pattern)) if (f / "commit.txt").exists()]
    walls = [(f / "wall.txt").read_text().split() for f in folders if (f / "wall.txt").exists()]
    if not walls:
        return ["", "## Cost", "", "No kept experiment records its wall time yet (`wall.txt`)."]
    seconds = np.array([float(w[0]) for w in walls])
    cores = sorted({w[3] for w in walls})
    return ["", "## Cost", "",
            f"{len(walls)} of the {len(folders)} kept experiments record their wall time (`wall.txt`: from clone to "
            f"kept folder, on {' or '.join(cores)} cores): {seconds.sum() / 3600:.2f} h in all, median "
            f"{np.median(seconds):.0f} s, range {seconds.min():.0f}-{seconds.max():.0f} s"
            + (f"; the other {len(folders) - len(walls)} (kept before folders recorded it) at the median, about "
               f"{(seconds.sum() + (len(folders) - len(walls)) * np.median(seconds)) / 3600:.2f} h for all "
               f"{len(folders)} (an estimate)" if len(walls) < len(folders) else "")
            + ". Times taken beside another job are longer; docs/performance.md says which were."]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path("."))
    args = ap.parse_args(argv)
    root = args.root
    markdown = render(root)
    write_text(markdown, root / PAGE)                       # atomic, as every write below
    level = float(read_params_file(root / "params.yaml")["study"]["interval"])
    table = curve_table(load_maps(root), level)
    png = None
    if not table.empty:
        write_csv(table, root / CURVES)
        figure(table, root / FIGURE, list(read_params_file(root / "params.yaml")["study"]["arms"]))
        png = (root / FIGURE).read_bytes()
    write_text(html(markdown, png), root / HTML)
    print(f"{PAGE}, {HTML}" + (f", {CURVES}, {FIGURE}" if png else "") + f": written from {root / STUDY}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
