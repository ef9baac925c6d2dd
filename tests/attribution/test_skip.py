"""attribution/skip.py: the skip path's part of a map, by hand, against the convolution and Captum."""

import numpy as np
import pytest
import torch

from climemu.attribution.methods import attribute, get_method
from climemu.attribution.skip import skip_part, skip_share
from climemu.models.densenet import DenseNet


def test_skip_part_by_hand_and_its_sum_is_the_paths_output():
    w = np.zeros((1, 2, 3, 3))
    w[0, 0, 1, 1], w[0, 1, 0, 2] = 2.0, -1.0            # own cell month 0; month 1 at (i - 1, j + 1)
    x = np.arange(2 * 2 * 4 * 5, dtype=float).reshape(2, 2, 4, 5)
    part = skip_part(w, x, (2, 3))
    expected = np.zeros_like(x)
    expected[:, 0, 2, 3] = 2.0 * x[:, 0, 2, 3]
    expected[:, 1, 1, 4] = -1.0 * x[:, 1, 1, 4]
    np.testing.assert_array_equal(part, expected)
    assert not skip_part(w, x, (0, 4))[:, 1].any()       # (i - 1, j + 1) lies beyond the box: padding
    conv = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1)[:, 0]
    np.testing.assert_allclose(part.sum(axis=(1, 2, 3)), conv[:, 2, 3].numpy(), rtol=1e-12)


@pytest.mark.parametrize("method", ["deeplift", "integrated_gradients", "input_x_gradient"])
def test_whole_map_minus_skip_part_is_table1s_map(method):
    # The same network with and without its skip path: the map's difference is the skip part.
    assert get_method(method).linear_split
    torch.manual_seed(0)
    net = DenseNet(grid=(12, 20), skip=3).eval()
    with torch.no_grad():
        net.skip.weight.normal_(0.0, 0.3)
    x = torch.randn(2, 36, 12, 20)
    whole = attribute(net, method, x, (5, 7), n_steps=64).numpy()
    skip, net.skip = net.skip, None
    table1 = attribute(net, method, x, (5, 7), n_steps=64).numpy()
    part = skip_part(skip.weight.detach().numpy(), x.numpy(), (5, 7))
    assert np.abs(part).sum() > 0.1 * np.abs(table1).sum()           # a path that matters
    np.testing.assert_allclose(whole - part, table1, atol=1e-5 * np.abs(whole).max())


def test_skip_share_by_hand():
    assert skip_share(3.0, 1.0) == 0.75
    assert skip_share(0.0, 2.0) == 0.0
    assert np.isnan(skip_share(0.0, 0.0))
