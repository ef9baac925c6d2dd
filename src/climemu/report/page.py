"""``reports/index.html``: the findings, the figures and the curves of one or more runs on one page.

The page is self-contained and makes no network request (``dvc plots show`` loads Vega from a CDN
and shows nothing offline): the figures are embedded as base64 PNG, the Vega-Lite plots (monthly
contribution, skill against lead, training curve) are drawn in the browser by the Vega runtime that
``vl-convert-python`` bundles (:func:`vl_convert.javascript_bundle`), inlined in a ``<script>``.
The findings are ``reports/findings.md`` rendered with markdown-it-py; they carry the methods'
table and the evidence. Several experiments side by side: ``python -m climemu.report.render --page``.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from climemu.core import paths

# Figure path -> caption, in reading order (paper figure numbers where there is one).
FIGURES = {
    paths.FIG1: "Fig. 1: a test sample, target against prediction",
    paths.SKILL_MAP: "Skill by cell (test split)",
    paths.FIG2: "Fig. 2: the methods side by side for one cell",
    paths.FIG3: "Fig. 3: one instance explained",
    paths.FIG4: "Fig. 4: the group method's mean heatmaps",
    paths.FIG5: "Fig. 5: ablation",
    paths.BASIN_FIGURE: "Measures at every basin cell",
    paths.SCORE_FIGURE: "Every method against the exact contributions",
    paths.SANITY_FIGURE: "Sanity checks (cascading randomisation)",
    paths.FAITHFULNESS_FIGURE: "Deletion curves: faithfulness to the network",
}
PLOT_IDS = ("contribution", "skill", "training")


@dataclass
class Experiment:
    """What the page shows of one run: the report stage's and the plots' files."""
    name: str
    findings: str = ""                                    # markdown
    contribution: pd.DataFrame = field(default_factory=pd.DataFrame)
    skill: pd.DataFrame = field(default_factory=pd.DataFrame)
    train_curve: pd.DataFrame = field(default_factory=pd.DataFrame)
    figures: dict[str, bytes] = field(default_factory=dict)   # path -> PNG bytes


def read_experiment(name: str, read: Callable[[str], bytes | None]) -> Experiment:
    """An :class:`Experiment` from ``read(path) -> bytes or None`` (a file missing at that run)."""
    def table(path: str) -> pd.DataFrame:
        data = read(path)
        return pd.read_csv(io.BytesIO(data)) if data else pd.DataFrame()

    findings = read(paths.FINDINGS)
    figures = {p: data for p in FIGURES if (data := read(p))}
    return Experiment(name, findings.decode() if findings else "", table(paths.CONTRIBUTION),
                      table(paths.SKILL), table(paths.TRAIN_CURVE), figures)


def workspace_reader(root: str | Path = ".") -> Callable[[str], bytes | None]:
    def read(path: str) -> bytes | None:
        file = Path(root) / path
        return file.read_bytes() if file.is_file() else None
    return read


# --- Vega-Lite specs: data inlined, one colour per experiment ------------------------------------

def _values(experiments: list[Experiment], attr: str) -> list[dict]:
    frames = [getattr(e, attr).assign(experiment=e.name) for e in experiments
              if not getattr(e, attr).empty]
    if not frames:
        return []
    return json.loads(pd.concat(frames, ignore_index=True).to_json(orient="records"))


def contribution_spec(experiments: list[Experiment]) -> dict:
    """Monthly contribution curves (sign = all), one panel per explained cell and variant."""
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Monthly contribution: the group method against the truth",
        "data": {"values": _values(experiments, "contribution")},
        "transform": [{"filter": "datum.sign == 'all'"}],
        "facet": {"row": {"field": "variant", "type": "nominal", "sort": ["abs", "signed", "block"]},
                  "column": {"field": "cell", "type": "nominal"}},
        "spec": {"width": 220, "height": 150, "mark": {"type": "line", "point": True},
                 "encoding": {
                     "x": {"field": "month", "type": "quantitative", "title": "input month"},
                     "y": {"field": "normalised", "type": "quantitative",
                           "title": "share of the curve per month"},
                     "color": {"field": "experiment", "type": "nominal"},
                     "strokeDash": {"field": "method", "type": "nominal"},
                     "tooltip": [{"field": f} for f in
                                 ("experiment", "method", "variant", "cell", "month", "normalised")]}},
        "resolve": {"scale": {"y": "independent"}},
    }


def skill_spec(experiments: list[Experiment]) -> dict:
    """Time anomaly correlation on the test split against lead, every predictor."""
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Skill against lead (test split)",
        "data": {"values": _values(experiments, "skill")},
        "transform": [{"filter": "datum.split == 'test'"}],
        "width": 420, "height": 260, "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "lead", "type": "quantitative", "title": "lead (months)"},
            "y": {"field": "acc_time", "type": "quantitative", "title": "time anomaly correlation"},
            "color": {"field": "predictor", "type": "nominal"},
            "strokeDash": {"field": "experiment", "type": "nominal"},
            "tooltip": [{"field": f} for f in ("experiment", "predictor", "lead", "acc_time", "rmse_degC")]},
    }


def training_spec(experiments: list[Experiment]) -> dict:
    """Training and validation loss per epoch."""
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Training curve",
        "data": {"values": _values(experiments, "train_curve")},
        "transform": [{"fold": ["train_loss", "val_loss"], "as": ["loss", "value"]}],
        "width": 420, "height": 260, "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "epoch", "type": "quantitative"},
            "y": {"field": "value", "type": "quantitative", "title": "masked MSE (normalised units)"},
            "color": {"field": "experiment", "type": "nominal"},
            "strokeDash": {"field": "loss", "type": "nominal"},
            "tooltip": [{"field": f} for f in ("experiment", "loss", "epoch", "value")]},
    }


# --- HTML ---------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1400px;
padding:1rem 1.5rem;line-height:1.45;color:#222}
h1{font-size:1.6rem}h2{font-size:1.3rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
nav a{margin-right:1rem}
.cols{display:grid;gap:1.5rem;grid-template-columns:repeat(var(--n),minmax(0,1fr))}
.plot{overflow-x:auto;margin:1rem 0}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.2rem .45rem;vertical-align:top}th{background:#f3f3f3}
figure{margin:0 0 1.5rem}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85rem;color:#555}code{font-size:.9em}
"""


def findings_html(markdown: str) -> str:
    """``reports/findings.md`` as HTML: CommonMark with tables (markdown-it-py), no raw HTML."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)


def skill_table(experiments: list[Experiment]) -> str:
    """Test-split skill of every predictor, one row per experiment, lead and predictor."""
    rows = []
    for e in experiments:
        if e.skill.empty:
            continue
        for r in e.skill[e.skill["split"] == "test"].itertuples():
            rows.append(f"<tr><td>{html.escape(e.name)}</td><td>{r.lead}</td>"
                        f"<td>{html.escape(str(r.predictor))}</td><td>{r.rmse_degC:.3f}</td>"
                        f"<td>{r.acc_pattern:.3f}</td><td>{r.acc_time:.3f}</td>"
                        f"<td>{r.skill_vs_persistence:.1f}</td></tr>")
    if not rows:
        return "<p>No skill table: the evaluate stage has not run.</p>"
    return ("<table><thead><tr><th>experiment</th><th>lead</th><th>predictor</th>"
            "<th>RMSE (degC)</th><th>pattern ACC</th><th>time ACC</th>"
            "<th>skill vs persistence (%)</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _png(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _columns(experiments: list[Experiment], cell: Callable[[Experiment], str]) -> str:
    return (f'<div class="cols" style="--n:{len(experiments)}">'
            + "".join(f"<div><h3>{html.escape(e.name)}</h3>{cell(e)}</div>" for e in experiments)
            + "</div>")


def _figures(e: Experiment) -> str:
    return "".join(f'<figure><img alt="{html.escape(caption)}" src="{_png(e.figures[p])}">'
                   f"<figcaption>{html.escape(caption)}</figcaption></figure>"
                   for p, caption in FIGURES.items() if p in e.figures) or "<p>No figures.</p>"


def _script_json(obj) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>`` can close it early)."""
    return json.dumps(obj).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page(experiments: list[Experiment], title: str = "climemu: the paper's findings, tested") -> str:
    """The whole page as one HTML string, with no external resource."""
    import vl_convert as vlc

    specs = {"contribution": contribution_spec(experiments), "skill": skill_spec(experiments),
             "training": training_spec(experiments)}
    # The runtime's default snippet puts vegaEmbed on window; the plots draw as SVG.
    runtime = vlc.javascript_bundle().replace("</script", "<\\/script")
    draw = (f"const specs = {_script_json(specs)};\n"
            "for (const [id, spec] of Object.entries(specs)) {\n"
            "  vegaEmbed('#plot-' + id, spec, {renderer: 'svg', actions: false})\n"
            "    .catch(err => { document.getElementById('plot-' + id).textContent = "
            "'plot failed: ' + err; });\n}\n")
    names = ", ".join(e.name for e in experiments)
    plots = "".join(f'<div class="plot" id="plot-{pid}" data-plot="{pid}"></div>' for pid in PLOT_IDS)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline' 'unsafe-eval'">
<title>{html.escape(title)}</title><style>{CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>Experiments: <b>{html.escape(names)}</b>. Written by the <code>report</code> stage
(<code>python -m climemu.report.render --page</code> for several experiments); it needs no network.</p>
<nav><a href="#plots">Plots</a><a href="#skill">Skill table</a><a href="#findings">Findings</a>
<a href="#figures">Figures</a></nav>
<h2 id="plots">Plots</h2>
{plots}
<h2 id="skill">Skill (test split)</h2>
{skill_table(experiments)}
<h2 id="findings">Findings and their evidence</h2>
{_columns(experiments, lambda e: findings_html(e.findings) if e.findings else "<p>No findings.</p>")}
<h2 id="figures">Figures</h2>
{_columns(experiments, _figures)}
<script>{runtime}</script>
<script>{draw}</script>
</body></html>
"""
