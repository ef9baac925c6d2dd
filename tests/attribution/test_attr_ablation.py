"""Ablation on networks whose reach is known (paper Sec. 4.3)."""

import numpy as np
import pytest
import torch
from torch import nn

from climemu.attribution.ablation import ablate_box, far_field_influence, target_response
from climemu.config import Box

LAT = 10.5 + np.arange(10)                    # 10 x 12 one-degree cells
LON = -99.5 + np.arange(12)
BOX = Box(lat_min=14, lat_max=16, lon_min=-95, lon_max=-92)   # rows 4-5, columns 5-7


def inputs(seed=0):
    return torch.randn(3, 36, LAT.size, LON.size, generator=torch.Generator().manual_seed(seed))


def conv3x3():
    torch.manual_seed(0)
    return nn.Conv2d(36, 1, 3, padding=1, bias=False)


def test_box_is_chosen_in_degrees():
    diff = ablate_box(conv3x3(), inputs(), LAT, LON, BOX)
    changed = (diff != 0).any("sample").values
    rows, cols = np.nonzero(changed)
    # A 3x3 convolution spreads the change exactly one cell beyond rows 4-5, columns 5-7.
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (3, 6, 4, 8)


def test_single_convolution_has_no_far_field():
    diff = ablate_box(conv3x3(), inputs(), LAT, LON, BOX)
    assert diff.dims == ("sample", "lat", "lon") and diff.shape == (3, 10, 12)
    assert far_field_influence(diff, LAT, LON, BOX, halo=1) == 0.0        # exactly
    assert far_field_influence(diff, LAT, LON, BOX, halo=0) > 0           # the ring of reach 1


def test_far_field_reads_a_teleconnection():
    shift = (-4, 4)   # the output 4 rows south and 4 columns east also copies month -1 here

    class Remote(nn.Module):
        def forward(self, x):
            last = x[:, -1:]                                              # (B, 1, H, W)
            return last + last.roll(shift, dims=(2, 3))

    x = inputs()
    diff = ablate_box(Remote(), x, LAT, LON, BOX)
    # Inside: 6 cells change by -x; far field (120 - 4 x 5 = 100 cells): the same 6 changes
    # moved to rows 0-1, columns 9-11, and 94 zeros. The ratio of means is 6 / 100.
    assert far_field_influence(diff, LAT, LON, BOX, halo=1) == pytest.approx(0.06)
    target = Box(lat_min=10, lat_max=12, lon_min=-91, lon_max=-88)       # rows 0-1, cols 9-11
    response = target_response(diff, LAT, LON, target)
    # Zeroing month -1 in the box removes it from the copy: change = -x at the source cells.
    expected = -x[:, -1, 4:6, 5:8].mean(dim=(1, 2))
    np.testing.assert_allclose(response.values, expected.numpy(), rtol=1e-6, atol=1e-7)


def test_mask_restricts_both_regions():
    diff = ablate_box(conv3x3(), inputs(), LAT, LON, BOX)
    ocean = np.ones((LAT.size, LON.size), bool)
    ocean[:, 6] = False                                   # a land column through the box
    value = far_field_influence(diff, LAT, LON, BOX, halo=0, mask=ocean)
    d = np.abs(diff.values)
    inside = np.zeros_like(ocean)
    inside[4:6, 5:8] = True
    near = np.zeros_like(ocean)
    near[4:6, 5:8] = True
    expected = d[:, ~near & ocean].mean() / d[:, inside & ocean].mean()
    assert value == pytest.approx(expected)


def test_empty_box_is_refused():
    between = Box(lat_min=14.6, lat_max=14.9, lon_min=-95, lon_max=-92)   # between centres
    with pytest.raises(ValueError, match="contains no grid cell"):
        ablate_box(conv3x3(), inputs(), LAT, LON, between)
    with pytest.raises(ValueError, match="contains no grid cell"):
        target_response(np.zeros((1, 10, 12)), LAT, LON, Box(lat_min=30, lat_max=40,
                                                               lon_min=-95, lon_max=-92))


def test_batches_and_model_state():
    net = nn.Sequential(nn.BatchNorm2d(36), nn.ReLU(), nn.Conv2d(36, 1, 3, padding=1))
    net.train()
    x = inputs()
    whole = ablate_box(net, x, LAT, LON, BOX)
    assert torch.equal(net[0].running_mean, torch.zeros(36))   # eval mode: statistics untouched
    assert net.training
    # Another batch size may take another convolution kernel (per CPU): O(1) values, to 1e-5.
    np.testing.assert_allclose(ablate_box(net, x, LAT, LON, BOX, batch_size=2), whole,
                               rtol=1e-5, atol=1e-5)
