"""Running sums give the same mean maps as storing every heatmap (paper Sec. 4.2)."""

import numpy as np
import pytest
import torch

from climemu.attribution import group as group_module
from climemu.attribution.explain import group_explanation
from climemu.attribution.group import GroupSums, VariantSums
from climemu.attribution.measures import signed_radius, small_scale_share
from climemu.attribution.methods import attribute
from climemu.core.config import Box
from tests.helpers import section

H, W = 4, 5


def stored_means(maps: np.ndarray) -> dict:
    return {"positive": np.where(maps > 0, maps, 0).mean(0),
            "negative": np.where(maps < 0, maps, 0).mean(0),
            "absolute": np.abs(maps).mean(0)}


def test_running_sums_equal_mean_of_stored_heatmaps():
    maps = np.random.default_rng(0).normal(size=(7, 36, H, W)).astype(np.float32)
    sums = GroupSums()
    for start in (0, 3, 6):                                    # batches of 3, 3 and 1
        sums.update(torch.from_numpy(maps[start:start + 3]))
    means = sums.mean()
    assert sums.count == 7 and means.attrs["n_samples"] == 7
    for name, expected in stored_means(maps.astype(np.float64)).items():
        np.testing.assert_allclose(means[name].values, expected, rtol=1e-12, atol=1e-15)
    assert (means["positive"] >= 0).all() and (means["negative"] <= 0).all()
    np.testing.assert_allclose(means["absolute"], means["positive"] - means["negative"])
    assert means["positive"].dims == ("month", "lat", "lon")
    assert means["month"].values[0] == -36 and means["month"].values[-1] == -1


def test_merge_equals_one_accumulator():
    maps = np.random.default_rng(1).normal(size=(5, 36, H, W))
    whole = GroupSums().update(maps)
    merged = GroupSums().update(maps[:2]).merge(GroupSums().update(maps[2:]))
    assert merged.count == 5
    np.testing.assert_allclose(merged.mean()["negative"], whole.mean()["negative"])


def test_shape_change_and_empty_mean_are_refused():
    sums = GroupSums().update(np.zeros((2, 36, H, W)))
    with pytest.raises(ValueError, match="do not match"):
        sums.update(np.zeros((2, 36, H, W + 1)))
    with pytest.raises(ValueError, match="no heatmaps"):
        GroupSums().mean()


def test_group_explanation_batches_like_one_big_call(bn_relu_conv_net):
    x = torch.randn(7, 36, H, W, generator=torch.Generator().manual_seed(0))
    lat, lon = np.arange(H) + 0.5, np.arange(W) - 10.5
    sums = group_explanation(bn_relu_conv_net, "deeplift", x, (1, 2), batch_size=3,
                             lat=lat, lon=lon)
    expected = stored_means(attribute(bn_relu_conv_net, "deeplift", x, (1, 2)).double().numpy())
    means = sums.mean()
    for name in expected:
        np.testing.assert_allclose(means[name].values, expected[name], rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(means["lon"], lon)
    # An iterable of (input, target) batches, as a DataLoader yields, gives the same sums.
    loader = [(x[:4], None), (x[4:], None)]
    again = group_explanation(bn_relu_conv_net, "deeplift", loader, (1, 2)).mean()
    np.testing.assert_allclose(again["positive"], means["positive"], rtol=1e-5, atol=1e-7)


LAT, LON = 40.5 + np.arange(H), -20.5 + np.arange(W)


def _variant_sums(box=None):
    """2 x 2 blocks (hand-summed below) at cell (1, 2); the smoothing of params.yaml."""
    return VariantSums(LAT, LON, (1, 2), 2, section("explain").small_scale_sigma, source_box=box)


def test_variant_sums_equal_stored_heatmaps_by_hand():
    maps = np.random.default_rng(2).normal(size=(7, 36, H, W))
    box = Box(lat_min=40.0, lat_max=42.0, lon_min=-21.0, lon_max=-19.0)    # rows 0-1, columns 0-1
    sums = _variant_sums(box=box)
    for start in (0, 3, 6):
        sums.update(torch.from_numpy(maps[start:start + 3]))
    means = sums.mean()
    assert sums.count == 7 and means.attrs["block_cells"] == 2
    np.testing.assert_allclose(means["signed_curve"], np.abs(maps.sum((2, 3))).mean(0), rtol=1e-12)
    # 2 x 2 blocks of a 4 x 5 grid, the fifth column dropped, summed by hand
    blocks = maps[:, :, :, :4].reshape(7, 36, 2, 2, 2, 2).sum((3, 5))
    np.testing.assert_allclose(means["block_absolute"], np.abs(blocks).mean(0), rtol=1e-12)
    np.testing.assert_array_equal(means["block_lat"], [41.0, 43.0])
    np.testing.assert_array_equal(means["block_lon"], [-20.0, -18.0])
    for fraction, key in ((0.5, "signed_radius50_km"), (0.9, "signed_radius90_km")):
        by_hand = [float(signed_radius(m, LAT, LON, (1, 2), fraction)) for m in maps]
        np.testing.assert_allclose(means[key], by_hand)
    sigma = section("explain").small_scale_sigma
    assert float(means["small_scale_share"]) == pytest.approx(
        np.mean([float(small_scale_share(m, sigma)) for m in maps]))
    inside = np.abs(maps[:, :, :2, :2].sum((1, 2, 3))).mean()
    outside = np.abs(maps.sum((1, 2, 3)) - maps[:, :, :2, :2].sum((1, 2, 3))).mean()
    assert float(means["signed_box_inside"]) == pytest.approx(inside)
    assert float(means["signed_box_outside"]) == pytest.approx(outside)


def test_variant_sums_all_reduce_like_one_accumulator(monkeypatch):
    # Two torchrun workers, simulated: worker 1's all_reduce records what it sends; worker 0's
    # adds it (collectives run in the same order on every rank) and gathers its radii after its own.
    maps = np.random.default_rng(4).normal(size=(5, 36, H, W))
    whole = _variant_sums().update(maps).mean()
    first, second = _variant_sums().update(maps[:3]), _variant_sums().update(maps[3:])
    sent: list = []
    monkeypatch.setattr(group_module, "all_reduce_sum", lambda a: sent.append(a) or a)
    monkeypatch.setattr(group_module, "gather", lambda v: sent.append(v) or v)
    second.all_reduce()
    monkeypatch.setattr(group_module, "all_reduce_sum", lambda a: a + sent.pop(0))
    monkeypatch.setattr(group_module, "gather", lambda v: list(v) + sent.pop(0))
    merged = first.all_reduce().mean()
    assert not sent and merged.attrs["n_samples"] == 5
    for name in whole.data_vars:
        np.testing.assert_allclose(merged[name], whole[name], rtol=1e-12)


def test_variant_sums_without_a_sigma_skip_only_the_small_scale_share():
    # The score stage's accumulator: the same pieces, no Gaussian filter.
    maps = np.random.default_rng(5).normal(size=(4, 36, H, W))
    full = _variant_sums().update(maps).mean()
    lean = VariantSums(LAT, LON, (1, 2), 2, None).update(maps[:3]).update(maps[3:]).mean()
    assert set(full.data_vars) - set(lean.data_vars) == {"small_scale_share"}
    assert "small_scale_sigma" not in lean.attrs and lean.attrs["block_cells"] == 2
    for name in lean.data_vars:
        np.testing.assert_array_equal(lean[name], full[name])


def test_variant_sums_refuse_a_different_grid_and_an_empty_mean():
    sums = _variant_sums()
    with pytest.raises(ValueError, match="do not match"):
        sums.update(np.zeros((2, 36, H, W + 1)))
    with pytest.raises(ValueError, match="no heatmaps"):
        sums.mean()
