"""reports/index.html: self-contained, every plot drawn in a real (headless) Chromium, no request.

The browser tests (marker ``browser``) use a ``chromium`` or ``chromium-browser`` on PATH and skip,
with the reason, where there is none: a test installs nothing (``make browser`` installs Debian's
``chromium``; .ci/run calls it before the tests). Chromium runs with an HTTP proxy on 127.0.0.1 that records every request:
a page that fetched anything (a CDN script, a font, an image) would show up there.
"""

from __future__ import annotations

import http.server
import io
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from climemu.core import paths
from climemu.report import page as page_mod
from tests.helpers import ROOT, serving

# Chromium's own traffic, not the page's: network time, the Google account, connectivity checks,
# and its push-messaging (GCM) channel, which a slow, loaded start opens before the page is done.
BROWSER_OWN_HOSTS = ("clients2.google.com", "accounts.google.com", "www.google.com",
                     "android.clients.google.com")
BROWSER_TIMEOUT_S = 120          # one Chromium run; the page draws in seconds
NO_BROWSER = "no headless Chromium found; install it with `make browser`"


def _png() -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 2], [0, 1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def experiment(name: str, shift: float = 0.0) -> page_mod.Experiment:
    months = np.arange(-36, 0)
    curve = np.exp(months / 6.0)
    contribution = pd.DataFrame([
        {"lead": 1, "method": method, "cell": cell, "variant": variant, "sign": sign,
         "month": int(m), "contribution": float(c), "normalised": float(c / curve.sum()) + shift}
        for method in ("deeplift", "truth") for cell in ("target_box", "subtropics")
        for variant in ("abs", "signed") for sign in ("all", "positive")
        for m, c in zip(months, curve)])
    skill = pd.DataFrame([{"lead": lead, "split": split, "predictor": pred, "rmse_degC": 0.1 * lead,
                           "acc_pattern": 0.9 - 0.1 * lead, "acc_time": 0.8 - 0.1 * lead + shift,
                           "skill_vs_persistence": 5.0}
                          for lead in (1, 3) for split in ("val", "test")
                          for pred in ("model", "persistence")])
    train = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [0.9, 0.5, 0.3],
                          "val_loss": [1.0, 0.6, 0.4 + shift]})
    findings = ("# Findings\n\n| finding | this run |\n|---|---|\n| importance is local | holds |\n\n"
                "## Every method against the truth\n\n| method | Pearson |\n|---|---|\n"
                "| deeplift | 0.34 |\n\n<script>alert('raw html is escaped')</script>\n")
    return page_mod.Experiment(name, findings, contribution, skill, train,
                               {paths.FIG1: _png(), paths.FIG4: _png()})


def test_page_is_self_contained_with_findings_tables_and_figures():
    text = page_mod.page([experiment("lead1")])
    # Nothing loads from elsewhere: no src/href to another origin, figures as data URLs.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text, re.I)
    assert text.count('src="data:image/png;base64,') == 2
    for pid in page_mod.PLOT_IDS:
        assert f'id="plot-{pid}"' in text
    assert "<th>method</th>" in text and "<td>deeplift</td>" in text       # markdown tables rendered
    assert "<script>alert" not in text and "&lt;script&gt;alert" in text   # findings' raw HTML escaped
    assert "<td>persistence</td><td>0.100</td>" in text.replace("<td>1</td>", "")  # skill table, test split


def test_script_json_cannot_close_the_script_element():
    assert "</script>" not in page_mod._script_json({"a": "</script><b>"})


def test_workspace_reader_reads_what_exists(tmp_path):
    (tmp_path / "plots").mkdir()
    experiment("x").train_curve.to_csv(tmp_path / paths.TRAIN_CURVE, index=False)
    e = page_mod.read_experiment("x", page_mod.workspace_reader(tmp_path))
    assert list(e.train_curve["epoch"]) == [1, 2, 3]
    assert e.skill.empty and e.findings == "" and e.figures == {}


# --- in a real browser --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chromium() -> str:
    """The headless Chromium on PATH; the test skips without one (it never installs it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip(NO_BROWSER)
    return found


@pytest.fixture
def recording_proxy():
    """An HTTP proxy on 127.0.0.1 that answers 403 to every request and records the page's."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _refuse(self):
            if not any(host in self.path.split("/")[:3] or self.path.startswith(host + ":")
                       for host in BROWSER_OWN_HOSTS):
                seen.append(f"{self.command} {self.path}")
            self.send_response(403)
            self.end_headers()

        do_GET = do_POST = do_HEAD = do_CONNECT = do_PUT = do_OPTIONS = _refuse

        def log_message(self, *args):
            pass

    with serving(Handler) as port:
        yield f"127.0.0.1:{port}", seen


def _run_chromium(binary: str, proxy: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--disable-extensions",
           "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
           f"--user-data-dir={profile}", f"--proxy-server=http://{proxy}",
           "--proxy-bypass-list=<-loopback>",          # loopback goes through the proxy too
           "--virtual-time-budget=20000", "--window-size=1366,2400", *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish within {BROWSER_TIMEOUT_S} s")


class PlotContents(HTMLParser):
    """Per plot container (``data-plot``): SVG elements and drawn paths/shapes inside it."""

    def __init__(self):
        super().__init__()
        self.stack: list[str | None] = []           # the plot each open element belongs to
        self.svg: dict[str, int] = {}
        self.marks: dict[str, int] = {}
        self.text: dict[str, str] = {}

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
            "track", "wbr"}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        current = a.get("data-plot") or (self.stack[-1] if self.stack else None)
        if current:
            if tag == "svg":
                self.svg[current] = self.svg.get(current, 0) + 1
            if tag in ("path", "line", "rect", "circle") and (a.get("d") or tag != "path"):
                self.marks[current] = self.marks.get(current, 0) + 1
        if tag not in self.VOID:
            self.stack.append(current)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1]:
            self.text[self.stack[-1]] = self.text.get(self.stack[-1], "") + data


def _pages(tmp_path) -> list[Path]:
    out = tmp_path / "index.html"
    out.write_text(page_mod.page([experiment("exp-a"), experiment("exp-b", shift=0.01)]))
    pages = [out]
    committed = ROOT / paths.PAGE
    if committed.is_file():                             # the pipeline's own page, where it exists
        pages.append(committed)
    return pages


@pytest.mark.browser
def test_every_plot_renders_offline_in_headless_chromium(chromium, recording_proxy, tmp_path):
    proxy, seen = recording_proxy
    for k, html_file in enumerate(_pages(tmp_path)):
        url = html_file.resolve().as_uri()
        dom = _run_chromium(chromium, proxy, tmp_path / f"profile{k}", "--dump-dom", url)
        assert dom.returncode == 0, dom.stderr[-2000:]
        parsed = PlotContents()
        parsed.feed(dom.stdout)
        for pid in page_mod.PLOT_IDS:
            assert parsed.svg.get(pid, 0) >= 1, (html_file, pid, parsed.text.get(pid, "")[:300])
            assert parsed.marks.get(pid, 0) >= 3, (html_file, pid)   # axes, lines: not an empty svg
            assert "plot failed" not in parsed.text.get(pid, "")
        shot = tmp_path / f"screenshot{k}.png"
        done = _run_chromium(chromium, proxy, tmp_path / f"profile{k}s", f"--screenshot={shot}", url)
        assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
        import matplotlib.image
        pixels = matplotlib.image.imread(shot)
        assert pixels.shape[1] == 1366 and pixels.std() > 0.01          # something was painted
        print(f"screenshot of {html_file}: {shot}")
    assert seen == [], f"requests left the page: {seen}"
    # The control: a page that loads Vega from a CDN, as `dvc plots show` writes, is caught.
    cdn = tmp_path / "cdn.html"
    cdn.write_text('<html><body><script src="https://cdn.jsdelivr.net/npm/vega@5"></script></body></html>')
    _run_chromium(chromium, proxy, tmp_path / "profile-cdn", "--dump-dom", cdn.resolve().as_uri())
    assert any("cdn.jsdelivr.net" in request for request in seen), seen
