"""Table 1 of the paper, block by block (docs/model.md)."""

import pytest
import torch
from torch import nn

from climemu.config import ModelConfig
from climemu.models.registry import build_model, count_parameters
from climemu.models.densenet import DenseNet
from tests.helpers import section

TABLE_1 = {"stem": 129_600, "dense1": 70_080, "down": 101_952, "dense2": 119_136,
           "up": 101_952, "dense3": 49_056, "last": 34_524}


def test_parameter_counts_per_block_and_total():
    model = DenseNet()
    for block, expected in TABLE_1.items():
        assert count_parameters(getattr(model, block)) == expected, block
    assert count_parameters(model) == 606_300


def test_block_shapes_follow_table_1():
    model = DenseNet().eval()
    x = torch.zeros(1, 36, 70, 125)
    shapes = {}
    with torch.no_grad():
        for name in model.BLOCKS:
            x = getattr(model, name)(x)
            shapes[name] = tuple(x.shape[1:])
    assert shapes == {"stem": (144, 35, 63), "dense1": (192, 35, 63), "down": (96, 18, 32),
                      "dense2": (192, 18, 32), "up": (96, 36, 64), "dense3": (144, 36, 64),
                      "last": (1, 70, 125)}


def test_relus_are_separate_modules_and_not_in_place():
    # DeepLift's rescale rule is applied per module; a reused or in-place ReLU breaks it.
    model = DenseNet()
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    # dense blocks 3 + 6 + 3, down 2, up 2, last 3: one module per BN-ReLU pair
    assert len(relus) == len({id(m) for m in relus}) == 19
    assert not any(m.inplace for m in relus)
    assert not any(m.bias is not None for m in model.modules() if isinstance(m, nn.Conv2d))


@pytest.mark.parametrize("mode", ["nearest", "bicubic"])
def test_registry_builds_other_grids(mode):
    model = build_model(section("model", upsample=mode, skip=0), grid=(20, 30))
    assert model(torch.zeros(2, 36, 20, 30)).shape == (2, 1, 20, 30)
    assert count_parameters(model) == 606_300   # Table 1's; counts do not depend on the grid
    with_skip = build_model(section("model", upsample=mode, skip=3), grid=(20, 30))
    assert count_parameters(with_skip) == 606_300 + 36 * 3 * 3      # the path: one weight per month and cell


def test_unknown_arch_is_refused():
    cfg = ModelConfig.model_construct(arch="resnet", upsample="nearest")
    with pytest.raises(ValueError, match="allowed: densenet"):
        build_model(cfg, grid=(20, 30))
