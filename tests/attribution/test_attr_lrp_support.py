"""Why the method registry has no LRP (docs/measures.md, "LRP-type rules"): Captum's LRP has no rule
for the network's nearest-neighbour upsampling, and its pass-through rule cannot follow a layer
that changes the map's size. When a Captum release handles either, these tests fail: then LRP
can join the registry."""

from __future__ import annotations

import pytest
import torch
from captum.attr import LRP
from captum.attr._utils.lrp_rules import IdentityRule

from climemu.config import load_params
from climemu.models.densenet import Upsample
from climemu.models.registry import build_model


class _Cell(torch.nn.Module):
    """One output cell as the scalar LRP explains."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)[:, 0, 4, 4][:, None]


def _model():
    torch.manual_seed(0)
    return build_model(load_params().model, (16, 16)).eval()


def test_captum_lrp_has_no_rule_for_the_upsampling_layer():
    with pytest.raises(TypeError, match="has no rule defined"):
        LRP(_Cell(_model())).attribute(torch.randn(1, 36, 16, 16), target=0)


def test_captum_lrp_pass_through_rule_fails_on_a_size_changing_layer():
    model = _model()
    for m in model.modules():
        if isinstance(m, Upsample):
            m.rule = IdentityRule()
    with pytest.raises(RuntimeError, match="changed the size"):
        LRP(_Cell(model)).attribute(torch.randn(1, 36, 16, 16), target=0)
