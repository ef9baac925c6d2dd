"""Scoring every method against the truth, on a linear network whose exact attribution is known."""

import numpy as np
import pytest
import torch
from torch import nn

from climemu.attribution.aggregate import variant_measures
from climemu.attribution.cells import cell_index
from climemu.attribution.measures import signed_radius
from climemu.attribution.score import score_measures, score_methods
from climemu.attribution.cells import resolve_cells
from climemu.config import Box, CellSpec
from climemu.data.window import WindowedData, build_windows
from tests.helpers import make_sst, section


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(15, 1, size=(200, 8, 10)).astype(np.float32)
    ds = make_sst(x)
    ds.attrs["smoothing_months"] = 1
    return WindowedData(ds, build_windows(ds, section("window", n_train=6, n_val=2, n_test=2), lead=1))


@pytest.fixture(scope="module")
def linear():
    """A bias-free 3x3 convolution: output cell (i, j) = sum of the kernel times its neighbours."""
    torch.manual_seed(0)
    return nn.Conv2d(36, 1, 3, padding=1, bias=False).eval()


@pytest.fixture(scope="module")
def scored(data, linear, kernel_coefficients):
    cells = resolve_cells([CellSpec(name="a", lat=13.5, lon=-46.5), CellSpec(name="b", lat=15.5, lon=-44.5)],
                          data.lat, data.lon, data.ocean)
    coef = {c.name: kernel_coefficients(linear, c.i, c.j, data.ocean.shape) for c in cells}
    methods = ["deeplift", "integrated_gradients", "input_x_gradient", "saliency"]
    ds = score_methods(linear, data, methods, cells, coef, n_samples=5, batch_size=2, n_steps=4,
                       channels_last=False, block_cells=section("explain").block_cells)
    return ds, coef, cells


def test_exact_methods_agree_perfectly_with_the_truth(scored):
    # A linear network with a zero baseline: DeepLift, IG and input x gradient are the exact
    # contributions, so every correlation is 1, on all inputs (matching zeros) and on the support.
    ds, _, _ = scored
    for m in ("deeplift", "integrated_gradients", "input_x_gradient"):
        for key in ("pearson", "spearman", "pearson_support", "spearman_support"):
            np.testing.assert_allclose(ds[key].sel({"method": m}).values, 1.0, atol=1e-5)


def test_saliency_ignores_the_input_and_the_sign(scored, data):
    # Saliency is |w| wherever the kernel reaches: its Pearson with w * x is below 1, and the
    # correlation it gets is that of |w| with w * x, worked out here directly.
    ds, coef, cells = scored
    x = data.inputs("train", np.arange(5)).numpy()
    sal = ds["pearson_support"].sel({"method": "saliency", "cell": "a"}).values
    support = coef["a"] != 0
    for k in range(5):
        expect = np.corrcoef(np.abs(coef["a"][support]), (coef["a"] * x[k])[support])[0, 1]
        assert sal[k] == pytest.approx(expect, abs=1e-5)
    assert np.all(sal < 0.99)


def test_mean_maps_and_measures(scored, data):
    ds, coef, _ = scored
    x = data.inputs("train", np.arange(5)).numpy()
    np.testing.assert_allclose(ds["truth_absolute"].sel(cell="a").values,
                               np.abs(coef["a"][None] * x).mean(0), rtol=1e-5)
    np.testing.assert_allclose(ds["example"].sel({"method": "deeplift", "cell": "a"}).values,
                               (coef["a"] * x[0]).sum(0), atol=1e-5)
    m = score_measures(ds, source_box=Box(lat_min=12, lat_max=14, lon_min=-48, lon_max=-46))
    assert m["n_samples"] == 5 and set(m["truth"]) == {"a", "b"}
    for cell in ("a", "b"):
        exact = m["deeplift"][cell]
        assert exact["radius50_error_km"] == pytest.approx(0, abs=1e-6)
        assert exact["curve_error"] == pytest.approx(0, abs=1e-5)
        assert exact["source_box_share"] == pytest.approx(m["truth"][cell]["source_box_share"], abs=1e-6)
    # Cell b's stencil (rows 4-6, cols 5-7) misses the box (rows 2-3, cols 3-4): no share.
    assert m["truth"]["b"]["source_box_share"] == 0.0 and m["truth"]["a"]["source_box_share"] > 0
    assert m["deeplift"]["all"]["pearson_median"] == pytest.approx(1.0, abs=1e-5)
    assert m["saliency"]["all"]["pearson_support_median"] < 0.99


def test_variants_of_exact_methods_match_the_truth(scored, data):
    # DeepLift is the truth here, so every variant's errors are 0 and its block maps correlate 1;
    # the block maps are the hand-summed blocks of coef * x.
    ds, coef, _ = scored
    b = section("explain").block_cells
    x = data.inputs("train", np.arange(5)).numpy()
    true = coef["a"][None] * x                                              # (5, 36, 8, 10)
    blocks = true[:, :, :8 // b * b, :10 // b * b].reshape(5, 36, 8 // b, b, 10 // b, b).sum((3, 5))
    np.testing.assert_allclose(ds["truth_block_absolute"].sel(cell="a"), np.abs(blocks).mean(0), rtol=1e-5)
    np.testing.assert_allclose(ds["truth_signed_curve"].sel(cell="a"), np.abs(true.sum((2, 3))).mean(0), rtol=1e-5)
    m = score_measures(ds)
    for cell in ("a", "b", "all"):
        variants = m["deeplift"][cell]["variants"]
        assert set(variants) == {"abs", "signed", "block"}
        for v in variants.values():
            assert v["share_month_minus1_abs_error"] == pytest.approx(0, abs=1e-5)
            assert v["radius50_km_abs_error"] == pytest.approx(0, abs=1e-6)
        assert variants["block"]["pearson_median"] == pytest.approx(1, abs=1e-5)
    t = m["truth"]["a"]["variants"]
    assert t["signed"]["share_month_minus1"] == pytest.approx(
        float(np.abs(true[:, -1].sum((1, 2))).mean() / np.abs(true.sum((2, 3))).mean(0).sum()), rel=1e-5)
    # saliency (|w|, sign and input ignored) is off in the signed and block variants
    assert m["saliency"]["all"]["variants"]["block"]["pearson_median"] < 0.99


def test_cells_and_per_sample_radii_are_stored_once_in_sample_order(scored, data):
    # Where each cell is: the integer index resolve_cells found, (3, 4) and (5, 6) on this grid.
    ds, coef, cells = scored
    assert [cell_index(ds.sel(cell=c.name)) for c in cells] == [(3, 4), (5, 6)] == [(c.i, c.j) for c in cells]
    assert ds["cell_lat"].values.tolist() == [13.5, 15.5]
    # 5 samples in batches of 2: each sample's signed radius lands at its own position.
    x = data.inputs("train", np.arange(5)).numpy()
    for fraction, key in ((0.5, "truth_signed_radius50_km"), (0.9, "truth_signed_radius90_km")):
        by_hand = [float(signed_radius(coef["a"] * x[k], data.lat, data.lon, (3, 4), fraction)) for k in range(5)]
        np.testing.assert_allclose(ds[key].sel(cell="a"), by_hand)
    m = score_measures(ds)
    assert m["truth"]["a"]["variants"]["signed"]["radius50_km"] == pytest.approx(
        np.median(ds["truth_signed_radius50_km"].sel(cell="a")))
    # the signed and block variants are the one assembler's (aggregate.json's), a subset of keys
    one = variant_measures(ds.sel({"cell": "b", "method": "saliency"}), None)
    for variant in ("signed", "block"):
        for key in ("share_month_minus1", "radius50_km"):
            assert m["saliency"]["b"]["variants"][variant][key] == one[variant][key]


def test_versus_best_tells_a_clearly_worse_method_from_a_tie():
    import xarray as xr
    from climemu.attribution.score import versus_best
    rng = np.random.default_rng(0)
    base = rng.normal(0.8, 0.05, (2, 40))
    values = xr.DataArray(np.stack([base, base - 0.001 * rng.normal(size=(2, 40)), base - 0.3]),
                          dims=("method", "cell", "sample"), coords={"method": ["a", "b", "c"]})
    out = versus_best(values, ["a", "b", "c"])
    assert out["best"] in ("a", "b") and out["n"] == 80
    assert not out["methods"]["a" if out["best"] == "b" else "b"]["distinguishable"]
    c = out["methods"]["c"]
    assert c["distinguishable"] and c["high"] < 0 and c["difference"] == pytest.approx(-0.3, abs=0.01)
