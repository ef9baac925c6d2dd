"""Aggregation of hand-made group maps into curves and measures."""

import numpy as np
import xarray as xr

from climemu.attribution.aggregate import contribution_table, measures
from climemu.config import Box

LAT = 10.5 + np.arange(5)
LON = -50.5 + np.arange(6)


def _group(with_truth=True):
    """Two cells; all mass at the cell itself, month -1 twice month -2, nothing earlier."""
    pos = np.zeros((2, 36, 5, 6))
    neg = np.zeros((2, 36, 5, 6))
    pos[0, 35, 2, 3], pos[0, 34, 2, 3] = 2.0, 1.0          # cell p at (2, 3)
    neg[1, 35, 0, 0], neg[1, 34, 0, 0] = -2.0, -1.0        # cell q at (0, 0)
    ds = xr.Dataset({"positive": (("cell", "month", "lat", "lon"), pos),
                     "negative": (("cell", "month", "lat", "lon"), neg),
                     "absolute": (("cell", "month", "lat", "lon"), pos - neg)},
                    coords={"cell": ["p", "q"], "month": np.arange(-36, 0), "lat": LAT, "lon": LON,
                            "cell_lat": ("cell", [LAT[2], LAT[0]]), "cell_lon": ("cell", [LON[3], LON[0]])},
                    attrs={"method": "deeplift", "n_samples": 4, "lead": 1})
    if with_truth:
        truth = pos.copy()
        truth[0, 35, 4, 5] = 1.0                            # the truth also reaches a far cell
        for k in ("positive", "absolute"):
            ds[f"truth_{k}"] = (("cell", "month", "lat", "lon"), truth if k == "positive" else truth - neg)
        ds["truth_negative"] = (("cell", "month", "lat", "lon"), neg)
        ds["truth_pearson"] = (("cell", "sample"), [[0.1, 0.2, 0.3, 0.4], [1, 1, 1, 1]])
        ds["truth_spearman"] = (("cell", "sample"), [[0.0, 0.5, 0.5, 1.0], [1, 1, 1, 1]])
    return ds


def test_contribution_table_long_form():
    t = contribution_table(_group(), lead=6)
    assert list(t.columns) == ["lead", "method", "cell", "sign", "month", "contribution", "normalised"]
    assert len(t) == 2 * 3 * 2 * 36          # method + truth, signs, cells, months
    row = t[(t.method == "deeplift") & (t.cell == "p") & (t.sign == "all")]
    assert row.contribution.iloc[-1] == 2.0 and row.normalised.iloc[-1] == 2 / 3
    assert (t.lead == 6).all()


def test_measures_by_hand():
    m = measures(_group(), source_box=Box(lat_min=14, lat_max=15, lon_min=-46, lon_max=-45))
    p = m["attribution"]["cells"]["p"]
    assert p["radius50_km"] == 0 and p["radius90_cells"] == 0
    assert p["share_month_minus1"] == 2 / 3
    # curve 2, 1, 0: below 2/e = 0.74 first at month -3; interpolated in log -> between -2 and -3
    assert -3 <= p["efolding_month"] <= -2
    assert p["source_box_share"] == 0.0
    # truth: 1 of 4 units of mass sits in the source box cell (4, 5) at lat 14.5, lon -45.5
    assert m["truth"]["cells"]["p"]["source_box_share"] == 0.25
    assert m["truth"]["cells"]["p"]["radius90_cells"] == 2
    # both cells decay identically in the attribution -> no spread
    assert m["attribution"]["curve_spread"] == 0.0
    a = m["agreement"]["p"]
    assert a["pearson_median"] == 0.25 and a["spearman_q25"] == 0.375
    # normalised curves: attribution (2/3, 1/3) vs truth (3/4, 1/4) -> L1 error 1/6
    np.testing.assert_allclose(a["curve_abs_error"], 1 / 6)


def test_measures_without_truth():
    m = measures(_group(with_truth=False))
    assert "truth" not in m and "agreement" not in m and m["n_samples"] == 4
