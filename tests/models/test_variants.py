"""Architecture variants: counts by hand, attribution on each, and who can see a far cell."""

import numpy as np
import pytest
import torch
from torch import nn

from climemu.attribution.ablation import ablate_box, target_response
from climemu.attribution.methods import attribute
from climemu.config import Box
from climemu.models.registry import ARCHITECTURES, build_model, count_parameters
from climemu.models.densenet_fnn import DenseNetFNN, bottleneck_size
from tests.helpers import section


def test_fnn_counts_by_hand():
    model = DenseNetFNN()
    # link: BN(192) + Conv3x3 192->1 = 384 + 1,728; Linear 576 x 576 = 331,776;
    #       BN(1) + Conv3x3 1->16 = 2 + 144
    assert count_parameters(model.link) == 384 + 1_728 + 331_776 + 2 + 144
    # up now reads 192 + 16 channels: BN(208) + 208 x 96 + BN(96) + 96 x 96 x 9
    assert count_parameters(model.up) == 416 + 19_968 + 192 + 82_944
    assert count_parameters(model) == 606_300 + 334_034 + (103_520 - 101_952) == 941_902
    assert bottleneck_size((70, 125)) == (18, 32)
    assert count_parameters(build_model(section("model", arch="densenet_fnn", fnn_channels=2, skip=0), (70, 125))) \
        == 941_902 + (2 * 576) ** 2 - 576 ** 2 + 1_728 + 2 + 144


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_deeplift_runs_on_every_variant_and_is_complete(arch):
    torch.manual_seed(0)
    model = build_model(section("model", arch=arch), grid=(20, 30)).eval()
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == len({id(m) for m in relus}) and not any(r.inplace for r in relus)
    x = torch.randn(2, 36, 20, 30)
    attr, delta = attribute(model, "deeplift", x, (10, 15), return_delta=True)
    assert attr.shape == x.shape and float(delta.abs().max()) < 1e-3


def test_only_the_fnn_variant_sees_a_cell_beyond_the_receptive_field():
    # 16 x 128 cells: the source box at the western edge, the target box 110 cells east,
    # beyond the plain network's receptive field (about 89 cells across, +-44 from a cell).
    lat, lon = 0.5 + np.arange(16), 0.5 + np.arange(128)
    source = Box(lat_min=6, lat_max=10, lon_min=1, lon_max=5)
    target = Box(lat_min=6, lat_max=10, lon_min=110, lon_max=115)
    x = torch.randn(3, 36, 16, 128, generator=torch.Generator().manual_seed(1))
    responses = {}
    for arch in ("densenet", "densenet_fnn"):
        torch.manual_seed(0)
        model = build_model(section("model", arch=arch), grid=(16, 128)).eval()
        diff = ablate_box(model, x, lat, lon, source)
        responses[arch] = float(np.abs(target_response(diff, lat, lon, target)).max())
    assert responses["densenet"] == 0.0
    assert responses["densenet_fnn"] > 1e-9   # a path exists (random weights keep it small)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_skip_path_by_hand(arch):
    # model.skip = 3: one bias-free 3x3 convolution 36 -> 1 (324 weights) added to the output
    torch.manual_seed(0)
    plain = build_model(section("model", arch=arch, skip=0), grid=(20, 30)).eval()
    torch.manual_seed(0)
    model = build_model(section("model", arch=arch, skip=3), grid=(20, 30)).eval()
    assert count_parameters(model) == count_parameters(plain) + 36 * 9
    assert model.BLOCKS[0] == "skip" and model.BLOCKS[1:] == plain.BLOCKS
    x = torch.randn(2, 36, 20, 30)
    with torch.no_grad():
        model.skip.weight.zero_()
        model.skip.weight[0, 35, 1, 0] = 2.0      # month -1, the cell to the west
        y, y0 = model(x), model.encode_decode(x)
    expected = torch.zeros(2, 1, 20, 30)
    expected[:, 0, :, 1:] = 2.0 * x[:, 35, :, :-1]          # zero padding at the west edge
    assert torch.allclose(y - y0, expected, atol=1e-5)


def test_skip_must_be_odd():
    with pytest.raises(ValueError, match="odd"):
        section("model", skip=2)
