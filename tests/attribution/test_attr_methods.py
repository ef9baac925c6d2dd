"""The method registry against hand-computed answers and against plain Captum."""

import numpy as np
import pytest
import torch
from captum.attr import DeepLift
from torch import nn

from climemu.attribution.config import MethodOptions
from climemu.attribution.methods import METHODS, attribute, controls, method_kwargs
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
    names = {"deeplift", "integrated_gradients", "guided_backprop", "deeplift_shap", "saliency",
             "input_x_gradient", "smoothgrad", "occlusion", "kernel_shap", "random", "edges"}
    for name in names:
        assert name in str(err.value)
    assert set(METHODS) == names
    assert controls(METHODS) == ["random", "edges"]


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


OPTIONS = MethodOptions(smoothgrad_samples=3, smoothgrad_stdev=0.5, occlusion_window=(1, 2, 3),
                        kernel_shap_samples=64, superpixel=(36, 5, 7), per_eval=8)


def block_means(v: torch.Tensor, window) -> torch.Tensor:
    """By hand: every value replaced by the mean of its block (blocks tiling from the origin)."""
    out = torch.empty_like(v)
    wm, wh, ww = window
    for m in range(0, v.shape[1], wm):
        for a in range(0, v.shape[2], wh):
            for b in range(0, v.shape[3], ww):
                block = v[:, m:m + wm, a:a + wh, b:b + ww]
                out[:, m:m + wm, a:a + wh, b:b + ww] = block.mean(dim=(1, 2, 3), keepdim=True)
    return out


def test_smoothgrad_of_a_linear_model_is_its_weights_whatever_the_noise():
    conv, cell = linear_model(), (2, 3)
    x = torch.randn(2, 36, H, W, generator=torch.Generator().manual_seed(2))
    attr = attribute(conv, "smoothgrad", x, cell, **method_kwargs("smoothgrad", 8, None, OPTIONS))
    expected = weight_times_input(conv, torch.ones_like(x), cell)          # the gradient: w at each input
    assert torch.allclose(attr, expected, atol=1e-5)


def test_occlusion_spreads_each_blocks_drop_over_the_block():
    conv, cell = linear_model(), (2, 3)
    x = torch.randn(2, 36, 4, 6, generator=torch.Generator().manual_seed(3))   # blocks 1 x 2 x 3 tile 4 x 6
    global H, W
    h, w = H, W
    H, W = 4, 6
    try:
        expected = block_means(weight_times_input(conv, x, cell), OPTIONS.occlusion_window)
    finally:
        H, W = h, w
    attr = attribute(conv, "occlusion", x, cell, **method_kwargs("occlusion", 8, None, OPTIONS))
    assert torch.allclose(attr, expected, atol=1e-5)


def test_kernel_shap_of_a_linear_model_gives_each_superpixel_its_sum():
    # Superpixels of 36 months x 5 x 7 cells: one feature, the whole input; Shapley = f(x) - f(0).
    conv, cell = linear_model(), (2, 3)
    x = torch.randn(2, 36, H, W, generator=torch.Generator().manual_seed(4))
    opts = OPTIONS.model_copy(update={"superpixel": (12, 5, 4)})           # 3 x 1 x 2 = 6 superpixels
    attr = attribute(conv, "kernel_shap", x, cell, **method_kwargs("kernel_shap", 8, None, opts))
    expected = block_means(weight_times_input(conv, x, cell), (12, 5, 4))
    # Partial blocks at the eastern edge (columns 4-6 of 7): block_means averages over the block's
    # own 3 columns, as the method spreads over the superpixel's own inputs.
    assert torch.allclose(attr, expected, atol=1e-4)
    assert torch.allclose(attr.sum(dim=(1, 2, 3)), conv(x)[:, 0, 2, 3].detach(), atol=1e-4)


def test_the_controls_ignore_the_model_and_the_random_one_the_input():
    x = torch.randn(2, 36, H, W, generator=torch.Generator().manual_seed(5))
    other = nn.Conv2d(36, 1, 3, padding=1, bias=False)
    r1 = attribute(linear_model(), "random", x, (2, 3))
    assert torch.equal(r1, attribute(other, "random", torch.zeros_like(x), (2, 3)))   # a rerun: the same
    assert not torch.equal(r1, attribute(other, "random", x, (1, 3)))               # another cell: not
    e = attribute(linear_model(), "edges", x, (2, 3))
    assert torch.equal(e, attribute(other, "edges", x, (0, 0)))
    assert torch.equal(attribute(other, "edges", torch.full_like(x, 2.0), (0, 0)), torch.zeros_like(x))
    # By hand at an interior cell: Sobel's horizontal and vertical differences, smoothed 1-2-1.
    v = x[0, 0].double()
    k = torch.tensor([1.0, 2.0, 1.0], dtype=torch.float64)
    gx = (k * (v[1:4, 4] - v[1:4, 2])).sum()
    gy = (k * (v[3, 2:5] - v[1, 2:5])).sum()
    assert torch.isclose(e[0, 0, 2, 3].double(), torch.hypot(gx, gy), atol=1e-5)


def test_a_method_without_its_options_says_which_it_needs():
    with pytest.raises(ValueError, match="smoothgrad_samples"):
        method_kwargs("smoothgrad", 8, None, None)
    with pytest.raises(ValueError, match="takes no window"):
        attribute(linear_model(), "saliency", torch.zeros(1, 36, H, W), (0, 0), window=(1, 1, 1))


def test_occlusion_is_captums_where_the_blocks_tile_and_serves_several_cells(bn_relu_conv_net):
    from captum.attr import Occlusion
    from climemu.attribution.perturb import occlusion_maps
    from climemu.attribution.pixel import PixelOutput
    net = bn_relu_conv_net
    x = torch.randn(2, 36, 4, 6, generator=torch.Generator().manual_seed(7))
    x[0, 3] = 0.0                                                  # an all-zero month: skipped, drop 0
    window = (2, 2, 3)
    cells = [(1, 2), (3, 5)]
    both = occlusion_maps(lambda xs: net(xs)[:, 0, [1, 3], [2, 5]], x, window, per_eval=5)
    for k, cell in enumerate(cells):
        ref = Occlusion(PixelOutput(net, cell)).attribute(
            x, sliding_window_shapes=window, strides=window, baselines=0.0) / float(np.prod(window))
        assert torch.allclose(both[k], ref, atol=1e-6)
        assert torch.allclose(both[k], attribute(net, "occlusion", x, cell, window=window, per_eval=3), atol=1e-6)
