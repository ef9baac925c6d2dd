"""The pixel-wise wrapper explains the cell it names, and only that cell (paper Sec. 3.2)."""

import pytest
import torch

from climemu.attribution.config import MethodOptions
from climemu.attribution.methods import METHODS, attribute, method_kwargs
from climemu.attribution.pixel import PixelOutput, relative_delta

H, W = 6, 9                                  # not square: a swapped (i, j) would show
MONTH, SOURCE, TARGET = 7, (1, 6), (4, 2)    # output TARGET copies input month 7 at SOURCE


def inputs(seed=0):
    x = torch.randn(3, 36, H, W, generator=torch.Generator().manual_seed(seed))
    x[:, MONTH, SOURCE[0], SOURCE[1]] = torch.tensor([1.5, -2.0, 0.25])   # known, non-zero
    return x


def test_wrapper_returns_the_named_cell(copy_cell):
    x = inputs()
    out = PixelOutput(copy_cell(MONTH, SOURCE, TARGET), TARGET)(x)
    assert out.shape == (3,)
    assert torch.equal(out, x[:, MONTH, SOURCE[0], SOURCE[1]])


# Occlusion of single inputs; KernelSHAP's superpixels are whole months (36 features).
OPTIONS = MethodOptions(smoothgrad_samples=4, smoothgrad_stdev=0.5, occlusion_window=(1, 1, 1),
                        kernel_shap_samples=200, superpixel=(1, H, W), per_eval=16)


# The controls ignore the model: tests/attribution/test_attr_methods.py.
@pytest.mark.parametrize("method", [m for m in sorted(METHODS) if not METHODS[m].control])
def test_attribution_is_nonzero_only_at_the_copied_input(method, copy_cell):
    x = inputs()
    attr = attribute(copy_cell(MONTH, SOURCE, TARGET), method, x, TARGET,
                     **(method_kwargs(method, 50, None, OPTIONS) if METHODS[method].options else {}))
    value = x[:, MONTH, SOURCE[0], SOURCE[1]]
    if method == "kernel_shap":            # the copied input's month holds its value, spread evenly
        expected = torch.zeros_like(x)
        expected[:, MONTH] = value[:, None, None] / (H * W)
        # a float32 weighted least-squares fit: errors of 1e-5 on values of 0.04
        assert torch.allclose(attr, expected, atol=1e-4)
        return
    # d out / d x = 1 at the source; times the input for the methods that multiply by it.
    expected = (torch.ones_like(value) if method in ("saliency", "guided_backprop", "smoothgrad")
                else value)
    assert torch.allclose(attr[:, MONTH, SOURCE[0], SOURCE[1]], expected, atol=1e-6)
    attr[:, MONTH, SOURCE[0], SOURCE[1]] = 0
    assert attr.abs().max() == 0


def test_another_output_cell_sees_another_input_cell(copy_cell):
    x = inputs()
    attr = attribute(copy_cell(MONTH, SOURCE, TARGET), "deeplift", x, (TARGET[0], TARGET[1] + 1))
    assert attr[:, MONTH, SOURCE[0], SOURCE[1]].abs().max() == 0
    assert torch.allclose(attr[:, MONTH, SOURCE[0], SOURCE[1] + 1],
                          x[:, MONTH, SOURCE[0], SOURCE[1] + 1])


@pytest.mark.parametrize("cell", [(H, 0), (0, W), (-1, 0)])
def test_cell_off_the_grid_is_refused(cell, copy_cell):
    with pytest.raises(ValueError, match="outside"):
        attribute(copy_cell(MONTH, SOURCE, TARGET), "deeplift", inputs(), cell)


def test_relative_delta_by_hand(copy_cell):
    x = inputs()
    model = copy_cell(MONTH, SOURCE, TARGET)
    delta = torch.tensor([0.3, 0.5, -0.1])
    # f(x) - f(0) = x at the source: 1.5, -2.0, 0.25.
    assert torch.allclose(relative_delta(model, x, TARGET, delta),
                          torch.tensor([0.2, 0.25, 0.4]))
    # With baseline 1.0: f(x) - f(1) = 0.5, -3.0, -0.75.
    assert torch.allclose(relative_delta(model, x, TARGET, delta, baselines=1.0),
                          torch.tensor([0.6, 0.5 / 3, 0.1 / 0.75]))
