"""Figures of the checks: methods against the truth (score) and the sanity checks (sanity).

Same map style as :mod:`climemu.report.figures` (diverging colours centred on zero, coastline).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import seaborn as sns
import xarray as xr

from climemu.report.figures import _map, _save, plt


def fig_score(ds: xr.Dataset, path: str | Path) -> None:
    """Methods side by side, truth in the first column (the paper's Fig. 2, now with the answer).

    One row per cell: the first sample's heatmap summed over months, zoomed on the cell. The last
    row: the per-sample Pearson correlation with the truth, over every ocean input and over the
    truth's support, per method (all cells pooled).
    """
    methods = [str(m) for m in ds["method"].values]
    cells = [str(c) for c in ds["cell"].values]
    lat, lon, ocean = ds["lat"], ds["lon"], ds["ocean"].values
    n_col = len(methods) + 1
    fig = plt.figure(figsize=(3.0 * n_col, 2.9 * (len(cells) + 1)), layout="constrained")
    grid = fig.add_gridspec(len(cells) + 1, n_col)
    for row, name in enumerate(cells):
        c = ds.sel(cell=name)
        at = (float(c["cell_lat"]), float(c["cell_lon"]))
        _map(fig.add_subplot(grid[row, 0]), c["truth_example"], lat, lon, ocean, f"{name}: truth", at, zoom=True)
        for k, m in enumerate(methods, start=1):
            _map(fig.add_subplot(grid[row, k]), c["example"].sel({"method": m}), lat, lon, ocean, f"{name}: {m}",
                 at, zoom=True)
    frames = [pd.DataFrame({"method": m, "inputs": label, "pearson": ds[key].sel({"method": m}).values.ravel()})
              for m in methods for key, label in (("pearson", "all ocean"), ("pearson_support", "truth's support"))]
    table = pd.concat(frames, ignore_index=True).dropna()
    box_ax = fig.add_subplot(grid[-1, :])
    sns.boxplot(data=table, x="method", y="pearson", hue="inputs", ax=box_ax)
    box_ax.axhline(0, color="k", lw=0.5)
    box_ax.set(ylabel="Pearson r with truth, per sample", xlabel="")
    fig.suptitle(f"Methods against the exact contribution (sum over months, first sample); "
                 f"lead {ds.attrs['lead']}, {ds.attrs['n_samples']} training samples per cell")
    _save(fig, path)


def fig_sanity(ds: xr.Dataset, path: str | Path) -> None:
    """Rank correlation between trained and re-initialised heatmaps along the cascade, per method;
    and the normalised monthly curves of the trained and the fully randomised network."""
    steps = [str(s) for s in ds["step"].values]
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.2), layout="constrained")
    for ax, key, title in ((axes[0], "spearman", "signed maps"), (axes[1], "spearman_abs", "|maps|")):
        med = ds[key].median("sample", skipna=True)
        for m in ds["method"].values:
            ax.plot(steps, med.sel({"method": m}).values, marker="o", label=str(m))
        ax.axhline(0, color="k", lw=0.5)
        ax.set(ylim=(min(-0.25, float(med.min()) - 0.05), 1.05), xlabel="re-initialised from the output down to",
               ylabel="Spearman r, trained vs randomised", title=f"cascading randomisation: {title}")
        ax.tick_params(axis="x", rotation=30)
    axes[0].legend(fontsize=7)
    curves = ds["absolute"].sum(("lat", "lon"))
    curves = curves / curves.sum("month")
    for k, m in enumerate(ds["method"].values):
        colour = f"C{k}"
        axes[2].plot(ds["month"], curves.sel({"method": m, "network": "trained"}), color=colour, label=f"{m}")
        axes[2].plot(ds["month"], curves.sel({"method": m, "network": "randomised"}), color=colour, ls="--")
    axes[2].set(xlabel="input month", ylabel="share of |attribution|",
                title="monthly curve: trained (solid), random weights (dashed)")
    axes[2].legend(fontsize=7)
    fig.suptitle(f"Sanity checks (Adebayo et al. 2018), cell {ds.attrs['cell']}, "
                 f"{ds.attrs['n_samples']} training samples, lead {ds.attrs['lead']}")
    _save(fig, path)



def fig_faithfulness(ds: xr.Dataset, path: str | Path) -> None:
    """Mean deletion curve per method, one panel per scale and baseline (the faithfulness stage)."""
    mean = ds["curve"].mean(("cell", "sample"))
    fig, axes = plt.subplots(1, ds.sizes["scale"] * ds.sizes["baseline"], figsize=(17, 4), layout="constrained",
                             sharey=True, squeeze=False)
    panels = [(s, b) for s in ds["scale"].values for b in ds["baseline"].values]
    for ax, (scale, base) in zip(axes[0], panels):
        for m in ds["method"].values:
            ax.plot(ds["fraction"], mean.sel({"method": m, "scale": scale, "baseline": base}), marker="o", label=str(m))
        ax.set(xscale="log", xlabel="fraction of units removed (most important first)",
               title=f"{scale} scale, {base} baseline")
        ax.axhline(0, color="k", lw=0.5)
    axes[0, 0].set(ylabel="output change toward the prediction's sign (degC)")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"Deletion curves, mean over {ds.sizes['cell']} cells x {ds.attrs['n_samples']} training samples, "
                 f"lead {ds.attrs['lead']}")
    _save(fig, path)
