"""The explain stage's library on a linear model whose exact attribution is known by hand."""

import numpy as np
import pytest
import torch
from torch import nn

from climemu.attribution.cells import resolve_cells
from climemu.attribution.explain import explain_group, explain_instance
from climemu.config import CellSpec
from climemu.data.window import WindowedData, build_windows
from tests.helpers import make_sst, section


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(15, 1, size=(260, 8, 10)).astype(np.float32)
    ocean = np.ones((8, 10), bool)
    ocean[0, :3] = False
    x[:, ~ocean] = np.nan
    ds = make_sst(x, ocean=ocean)
    ds.attrs["smoothing_months"] = 1
    return WindowedData(ds, build_windows(ds, section("window", n_train=12, n_val=4, n_test=4), lead=1))


@pytest.fixture(scope="module")
def conv():
    torch.manual_seed(0)
    net = nn.Conv2d(36, 1, 3, padding=1, bias=False)
    return net.eval()


@pytest.fixture
def conv_truth(conv, data, kernel_coefficients):
    """Exact coefficients of the linear model, cell -> (36, H, W): its 3x3 kernel placed there.

    At another lead, a made-up truth: the same kernel scaled by lead / data.lead, so the truth's
    curve at each of ``explain.truth_leads`` is known by hand.
    """
    return lambda cell, lead=data.lead: (lead / data.lead) * kernel_coefficients(conv, cell.i, cell.j,
                                                                                  data.ocean.shape)


def _cfg(**kw):
    cells = [CellSpec(name="a", lat=13.5, lon=-46.5), CellSpec(name="b", lat=10.5, lon=-49.5)]
    return section("explain", {"methods": ["deeplift", "integrated_gradients", "input_x_gradient"],
                               "instance_cells": cells, "group_cells": cells, "max_samples": 10,
                               "batch_size": 4, "n_steps": 8, **kw})


def test_cells_resolved_in_degrees_and_land_flagged(data):
    cells = resolve_cells(_cfg().group_cells, data.lat, data.lon, data.ocean)
    assert [(c.i, c.j) for c in cells] == [(3, 4), (0, 1)]
    assert [c.is_land for c in cells] == [False, True]


def test_group_on_a_linear_model_matches_truth_exactly(data, conv, conv_truth):
    cfg = _cfg()
    cells = resolve_cells(cfg.group_cells, data.lat, data.lon, data.ocean)
    group, stats = explain_group(conv, data, cfg, cells, truth=conv_truth)
    assert group.attrs["n_samples"] == 10 and stats["group_attributions"] == 20
    # DeepLift on a linear model is weight x input: identical to the truth, sample by sample
    np.testing.assert_allclose(group["positive"], group["truth_positive"], atol=1e-6)
    np.testing.assert_allclose(group["negative"], group["truth_negative"], atol=1e-6)
    np.testing.assert_allclose(group["truth_pearson"].sel(cell="a"), 1.0, atol=1e-6)
    np.testing.assert_allclose(group["truth_spearman"].sel(cell="a"), 1.0, atol=1e-6)
    assert stats["relative_delta_max"] < 1e-4
    # the truth's curve at each lead of explain.truth_leads: the lead's scale times its curve here
    curve = group["truth_absolute"].sum(("lat", "lon"))                   # (cell, month)
    for lead in cfg.truth_leads:
        np.testing.assert_allclose(group["truth_curve_by_lead"].sel(truth_lead=lead),
                                   lead / data.lead * curve, rtol=1e-5)
    # running means equal the mean of the stored heatmaps, computed here by hand
    x = data.inputs("train", np.arange(10)).numpy()
    w = conv.weight.detach().numpy()[0]
    by_hand = np.zeros_like(x)
    by_hand[:, :, 2:5, 3:6] = w[None] * x[:, :, 2:5, 3:6]
    np.testing.assert_allclose(group["absolute"].sel(cell="a"), np.abs(by_hand).mean(0), atol=1e-6)
    np.testing.assert_allclose(group["mean_target"], data.targets_of("train", np.arange(10))[:, 0].mean(0), atol=1e-6)
    # the identifiable variants' pieces, of the heatmaps and of the truth, from the same heatmaps
    b = cfg.block_cells                                                 # 3: blocks of a 8 x 10 grid
    blocks = by_hand[:, :, :8 // b * b, :10 // b * b].reshape(10, 36, 8 // b, b, 10 // b, b).sum((3, 5))
    for prefix in ("", "truth_"):
        a = group.sel(cell="a")
        np.testing.assert_allclose(a[f"{prefix}signed_curve"], np.abs(by_hand.sum((2, 3))).mean(0), atol=1e-6)
        np.testing.assert_allclose(a[f"{prefix}block_absolute"], np.abs(blocks).mean(0), atol=1e-6)
        assert a[f"{prefix}signed_radius50_km"].sizes["sample"] == 10
        assert 0 <= float(a[f"{prefix}small_scale_share"]) <= 1
    np.testing.assert_allclose(group["signed_radius90_km"], group["truth_signed_radius90_km"], rtol=1e-6)
    assert group.attrs["block_cells"] == b and group.attrs["small_scale_sigma"] == cfg.small_scale_sigma


def test_instance_has_every_method_and_the_truth(data, conv, conv_truth):
    cfg = _cfg()
    cells = resolve_cells(cfg.instance_cells, data.lat, data.lon, data.ocean)
    inst, deltas = explain_instance(conv, data, cfg, cells, seed=0, truth=conv_truth)
    assert list(inst["method"].values) == ["deeplift", "integrated_gradients", "input_x_gradient", "truth"]
    assert inst["attribution"].dims == ("method", "cell", "month", "lat", "lon")
    a = inst["attribution"].sel(cell="a")
    np.testing.assert_allclose(a.sel({"method": "deeplift"}), a.sel({"method": "truth"}), atol=1e-6)
    np.testing.assert_allclose(a.sel({"method": "integrated_gradients"}), a.sel({"method": "truth"}), atol=1e-5)
    assert set(deltas) == {"deeplift.a", "deeplift.b", "integrated_gradients.a", "integrated_gradients.b"}
    assert bool(inst["cell_is_land"].sel(cell="b"))


class _TwoPaths(nn.Module):
    """A 1 x 1 convolution standing in for Table 1's network, plus a 3 x 3 skip path."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.body = nn.Conv2d(36, 1, 1, bias=False)
        self.skip = nn.Conv2d(36, 1, 3, padding=1, bias=False)

    def forward(self, x):
        return self.body(x) + self.skip(x)


def test_group_maps_split_at_the_skip_path(data):
    net = _TwoPaths().eval()
    cells = resolve_cells(_cfg().group_cells, data.lat, data.lon, data.ocean)
    group, _ = explain_group(net, data, _cfg(), cells)
    x = data.inputs("train", np.arange(10)).numpy()
    body = net.body.weight.detach().numpy()[0, :, 0, 0]                   # (36,)
    skip = net.skip.weight.detach().numpy()[0]                             # (36, 3, 3)
    table1 = np.zeros_like(x)                                              # cell a = (3, 4), by hand
    table1[:, :, 3, 4] = body[None] * x[:, :, 3, 4]
    through = np.zeros_like(x)
    through[:, :, 2:5, 3:6] = skip[None] * x[:, :, 2:5, 3:6]
    a = group.sel(cell="a")
    np.testing.assert_allclose(a["table1_absolute"], np.abs(table1).mean(0), atol=1e-6)
    np.testing.assert_allclose(a["absolute"], np.abs(table1 + through).mean(0), atol=1e-6)
    share = np.abs(through).sum() / (np.abs(through).sum() + np.abs(table1).sum())
    assert float(a["skip_share"]) == pytest.approx(share, rel=1e-6)
    assert "table1_signed_curve" in group and "truth_absolute" not in group
    no_split, _ = explain_group(net, data, _cfg(group_method="saliency"), cells)   # not additive
    assert "table1_absolute" not in no_split and "skip_share" not in no_split
