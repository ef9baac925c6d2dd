"""PNG figures equivalent to the paper's Figs. 2-5 (seaborn/matplotlib, no display needed).

Every map shows the coastline (the ocean mask's edge) and uses a diverging colour map centred
on zero, so positive and negative contributions read the same way in every panel.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402

from climemu.attribution.aggregate import curves  # noqa: E402
from climemu.core.io import atomic_path  # noqa: E402

CMAP = "RdBu_r"


ZOOM_DEG = 15.0   # heatmaps are zoomed on the explained cell, as in the paper's Figs. 2-3


def _map(ax, field: xr.DataArray | np.ndarray, lat, lon, ocean, title: str, cell=None, symmetric=True,
         zoom: bool = False):
    values = np.asarray(field, dtype=float)
    vmax = np.nanmax(np.abs(values)) or 1.0
    kw = {"vmin": -vmax, "vmax": vmax, "cmap": CMAP} if symmetric else {"cmap": "viridis"}
    im = ax.pcolormesh(lon, lat, values, shading="nearest", **kw)
    ax.contour(lon, lat, ocean.astype(float), levels=[0.5], colors="k", linewidths=0.6)
    if cell is not None:
        ax.plot(cell[1], cell[0], marker="x", color="lime", ms=7, mew=2)
        if zoom:
            ax.set_xlim(cell[1] - ZOOM_DEG, cell[1] + ZOOM_DEG)
            ax.set_ylim(cell[0] - ZOOM_DEG, cell[0] + ZOOM_DEG)
    ax.set_title(title, fontsize=8)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=6)
    plt.colorbar(im, ax=ax, shrink=0.7).ax.tick_params(labelsize=6)


def _save(fig, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)


def fig2_methods(instance: xr.Dataset, path: str | Path, cell: str | None = None) -> None:
    """Methods side by side for one cell at months -36 and -1 (paper Fig. 2), zoomed in.

    Default cell: the first ocean cell of the instance explanation (a land cell has no truth).
    """
    ocean_cells = [str(c) for c, land in zip(instance["cell"].values, instance["cell_is_land"].values)
                   if not land]
    cell = cell or (ocean_cells or [str(instance["cell"].values[0])])[0]
    c = instance.sel(cell=cell)
    lat, lon, ocean = instance["lat"], instance["lon"], instance["ocean"].values
    methods = list(instance["method"].values)
    n_col = max(4, len(methods))
    fig, axes = plt.subplots(3, n_col, figsize=(3.2 * n_col, 7.5), layout="constrained")
    at = (float(c["cell_lat"]), float(c["cell_lon"]))
    for ax, (name, field) in zip(axes[0], [("target", instance["target"]), ("output", instance["output"]),
                                          ("error", instance["output"] - instance["target"]),
                                          ("input month -36", instance["input"].sel(month=-36))]):
        _map(ax, field, lat, lon, ocean, name, at)
    for ax in axes[0][4:]:
        ax.axis("off")
    for k, m in enumerate(methods):
        for row, month in ((1, -36), (2, -1)):
            _map(axes[row][k], c["attribution"].sel({"method": m, "month": month}), lat, lon, ocean,
                 f"{m}, month {month}", at, zoom=True)
    fig.suptitle(f"Cell {cell} ({at[0]:.1f}N, {at[1]:.1f}E): methods compared (cf. paper Fig. 2)")
    _save(fig, path)


def fig3_instance(instance: xr.Dataset, method: str, path: str | Path) -> None:
    """Each instance cell: heatmap at its most important month and its monthly curve (Fig. 3)."""
    lat, lon, ocean = instance["lat"], instance["lon"], instance["ocean"].values
    cells = list(instance["cell"].values)
    fig, axes = plt.subplots(len(cells), 3, figsize=(13, 3.3 * len(cells)), squeeze=False,
                             layout="constrained")
    for row, name in enumerate(cells):
        a = instance["attribution"].sel({"method": method, "cell": name})
        curve = np.abs(a).sum(("lat", "lon"))
        top = int(curve["month"].values[curve.values.argmax()])
        at = (float(a["cell_lat"]), float(a["cell_lon"]))
        kind = "land" if bool(a["cell_is_land"]) else ("positive" if float(a["target_value"]) >= 0 else "negative")
        _map(axes[row][0], a.sel(month=top), lat, lon, ocean, f"{name} ({kind}): {method}, month {top}", at,
             zoom=True)
        _map(axes[row][1], instance["input"].sel(month=top), lat, lon, ocean, f"input, month {top}", at)
        sns.lineplot(x=curve["month"].values, y=curve.values, ax=axes[row][2], marker="o")
        axes[row][2].set(xlabel="input month", ylabel="sum |attribution|", title=f"{name}: monthly contribution")
    fig.suptitle("Instance explanation (cf. paper Fig. 3)")
    _save(fig, path)


def fig4_group(group: xr.Dataset, path: str | Path) -> None:
    """Group means and monthly curves per cell (paper Fig. 4)."""
    lat, lon, ocean = group["lat"], group["lon"], group["ocean"].values
    first = group.isel(cell=0)
    at = (float(first["cell_lat"]), float(first["cell_lon"]))
    fig, axes = plt.subplots(3, 3, figsize=(14, 10), layout="constrained")
    panels = [("mean target", group["mean_target"]), ("mean output", group["mean_output"]),
              ("mean error", group["mean_error"]), ("mean input, month -36", group["mean_input_first"]),
              (f"{first['cell'].item()}: mean positive, month -1", first["positive"].sel(month=-1)),
              (f"{first['cell'].item()}: mean negative, month -1", first["negative"].sel(month=-1))]
    for ax, (title, field) in zip(axes.flat, panels):
        _map(ax, field, lat, lon, ocean, title, at)
    c = curves(group)
    for ax, sign in zip(axes[2], ("positive", "negative", "all")):
        for name in c["cell"].values:
            ax.plot(c["month"], c[sign].sel(cell=name), marker=".", label=str(name))
        if "truth_absolute" in group:
            t = curves(group, truth=True)
            for name in t["cell"].values:
                ax.plot(t["month"], t[sign].sel(cell=name), ls="--", lw=0.8, label=f"{name} (truth)")
        ax.set(xlabel="input month", ylabel="mean sum |attribution|", title=f"monthly contribution: {sign}")
        ax.legend(fontsize=6)
    fig.suptitle(f"Group explanation over {group.attrs['n_samples']} training samples, "
                 f"{group.attrs['method']}, lead {group.attrs['lead']} (cf. paper Fig. 4)")
    _save(fig, path)


def fig5_ablation(panels: dict[str, np.ndarray], lat, lon, ocean, box_outline, path: str | Path) -> None:
    """Ablated input, output, output after ablation, difference (paper Fig. 5)."""
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.6), layout="constrained")
    for ax, (title, field) in zip(axes, panels.items()):
        _map(ax, field, lat, lon, ocean, title)
        (la0, la1), (lo0, lo1) = box_outline
        ax.plot([lo0, lo1, lo1, lo0, lo0], [la0, la0, la1, la1, la0], color="magenta", lw=1)
    fig.suptitle("Ablation (cf. paper Fig. 5)")
    _save(fig, path)


def fig1_test_sample(target: xr.DataArray, forecast: xr.DataArray, ocean, when: str, path: str | Path) -> None:
    """Target, prediction and error of one test sample in degC, land masked (paper Fig. 1)."""
    lat, lon = target["lat"], target["lon"]
    land_nan = lambda f: np.where(ocean, f, np.nan)   # noqa: E731 - the paper's post-processing mask
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6), layout="constrained")
    for ax, (title, field) in zip(axes, [("target anomaly (degC)", target), ("prediction (degC)", forecast),
                                         ("error (degC)", forecast - target)]):
        _map(ax, land_nan(field), lat, lon, ocean, title)
    fig.suptitle(f"Test sample, target month {when} (cf. paper Fig. 1)")
    _save(fig, path)


def skill_map(model_corr: xr.DataArray, reference_corr: xr.DataArray, ocean, path: str | Path,
              reference: str = "damped persistence") -> None:
    """Where the emulator beats a baseline: time correlation of the model minus the baseline's."""
    fig, ax = plt.subplots(figsize=(7, 3.8), layout="constrained")
    _map(ax, np.where(ocean, model_corr - reference_corr, np.nan), model_corr["lat"], model_corr["lon"],
         ocean, f"test time correlation: emulator minus {reference}")
    _save(fig, path)


def basin_maps(basin: xr.Dataset, lat, lon, ocean, path: str | Path) -> None:
    """The basin study: per explained cell, findings 1-2 as maps, and every normalised curve."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), layout="constrained")
    panels = (("radius50_km", "locality: radius holding 50% of |attribution| (km)"),
              ("efolding_month", "lead reach: e-folding month of the monthly curve"),
              ("share_month_minus1", "share of month -1 in |attribution|"))
    for ax, (key, title) in zip(axes.flat, panels):
        ax.contour(lon, lat, np.asarray(ocean, dtype=float), levels=[0.5], colors="k", linewidths=0.6)
        points = ax.scatter(basin["cell_lon"], basin["cell_lat"], c=basin[key], s=14, cmap="viridis")
        fig.colorbar(points, ax=ax, shrink=0.8)
        ax.set_title(title, fontsize=8)
    ax = axes.flat[3]
    months = basin["month"].values
    ax.plot(months, basin["curve"].values.T, color="0.6", lw=0.5)
    ax.plot(months, basin["curve"].median("cell").values, color="k", lw=2, label="median over cells")
    ax.set(xlabel="input month", ylabel="share of |attribution|",
           title=f"normalised monthly curves of {basin.sizes['cell']} cells (finding 3)")
    ax.title.set_fontsize(8)
    ax.legend(fontsize=7)
    _save(fig, path)


def message_figure(text: str, path: str | Path) -> None:
    """A figure that only says why there is nothing to draw (a declared output must exist)."""
    fig, ax = plt.subplots(figsize=(6, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=9, wrap=True)
    _save(fig, path)
