"""Aggregation of hand-made group maps into curves and measures."""

import numpy as np
import pytest
import xarray as xr

from climemu.attribution.aggregate import contribution_table, measures, variant_measures
from climemu.attribution.cells import cell_coords, cell_index
from climemu.attribution.measures import MAP_MEASURES
from climemu.config import Box

LAT = 10.5 + np.arange(5)
LON = -50.5 + np.arange(6)


def _group(with_truth=True, variants=True):
    """Two cells; all mass at the cell itself, month -1 twice month -2, nothing earlier."""
    pos = np.zeros((2, 36, 5, 6))
    neg = np.zeros((2, 36, 5, 6))
    pos[0, 35, 2, 3], pos[0, 34, 2, 3] = 2.0, 1.0          # cell p at (2, 3)
    neg[1, 35, 0, 0], neg[1, 34, 0, 0] = -2.0, -1.0        # cell q at (0, 0)
    ds = xr.Dataset({"positive": (("cell", "month", "lat", "lon"), pos),
                     "negative": (("cell", "month", "lat", "lon"), neg),
                     "absolute": (("cell", "month", "lat", "lon"), pos - neg)},
                    coords={"month": np.arange(-36, 0), "lat": LAT, "lon": LON,
                            **cell_coords(["p", "q"], [(2, 3), (0, 0)], LAT, LON)},
                    attrs={"method": "deeplift", "n_samples": 4, "lead": 1})
    if with_truth:
        truth = pos.copy()
        truth[0, 35, 4, 5] = 1.0                            # the truth also reaches a far cell
        for k in ("positive", "absolute"):
            ds[f"truth_{k}"] = (("cell", "month", "lat", "lon"), truth if k == "positive" else truth - neg)
        ds["truth_negative"] = (("cell", "month", "lat", "lon"), neg)
        ds["truth_pearson"] = (("cell", "sample"), [[0.1, 0.2, 0.3, 0.4], [1, 1, 1, 1]])
        ds["truth_spearman"] = (("cell", "sample"), [[0.0, 0.5, 0.5, 1.0], [1, 1, 1, 1]])
    if variants:
        _add_variants(ds, with_truth)
    return ds


def _add_variants(ds, with_truth):
    """The variants' pieces, as explain writes them, with 2 x 2 blocks (2 x 3 blocks of the grid).

    Signed curve 1 on months -1 and -2; block map: 2 on month -1 in cell p's own block (1, 1),
    2 on month -2 in the block (0, 1) south of it (2 degrees of meridian between the centres).
    """
    curve = np.zeros((2, 36))
    curve[:, 34:] = 1.0
    blocks = np.zeros((2, 36, 2, 3))
    blocks[:, 35, 1, 1], blocks[:, 34, 0, 1] = 2.0, 2.0
    for prefix in ("", "truth_") if with_truth else ("",):
        ds[f"{prefix}signed_curve"] = (("cell", "month"), curve)
        ds[f"{prefix}block_absolute"] = (("cell", "month", "block_lat", "block_lon"), blocks)
        ds[f"{prefix}signed_radius50_km"] = (("cell", "sample"), [[0.0, 100.0, 200.0, np.nan]] * 2)
        ds[f"{prefix}signed_radius90_km"] = (("cell", "sample"), [[300.0] * 4] * 2)
        ds[f"{prefix}small_scale_share"] = ("cell", [0.1, 0.2])
        ds[f"{prefix}signed_box_inside"] = ("cell", [1.0, 0.0])
        ds[f"{prefix}signed_box_outside"] = ("cell", [3.0, 1.0])
    ds.coords["block_lat"], ds.coords["block_lon"] = [11.0, 13.0], [-50.0, -48.0, -46.0]
    ds.attrs.update(block_cells=2, small_scale_sigma=1.0)


def test_contribution_table_long_form():
    t = contribution_table(_group(), lead=6)
    assert list(t.columns) == ["lead", "method", "cell", "variant", "sign", "month", "contribution",
                               "normalised"]
    assert len(t) == 2 * (3 + 2) * 2 * 36    # method + truth, abs signs + signed + block, cells, months
    row = t[(t.method == "deeplift") & (t.cell == "p") & (t.sign == "all") & (t.variant == "abs")]
    assert row.contribution.iloc[-1] == 2.0 and row.normalised.iloc[-1] == 2 / 3
    assert (t.lead == 6).all()
    assert set(t[t.variant != "abs"].sign) == {"all"}
    signed = t[(t.method == "truth") & (t.cell == "q") & (t.variant == "signed")]
    assert list(signed.normalised.iloc[-2:]) == [0.5, 0.5]
    block = t[(t.method == "deeplift") & (t.cell == "p") & (t.variant == "block")]
    assert list(block.contribution.iloc[-2:]) == [2.0, 2.0]
    # without the variants' pieces (a group file from before them): the abs rows only
    assert set(contribution_table(_group(variants=False), lead=6).variant) == {"abs"}


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


def test_variants_by_hand():
    box = Box(lat_min=10, lat_max=11, lon_min=-51, lon_max=-50)
    m = measures(_group(), source_box=box)
    for key in ("attribution", "truth"):
        p = m[key]["cells"]["p"]
        assert p["share_month_minus1"] == (2 / 3 if key == "attribution" else 3 / 4)   # |.| kept
        assert p["small_scale_share"] == 0.1
        signed, block = p["variants"]["signed"], p["variants"]["block"]
        # signed: curve 1, 1 -> half on month -1; the median of radii 0, 100, 200 (NaN left out)
        assert signed["share_month_minus1"] == 0.5 and signed["share_before_minus12"] == 0
        assert signed["radius50_km"] == 100 and signed["radius90_km"] == 300
        assert signed["source_box_share"] == 0.25                      # 1 / (1 + 3)
        # 1, 1, then 0 at month -3: linear crossing of 1/e between -2 and -3 (log of 0 undefined)
        assert signed["efolding_month"] == pytest.approx(-2 - (1 - 1 / np.e))
        # block: p at (2, 3) lies in block (1, 1); half the mass there, half one block (2 degrees) south
        assert set(block) == set(MAP_MEASURES)
        assert block["share_month_minus1"] == 0.5 and block["radius50_km"] == 0
        assert block["radius90_km"] == pytest.approx(6371.0 * np.radians(2.0))
        assert block["radius90_cells"] == 1 and block["source_box_share"] == 0    # the box holds block (0, 0): no mass


def test_measures_without_truth():
    m = measures(_group(with_truth=False))
    assert "truth" not in m and "agreement" not in m and m["n_samples"] == 4


def test_cell_coords_store_the_index_and_read_the_degrees_off_the_grid():
    coords = xr.Dataset(coords=cell_coords(["p", "q"], [(2, 3), (0, 0)], LAT, LON))
    assert coords["cell_i"].values.tolist() == [2, 0] and coords["cell_j"].values.tolist() == [3, 0]
    assert coords["cell_i"].dtype.kind == "i"
    assert coords["cell_lat"].values.tolist() == [12.5, 10.5]          # LAT[2], LAT[0]
    assert coords["cell_lon"].values.tolist() == [-47.5, -50.5]        # LON[3], LON[0]
    assert cell_index(coords.sel(cell="p")) == (2, 3)
    # a one-cell dataset (sanity's) keeps them as scalar coords: read the same way
    assert cell_index(coords.isel(cell=1)) == (0, 0)
    with pytest.raises(ValueError, match="names"):
        cell_coords(["p"], [(2, 3), (0, 0)], LAT, LON)


def test_measures_centre_on_the_stored_index_not_on_the_degrees():
    # Degrees that are not grid values (a file that rounded them, or a figure label): the radii
    # still centre on cell p's (2, 3), where all its mass sits.
    group = _group().assign_coords(cell_lat=("cell", [12.4999, 10.5001]), cell_lon=("cell", [-47.5001, -50.4999]))
    p = measures(group)["attribution"]["cells"]["p"]
    assert p["radius50_km"] == 0 and p["radius90_cells"] == 0
    assert p["variants"]["block"]["radius50_km"] == 0                    # its block (1, 1)
    with pytest.raises(ValueError, match="cell_i"):
        measures(group.drop_vars(["cell_i", "cell_j"]))


def test_variant_measures_of_one_cell_by_hand():
    # The one assembler of the variants (aggregate.json and score.json): the truth's pieces of
    # cell q, the same hand-made ones as test_variants_by_hand, without a source box.
    v = variant_measures(_group().sel(cell="q"), None, "truth_")
    assert set(v) == {"signed", "block"}
    assert v["signed"]["share_month_minus1"] == 0.5 and v["signed"]["radius50_km"] == 100
    assert "source_box_share" not in v["signed"] and "source_box_share" not in v["block"]
    # q at (0, 0) lies in block (0, 0), centred at 11N 50W. Half the block mass sits in block
    # (0, 1), 2 degrees of longitude east along 11N; the other half further, in block (1, 1).
    east = 6371.0 * np.arccos(np.sin(np.radians(11.0)) ** 2
                              + np.cos(np.radians(11.0)) ** 2 * np.cos(np.radians(2.0)))
    assert v["block"]["radius50_km"] == pytest.approx(east)
    assert v["block"]["share_month_minus1"] == 0.5
