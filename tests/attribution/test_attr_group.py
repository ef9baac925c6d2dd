"""Running sums give the same mean maps as storing every heatmap (paper Sec. 4.2)."""

import numpy as np
import pytest
import torch

from climemu.attribution.group import GroupSums, group_explanation
from climemu.attribution.methods import attribute

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
