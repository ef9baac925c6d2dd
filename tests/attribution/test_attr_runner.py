"""The one batched attribution runner: its batches, its two engines, its outputs and deltas."""

import numpy as np
import pytest
import torch

from climemu.attribution.methods import attribute
from climemu.attribution.runner import AttributionRunner, sample_batches
from climemu.core.devices import memory_layout


@pytest.fixture
def data(windowed):
    return windowed                 # 10 training samples on a 6 x 7 grid


def test_batches_are_consecutive_slices_of_the_positions():
    batches = sample_batches([3, 5, 7, 9, 11], 2)
    assert [b.tolist() for b in batches] == [[3, 5], [7, 9], [11]]
    assert sample_batches([], 4) == []
    with pytest.raises(ValueError, match="batch_size"):
        sample_batches([1, 2], 0)


def test_memory_layout():
    assert memory_layout(True) is torch.channels_last
    assert memory_layout(False) is torch.contiguous_format


def test_runner_batches_hold_the_inputs_in_the_layout(data, bn_relu_conv_net):
    runner = AttributionRunner(bn_relu_conv_net, data, channels_last=True)
    got = list(runner.batches(np.array([0, 2, 4, 6, 8]), 2, shard=True))   # one process: every batch
    assert [p.tolist() for p, _ in got] == [[0, 2], [4, 6], [8]]
    for positions, x in got:
        assert x.shape == (len(positions), 36, 6, 7)
        assert x.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(x, data.inputs("train", positions))


def test_copy_model_puts_every_attribution_on_its_source(data, copy_cell):
    # Output (2, 3) = input month -1 at (1, 1): on both engines, the map of cell (2, 3) is the
    # input there and zero elsewhere; f(x) comes with the fast path.
    model = copy_cell(35, (1, 1), (2, 3))
    positions, x = next(AttributionRunner(model, data).batches(np.arange(4), 4))
    for method, fast in (("deeplift", True), ("deeplift", False), ("input_x_gradient", True)):
        a = AttributionRunner(model, data, fast=fast).attribute(x, [(2, 3)], method)
        assert a.maps.shape == (1, 4, 36, 6, 7) and a.maps.dtype == np.float32
        expected = np.zeros((4, 36, 6, 7), np.float32)
        expected[:, 35, 1, 1] = x[:, 35, 1, 1].numpy()
        np.testing.assert_array_equal(a.maps[0], expected)
        assert (a.outputs is not None) == (method == "deeplift" and fast)


def test_fast_path_agrees_with_captum_and_gives_the_outputs(data, bn_relu_conv_net):
    cells = [(0, 0), (2, 3), (4, 5)]
    fast = AttributionRunner(bn_relu_conv_net, data, channels_last=True)
    captum = AttributionRunner(bn_relu_conv_net, data, channels_last=True, fast=False)
    _, x = next(fast.batches(np.arange(5), 5))
    a = fast.attribute(x, cells, outputs=True, return_delta=True)
    b = captum.attribute(x, cells, outputs=True, return_delta=True)
    assert a.maps.shape == b.maps.shape == (3, 5, 36, 6, 7)
    np.testing.assert_allclose(a.maps, b.maps, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(a.outputs, b.outputs, rtol=1e-5, atol=1e-6)
    assert a.deltas is None and b.deltas.shape == (3, 5)           # Captum's delta: Captum path only
    np.testing.assert_allclose(b.deltas, 0, atol=1e-4)              # DeepLift is complete


def test_captum_path_is_exactly_the_method_call(data, bn_relu_conv_net):
    runner = AttributionRunner(bn_relu_conv_net, data, channels_last=False, n_steps=8)
    _, x = next(runner.batches(np.arange(3), 3))
    a = runner.attribute(x, [(1, 2), (3, 4)], "integrated_gradients", return_delta=True)
    for k, cell in enumerate([(1, 2), (3, 4)]):
        attr, delta = attribute(bn_relu_conv_net, "integrated_gradients", x, cell, n_steps=8,
                                return_delta=True)
        np.testing.assert_array_equal(a.maps[k], attr.numpy())
        np.testing.assert_array_equal(a.deltas[k], delta.numpy())
    assert a.outputs is None
    saliency = runner.attribute(x, [(1, 2)], "saliency", return_delta=True)
    assert saliency.deltas is None                                  # saliency has no delta
