"""The method registry against hand-computed answers and against plain Captum."""

import numpy as np
import pytest
import torch
from captum.attr import DeepLift
from torch import nn

from climemu.attribution.methods import METHODS, attribute
from climemu.attribution.pixel import relative_delta

H, W = 5, 7


def linear_model() -> nn.Conv2d:
    """A bias-free 3x3 convolution 36 -> 1 with known weights w[m, a, b] = (m + 1) / 36 + a - b."""
    conv = nn.Conv2d(36, 1, 3, padding=1, bias=False)
    m, a, b = np.meshgrid(np.arange(36), np.arange(3), np.arange(3), indexing="ij")
    with torch.no_grad():
        conv.weight.copy_(torch.tensor((m + 1) / 36 + a - b, dtype=torch.float32)[None])
    return conv


def weight_times_input(conv: nn.Conv2d, x: torch.Tensor, cell) -> torch.Tensor:
    """By hand: output (i, j) = sum over m, a, b of w[m, a, b] x[m, i + a - 1, j + b - 1]."""
    i, j = cell
    w = conv.weight[0].detach()
    expected = torch.zeros_like(x)
    for a in range(3):
        for b in range(3):
            p, q = i + a - 1, j + b - 1
            if 0 <= p < H and 0 <= q < W:          # zero padding: cells off the grid drop out
                expected[:, :, p, q] = w[:, a, b] * x[:, :, p, q]
    return expected


@pytest.mark.parametrize("cell", [(2, 3), (0, 6)])
@pytest.mark.parametrize("method,kwargs", [
    ("deeplift", {}),
    ("integrated_gradients", {"n_steps": 5, "internal_batch_size": 6}),
])
def test_linear_model_is_weight_times_input_and_complete(method, kwargs, cell):
    conv = linear_model()
    x = torch.randn(3, 36, H, W, generator=torch.Generator().manual_seed(1))
    attr, delta = attribute(conv, method, x, cell, return_delta=True, **kwargs)
    expected = weight_times_input(conv, x, cell)
    assert torch.allclose(attr, expected, atol=1e-5)
    output = conv(x)[:, 0, cell[0], cell[1]].detach()
    assert torch.allclose(attr.sum(dim=(1, 2, 3)), output, rtol=1e-5, atol=1e-5)   # f(0) = 0
    assert delta.shape == (3,) and delta.abs().max() < 1e-4
    assert relative_delta(conv, x, cell, delta).max() < 1e-4


@pytest.mark.filterwarnings("ignore:Setting forward, backward hooks")
def test_deeplift_matches_plain_captum_one_sample_at_a_time(bn_relu_conv_net):
    x = torch.randn(4, 36, H, W, generator=torch.Generator().manual_seed(2))
    cell = (1, 4)
    ours = attribute(bn_relu_conv_net, "deeplift", x, cell)
    plain = torch.cat([
        DeepLift(bn_relu_conv_net).attribute(x[k:k + 1].clone().requires_grad_(),
                                             baselines=torch.zeros(1, 36, H, W),
                                             target=(0, *cell)).detach()
        for k in range(x.shape[0])])
    assert (ours - plain).abs().max() <= 1e-5 * plain.abs().max()
    # Not vacuous: the BN statistics make DeepLift differ from gradient x input here.
    ixg = attribute(bn_relu_conv_net, "input_x_gradient", x, cell)
    assert (ours - ixg).abs().max() > 1e-3 * plain.abs().max()


def test_deeplift_on_bn_relu_net_is_complete(bn_relu_conv_net):
    x = torch.randn(3, 36, H, W, generator=torch.Generator().manual_seed(3))
    attr, delta = attribute(bn_relu_conv_net, "deeplift", x, (2, 2), return_delta=True)
    assert relative_delta(bn_relu_conv_net, x, (2, 2), delta).max() < 1e-4


def test_deeplift_shap_default_is_deeplift_with_zero_baseline(bn_relu_conv_net):
    x = torch.randn(2, 36, H, W, generator=torch.Generator().manual_seed(4))
    shap = attribute(bn_relu_conv_net, "deeplift_shap", x, (3, 1))
    deeplift = attribute(bn_relu_conv_net, "deeplift", x, (3, 1))
    assert torch.allclose(shap, deeplift, atol=1e-6)


def test_deeplift_shap_averages_deeplift_over_baseline_samples(bn_relu_conv_net):
    g = torch.Generator().manual_seed(5)
    x, base = torch.randn(2, 36, H, W, generator=g), torch.randn(3, 36, H, W, generator=g)
    shap = attribute(bn_relu_conv_net, "deeplift_shap", x, (2, 5), baselines=base)
    mean = sum(attribute(bn_relu_conv_net, "deeplift", x, (2, 5), baselines=base[k:k + 1])
               for k in range(3)) / 3
    assert torch.allclose(shap, mean, atol=1e-5)
    one = attribute(bn_relu_conv_net, "deeplift_shap", x, (2, 5), baselines=base[0])
    assert torch.allclose(one, attribute(bn_relu_conv_net, "deeplift", x, (2, 5),
                                         baselines=base[:1]), atol=1e-5)


def test_unknown_method_names_the_allowed_ones():
    with pytest.raises(ValueError) as err:
        attribute(linear_model(), "lrp", torch.zeros(1, 36, H, W), (0, 0))
    for name in ("deeplift", "integrated_gradients", "guided_backprop", "deeplift_shap",
                 "saliency", "input_x_gradient"):
        assert name in str(err.value)
    assert set(METHODS) == {"deeplift", "integrated_gradients", "guided_backprop",
                            "deeplift_shap", "saliency", "input_x_gradient"}


def test_options_a_method_does_not_have_are_refused():
    x = torch.zeros(1, 36, H, W)
    with pytest.raises(ValueError, match="return_delta"):
        attribute(linear_model(), "guided_backprop", x, (0, 0), return_delta=True)
    with pytest.raises(ValueError, match="takes no baselines"):
        attribute(linear_model(), "saliency", x, (0, 0), baselines=torch.zeros_like(x))


def test_model_state_is_restored_and_training_mode_does_not_leak(bn_relu_conv_net):
    net = bn_relu_conv_net
    x = torch.randn(3, 36, H, W, generator=torch.Generator().manual_seed(6))
    in_eval = attribute(net, "deeplift", x, (2, 2))
    stats = net[0].running_mean.clone()
    net.train()
    in_train = attribute(net, "deeplift", x, (2, 2))
    assert torch.allclose(in_eval, in_train)                   # explained in eval mode anyway
    assert torch.equal(net[0].running_mean, stats)             # BN statistics untouched
    assert net.training and all(m.training for m in net.modules())
    assert all(p.requires_grad for p in net.parameters())
    with pytest.raises(ValueError):                            # restored after an error too
        attribute(net, "deeplift", x, (H, 0))
    assert net.training and all(p.requires_grad for p in net.parameters())
