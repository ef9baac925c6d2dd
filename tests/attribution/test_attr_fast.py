"""DeepLiftCells against values worked out by hand and against Captum's DeepLift itself."""

import pytest
import torch
from torch import nn

from climemu.attribution.fast import EPS, DeepLiftCells, rescale_multiplier
from climemu.attribution.methods import attribute


def one_relu_net(w1=2.0, b=-1.0, w2=3.0) -> nn.Sequential:
    """f(x) = w2 * relu(w1 * x + b), cell by cell (1x1 convolutions, one channel)."""
    net = nn.Sequential(nn.Conv2d(1, 1, 1, bias=True), nn.ReLU(), nn.Conv2d(1, 1, 1, bias=False))
    with torch.no_grad():
        net[0].weight.fill_(w1)
        net[0].bias.fill_(b)
        net[2].weight.fill_(w2)
    return net.eval()


def test_rescale_rule_by_hand():
    # Zero baseline: the ReLU's reference input is b = -1 (output 0). At x = 1.5 the input
    # is 2, so the multiplier is (2 - 0) / (2 - (-1)) = 2/3 and the attribution
    # x * w2 * (2/3) * w1 = 1.5 * 3 * 2/3 * 2 = 6 = f(x) - f(0); gradient x input would give 9.
    # At x = 0.25 the input is -0.5: both outputs 0, attribution 0.
    x = torch.tensor([1.5, 0.25]).reshape(2, 1, 1, 1)
    engine = DeepLiftCells(one_relu_net(), (1, 1, 1))
    attr, out = engine.attribute(x, [(0, 0)])
    assert attr.shape == (1, 2, 1, 1, 1)
    assert attr.flatten().tolist() == pytest.approx([6.0, 0.0])
    assert out.flatten().tolist() == pytest.approx([6.0, 0.0])


def test_falls_back_to_the_gradient_where_input_equals_reference():
    # x = 0 equals the baseline: Captum's rule uses the plain gradient there; x * grad = 0.
    engine = DeepLiftCells(one_relu_net(b=1.0), (1, 1, 1))
    attr, _ = engine.attribute(torch.zeros(1, 1, 1, 1), [(0, 0)])
    assert attr.item() == 0.0


def test_rescale_multiplier_by_hand():
    # (relu(z) - relu(z0)) / (z - z0), and the ReLU's gradient (z > 0) where |z - z0| < EPS:
    # z, z0 = 2, -1: 2 / 3;  -1, -2: 0 / 1 = 0;  3, 1: 2 / 2 = 1;  0.5, 0.5 (equal): gradient 1;
    # -0.5, -0.5: gradient 0;  tiny values straddling zero, |z - z0| = 2e-12 < EPS: the gradient,
    # 1 for z > 0 and 0 for z < 0 (the secant would give 0.5 in both).
    tiny = EPS / 100
    z = torch.tensor([2.0, -1.0, 3.0, 0.5, -0.5, tiny, -tiny], dtype=torch.float64).view(1, 7, 1, 1)
    z0 = torch.tensor([-1.0, -2.0, 1.0, 0.5, -0.5, -tiny, tiny], dtype=torch.float64).view(1, 7, 1, 1)
    m = rescale_multiplier(z, torch.relu(z), z0, torch.relu(z0))
    assert m.flatten().tolist() == pytest.approx([2 / 3, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0], abs=1e-15)
    # no input within EPS of its reference: the secant everywhere, no fallback
    m = rescale_multiplier(z[:, :3], torch.relu(z[:, :3]), z0[:, :3], torch.relu(z0[:, :3]))
    assert m.flatten().tolist() == pytest.approx([2 / 3, 0.0, 1.0], abs=1e-15)


def test_folds_each_batchnorm_into_the_relu_after_it(bn_relu_conv_net):
    # BN-ReLU-Conv: both BatchNorms move into the rescale units (identities in their place),
    # and the engine's outputs stay the model's own, bit for bit.
    engine = DeepLiftCells(bn_relu_conv_net, (36, 5, 6))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in engine.net.children())
    assert [type(m).__name__ for m in engine.net.children()][:2] == ["Identity", "_RescaleReLU"]
    x = torch.randn(2, 36, 5, 6, generator=torch.Generator().manual_seed(7))
    _, out = engine.attribute(x, [(2, 3)])
    with torch.no_grad():
        assert torch.equal(out, bn_relu_conv_net(x)[:, 0])


def test_matches_captum_where_no_batchnorm_can_be_folded():
    # A BatchNorm after the ReLU, and one between two convolutions, stay modules of their own.
    g = torch.Generator().manual_seed(8)
    net = nn.Sequential(nn.Conv2d(36, 4, 3, padding=1, bias=False), nn.ReLU(), nn.BatchNorm2d(4),
                        nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4),
                        nn.Conv2d(4, 1, 1, bias=False), nn.ReLU())
    with torch.no_grad():
        for bn in (net[2], net[4]):
            bn.running_mean.copy_(torch.randn(4, generator=g))
            bn.running_var.uniform_(0.5, 1.5, generator=g)
    net.eval()
    x = torch.randn(2, 36, 6, 7, generator=torch.Generator().manual_seed(9))
    engine = DeepLiftCells(net, x.shape)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in engine.net.modules()) == 2
    attr, _ = engine.attribute(x, [(3, 4)])
    expected = attribute(net, "deeplift", x, (3, 4))
    assert torch.allclose(attr[0], expected, rtol=1e-5, atol=1e-6 * expected.abs().max().item())


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_matches_captum_for_several_cells(bn_relu_conv_net, layout):
    x = torch.randn(3, 36, 9, 11, generator=torch.Generator().manual_seed(2))
    cells = [(4, 5), (0, 0), (8, 10)]
    attr, out = DeepLiftCells(bn_relu_conv_net, x.shape, memory_format=layout).attribute(x, cells)
    assert attr.shape == (3, 3, 36, 9, 11)
    for k, cell in enumerate(cells):
        expected = attribute(bn_relu_conv_net, "deeplift", x, cell)
        assert torch.allclose(attr[k], expected, rtol=1e-5, atol=1e-6 * expected.abs().max().item())
        with torch.no_grad():
            assert torch.allclose(out[:, cell[0], cell[1]], bn_relu_conv_net(x)[:, 0, cell[0], cell[1]], atol=1e-6)


def test_matches_captum_with_a_nonzero_baseline(bn_relu_conv_net):
    x = torch.randn(2, 36, 6, 7, generator=torch.Generator().manual_seed(3))
    base = torch.randn(1, 36, 6, 7, generator=torch.Generator().manual_seed(4))
    attr, _ = DeepLiftCells(bn_relu_conv_net, x.shape, baseline=base).attribute(x, [(3, 3)])
    expected = attribute(bn_relu_conv_net, "deeplift", x, (3, 3), baselines=base)
    assert torch.allclose(attr[0], expected, rtol=1e-5, atol=1e-6)


def test_completeness(bn_relu_conv_net):
    # DeepLift sums to f(x) - f(baseline) for every sample and cell (paper Sec. 3.1).
    x = torch.randn(4, 36, 8, 8, generator=torch.Generator().manual_seed(5))
    engine = DeepLiftCells(bn_relu_conv_net, x.shape)
    attr, out = engine.attribute(x, [(1, 2), (6, 6)])
    for k, (i, j) in enumerate([(1, 2), (6, 6)]):
        assert torch.allclose(attr[k].sum((1, 2, 3)), out[:, i, j] - engine.f0[i, j], atol=1e-5)


def test_leaves_the_callers_model_alone(bn_relu_conv_net):
    bn_relu_conv_net.train()
    DeepLiftCells(bn_relu_conv_net, (36, 5, 5)).attribute(torch.randn(1, 36, 5, 5), [(2, 2)])
    assert bn_relu_conv_net.training
    assert all(p.requires_grad for p in bn_relu_conv_net.parameters())
    assert sum(isinstance(m, nn.ReLU) for m in bn_relu_conv_net.modules()) == 2


def test_rejects_inplace_relu_and_cells_off_the_grid():
    net = nn.Sequential(nn.Conv2d(36, 1, 1), nn.ReLU(inplace=True))
    with pytest.raises(ValueError, match="in-place"):
        DeepLiftCells(net, (36, 4, 4))
    engine = DeepLiftCells(one_relu_net(), (1, 3, 3))
    with pytest.raises(ValueError, match="outside the 3 x 3"):
        engine.attribute(torch.ones(1, 1, 3, 3), [(3, 0)])


def test_flops_of_the_work_done_by_hand():
    # The benchmark's honest limit counts the FLOPs of engine.attribute itself: one forward
    # shared by K cells plus K input-gradient passes. Conv 1x1 2 -> 3, ReLU, Conv 1x1 3 -> 1 on
    # B = 2 samples of 4 x 5 cells (40 positions): forward 2*40*2*3 + 2*40*3*1 = 480 + 240
    # = 720 FLOPs; each cell's input gradient (frozen weights) costs the same 720; K = 3 cells:
    # 720 + 3 * 720 = 2,880, i.e. 480 per attribution against 1,440 for a forward + gradient each.
    from climemu.core.cost import count_flops
    net = nn.Sequential(nn.Conv2d(2, 3, 1, bias=False), nn.ReLU(), nn.Conv2d(3, 1, 1, bias=False)).eval()
    engine = DeepLiftCells(net, (2, 4, 5))
    x = torch.randn(2, 2, 4, 5, generator=torch.Generator().manual_seed(6))
    assert count_flops(lambda: engine.attribute(x, [(0, 0), (1, 2), (3, 4)])) == 2_880
