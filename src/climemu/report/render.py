"""Offline rendering of ``dvc plots``: Vega-Lite specs to SVG and PNG with no network.

``dvc plots show`` writes an HTML page that loads Vega from a CDN, which shows nothing
offline. This renders the same specs with ``vl-convert`` (Vega bundled in the wheel):

    python -m climemu.report.render                       # the workspace, like `dvc plots show`
    python -m climemu.report.render HEAD exp-lead6 ...    # revisions side by side, like `dvc plots diff`
    python -m climemu.report.render --page exp-lead1 exp-lead6   # one offline page, side by side

``--page`` writes ``<out>/index.html``: the report stage's page (climemu.report.page) with each
revision or experiment as a column of findings and figures and a colour in the plots.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
from pathlib import Path

import vl_convert as vlc

from climemu.core.io import atomic_path, write_text
from climemu.report.page import page, read_experiment, workspace_reader


def dvc_plot_specs(revisions: list[str]) -> dict:
    """``dvc plots show/diff --json`` output: plot id -> list of rendered entries."""
    cmd = ["dvc", "plots", "diff", *revisions, "--json"] if revisions else ["dvc", "plots", "show", "--json"]
    shown = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    return shown.get("data", shown)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


def render(specs: dict, out: Path) -> list[Path]:
    """Write one SVG and one PNG per Vega plot (images are copied); returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for plot_id, entries in specs.items():
        for entry in entries:
            revs = "_".join(entry.get("revisions", []))
            stem = _safe(Path(plot_id).stem) + (f"_{_safe(revs)}" if len(entries) > 1 else "")
            if entry.get("type") == "vega":
                spec = entry["content"]
                for suffix, convert in ((".svg", vlc.vegalite_to_svg), (".png", vlc.vegalite_to_png)):
                    path = out / f"{stem}{suffix}"
                    data = convert(spec)
                    with atomic_path(path) as tmp:
                        (tmp.write_text if isinstance(data, str) else tmp.write_bytes)(data)
                    written.append(path)
            elif entry.get("type") == "image" and Path(entry.get("url", "")).is_file():
                path = out / f"{stem}{Path(entry['url']).suffix}"
                with atomic_path(path) as tmp:
                    shutil.copyfile(entry["url"], tmp)
                written.append(path)
    return written


def revision_reader(rev: str):
    """``read(path)`` of a file as committed at a git revision or DVC experiment (None if absent)."""
    import dvc.api
    from dvc.exceptions import DvcException

    def read(path: str) -> bytes | None:
        try:
            return dvc.api.read(path, rev=rev, mode="rb")
        except (FileNotFoundError, DvcException):
            return None
    return read


def write_page(revisions: list[str], out: Path) -> Path:
    """One page with the given revisions side by side (the workspace when none is given)."""
    experiments = ([read_experiment(rev, revision_reader(rev)) for rev in revisions] if revisions
                   else [read_experiment("workspace", workspace_reader())])
    path = out / "index.html"
    write_text(page(experiments), path)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revisions", nargs="*", help="git revisions or experiment names (default: workspace)")
    parser.add_argument("--out", default="dvc_plots_offline", help="output folder")
    parser.add_argument("--page", action="store_true",
                        help="write one offline HTML page (index.html) with the revisions side by side")
    args = parser.parse_args(argv)
    if args.page:
        print(write_page(args.revisions, Path(args.out)))
        return
    for path in render(dvc_plot_specs(args.revisions), Path(args.out)):
        print(path)


if __name__ == "__main__":
    main()
