"""The generated sections of docs/results.md, docs/reliability.md and docs/measures.md, written from
committed metrics.

    python -m climemu.report.results            # rewrite the generated sections in place
    python -m climemu.report.results --check    # exit 1 if a section differs from what the metrics give

(``make results``.) A generated section sits between ``<!-- generated: NAME -->`` and
``<!-- end: NAME -->``; everything outside the markers is prose and stays as written.
tests/report/test_results.py fails when a committed page is not what this writes from the
committed ``metrics/*.json``, ``reports/seeds/`` (tools/seeds.py), ``reports/study/``
(tools/study.py) and ``reports/judges/``,
``reports/band/`` (tools/judges.py, :mod:`.power`), so no number of these sections is copied by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from climemu.core import paths
from climemu.report import controls, power, study
from climemu.report.findings import captured_share

PAGE = "docs/results.md"             # relative to the repository root, as the metrics' paths
ORDER = ("truth", "model", "shared_filter", "damped_persistence", "persistence", "lim", "climatology")
NAMES = {"model": "**network**", "shared_filter": "shared filter (linear, one for every cell)",
         "damped_persistence": "damped persistence", "lim": "LIM"}


def _read(root: Path, path: str) -> dict:
    return json.loads((root / path).read_text())


def _mse(split: dict) -> dict[str, float]:
    return {name: v["rmse_degC"] ** 2 for name, v in split.items()}


def default_run(root: Path) -> str:
    """Skill of the default run on the test split, its gate, why the LIM trails, and how much of the
    group method's maps flows through the skip path (metrics/skill.json, train.json, aggregate.json)."""
    skill, train, agg = (_read(root, p) for p in (paths.SKILL_METRICS, paths.TRAIN_METRICS,
                                                  paths.AGGREGATE_METRICS))
    test, val = _mse(skill["test"]), _mse(skill["val"])
    rows = ["| predictor | test RMSE (degC) | MSE / truth's | time ACC |", "|---|---|---|---|"]
    for name in [n for n in ORDER if n in test]:
        rows.append(f"| {NAMES.get(name, name)} | {test[name] ** 0.5:.4f} | {test[name] / test['truth']:.3f} "
                    f"| {skill['test'][name]['acc_time']:.3f} |")
    captured = captured_share(test)
    lines = [f"Lead {skill['lead']}, all ocean cells, test split; {train['n_train']} training windows, best "
             f"epoch {train['best_epoch']}, {train['n_params']:,} parameters, trained in {train['precision']} "
             "(no timings here: they differ between machines and runs, and a rerun must give this page).", "",
             *rows, "",
             f"The network captures **{captured:.1%}** of the predictable MSE, (MSE_climatology - MSE_network) / "
             "(MSE_climatology - MSE_truth); the report's skill gate asks for 90% and for a lower MSE than damped "
             "persistence and the LIM."]
    # The LIM forecasts inside its EOFs' span and climatology outside it, so no propagator can bring
    # its MSE below the share of the targets outside the span times climatology's MSE.
    share = skill["lim_span_share_val"]
    floor = (1 - share) * val["climatology"] / val["truth"]
    lines += ["", f"**Why the LIM trails damped persistence.** Validation chose {skill['lim_modes']} modes; those EOFs "
              f"hold {share:.1%} of the validation targets' sum of squares. Whatever its propagator, a forecast inside "
              f"that span misses the rest, so its validation MSE is at least {1 - share:.1%} of climatology's: "
              f"{floor:.2f} times the truth's, against {val['damped_persistence'] / val['truth']:.2f} for damped "
              f"persistence and {val['lim'] / val['truth']:.2f} for the LIM itself. Most of the generator's noise is "
              "spatially white (`data.synthetic.noise_white`), which no truncation to leading EOFs represents, "
              "while damped persistence forecasts every cell from its own past."]
    if "table1" in agg and "skip_share" in agg["table1"]:
        shares = agg["table1"]["skip_share"]
        whole, part = agg["attribution"]["cells"], agg["table1"]["cells"]
        lines += ["", f"**Through the skip path.** Share of the {agg['method']} maps' |mass| through the linear path, "
                  "and the 90% radius of the whole map and of Table 1's part, per group cell "
                  f"({agg['n_samples']} training samples):", "",
                  "| cell | through the path | r90 whole | r90 Table 1's part |", "|---|---|---|---|"]
        lines += [f"| {c} | {shares[c]:.1%} | {whole[c]['radius90_km']:.0f} km | {part[c]['radius90_km']:.0f} km |"
                  for c in whole]
    return "\n".join(lines)


SEEDS = "reports/seeds"        # tools/seeds.py: one folder per seed, metrics/*.json + findings.md


def _verdicts(findings: str) -> list[str]:
    """The verdicts of reports/findings.md's summary table (the first table, "| finding | this run |"),
    each cut at its first colon: the gate's "skilful: MSE ..." compares as "skilful"."""
    lines = findings.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| finding | this run |"))
    out = []
    for line in lines[start + 2:]:
        if not line.startswith("| "):
            break
        finding, verdict = (c.strip() for c in line.split("|")[1:3])
        out.append(f"{finding}: {verdict.split(':')[0]}")
    return out


def seed_spread(root: Path) -> str:
    """The default run's numbers at each seed of reports/seeds/ and their spread (max - min)."""
    folders = sorted((root / SEEDS).glob("seed-*"), key=lambda f: int(f.name.split("-")[1]))
    if not folders:
        return "No seeds in `reports/seeds/` yet: run `tools/seeds.py 0 1 2`, then `make results`."
    runs = {f.name: {n: json.loads((f / Path(p).name).read_text()) for n, p in
                     (("skill", paths.SKILL_METRICS), ("train", paths.TRAIN_METRICS),
                      ("agg", paths.AGGREGATE_METRICS), ("basin", paths.BASIN_METRICS),
                      ("score", paths.SCORE_METRICS))} for f in folders}
    commits = {(f / "commit.txt").read_text().strip()[:7] for f in folders}
    precisions = sorted({r["train"]["precision"] for r in runs.values()})

    def captured(r):
        return captured_share(_mse(r["skill"]["test"]))

    def ratio(rival):
        return lambda r: _mse(r["skill"]["test"])["model"] / _mse(r["skill"]["test"])[rival]

    quantities = [("test RMSE (degC)", lambda r: r["skill"]["test"]["model"]["rmse_degC"], "{:.5f}"),
                  ("val RMSE (degC)", lambda r: r["skill"]["val"]["model"]["rmse_degC"], "{:.5f}"),
                  ("captured share of the predictable MSE", captured, "{:.4f}"),
                  ("test MSE over damped persistence's", ratio("damped_persistence"), "{:.4f}"),
                  ("test MSE over the LIM's", ratio("lim"), "{:.4f}"),
                  ("test time ACC", lambda r: r["skill"]["test"]["model"]["acc_time"], "{:.3f}")]
    first = next(iter(runs.values()))
    for cell in first["agg"]["attribution"]["cells"]:
        for key, label, fmt in (("radius50_km", "r50 (km)", "{:.0f}"), ("radius90_km", "r90 (km)", "{:.0f}"),
                                ("share_month_minus1", "share month -1", "{:.4f}"),
                                ("share_before_minus12", "share months -13 and earlier", "{:.4f}"),
                                ("efolding_month", "e-folding month", "{:.2f}")):
            quantities.append((f"{label}, {cell}", lambda r, c=cell, k=key: r["agg"]["attribution"]["cells"][c][k], fmt))
        if "table1" in first["agg"]:
            quantities.append((f"r90 of Table 1's part (km), {cell}",
                               lambda r, c=cell: r["agg"]["table1"]["cells"][c]["radius90_km"], "{:.0f}"))
            quantities.append((f"share through the skip path, {cell}",
                               lambda r, c=cell: r["agg"]["table1"]["skip_share"][c], "{:.3f}"))
    quantities += [("curve spread (group cells)", lambda r: r["agg"]["attribution"]["curve_spread"], "{:.4f}"),
                   ("basin r50 median (km)", lambda r: r["basin"]["radius50_km"]["median"], "{:.0f}"),
                   ("basin curve spread", lambda r: r["basin"]["curve_spread"], "{:.4f}"),
                   (f"{first['agg']['method']} Pearson with the truth (median)",
                    lambda r: r["score"][r["agg"]["method"]]["all"]["pearson_median"], "{:.3f}"),
                   (f"{first['agg']['method']} Pearson on the truth's support (median)",
                    lambda r: r["score"][r["agg"]["method"]]["all"]["pearson_support_median"], "{:.3f}")]
    names = list(runs)
    rows = ["| quantity | " + " | ".join(names) + " | spread (max - min) |", "|---" * (len(names) + 2) + "|"]
    for label, get, fmt in quantities:
        values = [get(r) for r in runs.values()]
        rows.append(f"| {label} | " + " | ".join(fmt.format(v) for v in values)
                    + f" | {fmt.format(max(values) - min(values))} |")
    best = {n: min(_mse(r["skill"]["test"]).items(), key=lambda kv: kv[1])[0] for n, r in runs.items()}
    verdicts = {n: _verdicts((f / "findings.md").read_text()) for n, f in zip(names, folders)}
    same = len({tuple(v) for v in verdicts.values()}) == 1
    lines = [f"Commit {', '.join(sorted(commits))}; {len(names)} seeds (`seed`: the network's initialisation, the "
             "shuffling and the basin's cell sample; the data's own `data.synthetic.seed` unchanged), every other "
             f"param at its default; training in {' and '.join(precisions)}; "
             f"`tools/seeds.py {' '.join(n.split('-')[1] for n in names)}`.", "", *rows, "",
             "Lowest test MSE of all predictors: " + ", ".join(f"{n} {b}" for n, b in best.items()) + ".", "",
             "Verdicts of `reports/findings.md`: " + ("the same at every seed: " if same else "**they differ**: ")]
    for n in (names[:1] if same else names):
        lines += [("" if same else f"{n}: ") + "; ".join(verdicts[n]) + "."]
    return "\n".join(lines)


def study_tables(root: Path) -> str:
    """The study's tables (climemu.report.study, from reports/study/), their headings one level down."""
    return "\n".join("#" + line if line.startswith("## ") else line
                     for line in study.tables(root).rstrip("\n").splitlines())


def controls_table(root: Path) -> str:
    """The end-to-end controls' power table (climemu.report.controls, from reports/controls/)."""
    return controls.compute(root)[1].rstrip("\n")


PAGES = {"docs/results.md": {"default-run": default_run, "study": study_tables, "controls": controls_table}, "docs/reliability.md": {"seed-spread": seed_spread},
         "docs/measures.md": power.SECTIONS}
SECTIONS = PAGES[PAGE]


def render_page(text: str, root: Path, sections: dict | None = None) -> str:
    """``text`` with every generated section (of ``sections``; docs/results.md's by default)
    rewritten from the metrics under ``root``."""
    for name, make in (SECTIONS if sections is None else sections).items():
        pattern = re.compile(rf"(<!-- generated: {name} -->\n).*?(<!-- end: {name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"the page has no '<!-- generated: {name} -->' ... '<!-- end: {name} -->' "
                             "markers; add them where the section belongs")
        body = make(root)
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the page differs from the metrics")
    ap.add_argument("--root", type=Path, default=None, help="repository root (default: this one)")
    args = ap.parse_args(argv)
    root = args.root or paths.repository_root()
    stale = False
    for name, sections in PAGES.items():
        page = root / name
        if not page.exists() and name != PAGE:
            continue
        old = page.read_text()
        new = render_page(old, root, sections)
        if args.check:
            if new != old:
                print(f"{name}: generated sections are stale; run `make results`", file=sys.stderr)
                stale = True
            continue
        if new != old:
            tmp = page.with_suffix(".md.tmp")
            tmp.write_text(new)
            tmp.replace(page)                        # atomic: a killed run leaves the old page
        print(f"{name}: generated sections written from {root / 'metrics'} and {root / SEEDS}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
