"""The decoder's DeepLift backward on a crop (attribution/crop.py) against the dense backward
and Captum, on the Table 1 network and its FNN variant at the paper's grid."""

import pytest
import torch
from torch import nn

from climemu.attribution import crop
from climemu.attribution.fast import DeepLiftCells
from climemu.attribution.methods import attribute
from climemu.models.densenet import DenseNet
from climemu.models.densenet_fnn import DenseNetFNN

GRID = (70, 125)
# corners, edges, the middle, and rows/columns where the last upsampling's index map skips
CELLS = [(0, 0), (69, 124), (0, 124), (69, 0), (35, 62), (34, 1), (2, 63), (50, 100)]


def randomised(net: nn.Module, seed: int = 0) -> nn.Module:
    """Random BatchNorm statistics and affine terms, so the ReLU references are not zero and
    the rescale rule differs from the gradient everywhere (conftest's make_bn_relu_conv_net)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for bn in (m for m in net.modules() if isinstance(m, nn.BatchNorm2d)):
            n = bn.num_features
            bn.running_mean.copy_(0.2 * torch.randn(n, generator=g))
            bn.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            bn.weight.copy_(torch.rand(n, generator=g) + 0.5)
            bn.bias.copy_(0.2 * torch.randn(n, generator=g))
    return net.eval()


@pytest.fixture(scope="module")
def inputs():
    return torch.randn(2, 36, *GRID, generator=torch.Generator().manual_seed(1))


def test_nearest_index_is_torchs_map_by_hand():
    # size 3 -> 7: source floor(r * 3 / 7) = 0 0 0 1 1 2 2
    assert crop.nearest_index(3, 7).tolist() == [0, 0, 0, 1, 1, 2, 2]


def test_windows_hold_each_cells_cone_and_stay_on_the_grid():
    axis = crop.Axis(18, 70)                                    # rows: bottleneck 18, grid 70
    assert axis.out_size == 7 and axis.bott_size <= 8          # a crop, not the map
    for i in range(70):
        b0, o0 = axis.windows(i)
        lo, hi = axis._needed(i)
        assert o0 <= i < o0 + 7 and 0 <= o0 <= 70 - 7
        assert 0 <= b0 <= lo and hi <= b0 + axis.bott_size <= 18, i


@pytest.mark.parametrize("arch", [DenseNet, DenseNetFNN])
def test_cropped_decoder_equals_the_dense_backward(arch, inputs):
    torch.manual_seed(0)
    net = randomised(arch())
    cropped = DeepLiftCells(net, inputs.shape)
    dense = DeepLiftCells(net, inputs.shape, crop=False)
    assert cropped.crop is not None and dense.crop is None
    a, out_a = cropped.attribute(inputs, CELLS)
    b, out_b = dense.attribute(inputs, CELLS)
    assert torch.equal(out_a, out_b)
    for k, cell in enumerate(CELLS):
        scale = b[k].abs().max().item()
        assert scale > 0, cell
        assert (a[k] - b[k]).abs().max().item() <= 1e-5 * scale, cell


def test_cropped_decoder_matches_captum(inputs):
    torch.manual_seed(0)
    net = randomised(DenseNet(), seed=2)
    engine = DeepLiftCells(net, inputs.shape, memory_format=torch.channels_last)
    cells = [(0, 0), (35, 62), (69, 124)]
    attr, _ = engine.attribute(inputs, cells)
    for k, cell in enumerate(cells):
        expected = attribute(net, "deeplift", inputs, cell)
        rel = ((attr[k] - expected).abs().max() / expected.abs().max()).item()
        assert rel <= 1e-4, (cell, rel)


def test_only_nearest_upsampling_is_cropped():
    torch.manual_seed(0)
    assert crop.supports(DenseNet(upsample="nearest"))
    assert not crop.supports(DenseNet(upsample="bicubic"))
    assert not crop.supports(nn.Sequential(nn.Conv2d(36, 1, 3, padding=1)))
    engine = DeepLiftCells(DenseNet(grid=(12, 20), upsample="bilinear"), (36, 12, 20))
    assert engine.crop is None                                   # the dense pass instead


@pytest.mark.parametrize("arch", [DenseNet, DenseNetFNN])
def test_skip_path_is_added_to_the_cropped_backward(arch, inputs):
    # model.skip: a linear path input -> output beside the decoder; the crop covers the decoder
    # only, so the skip's gradient must be added, at corners (its zero padding) and inside
    torch.manual_seed(0)
    net = randomised(arch(skip=3), seed=2)
    cropped = DeepLiftCells(net, inputs.shape)
    assert cropped.crop is not None
    dense = DeepLiftCells(net, inputs.shape, crop=False)
    cells = [(0, 0), (35, 62), (69, 124)]
    a, _ = cropped.attribute(inputs, cells)
    b, _ = dense.attribute(inputs, cells)
    for k, cell in enumerate(cells):
        expected = attribute(net, "deeplift", inputs, cell)
        scale = expected.abs().max().item()
        assert (b[k] - expected).abs().max().item() <= 1e-4 * scale, cell
        assert (a[k] - expected).abs().max().item() <= 1e-4 * scale, cell
    # the skip's share is not negligible here, so leaving it out would fail the checks above
    i, j = cells[1]
    w = net.skip.weight[0]                                             # (36, 3, 3)
    skip_part = inputs[:, :, i - 1:i + 2, j - 1:j + 2] * w             # DeepLift of a linear map
    assert skip_part.abs().max().item() > 1e-2 * b[1].abs().max().item()
