"""A new architecture or attribution method is one module and one registry entry: the config
accepts its name, and the stages run it, with nothing else to change."""

from __future__ import annotations

import runpy

import pytest
import torch
import xarray as xr
import yaml
from torch import nn

from climemu.attribution.methods import METHODS, Method, register_method, unregister_method
from climemu.config import ConfigError
from climemu.core import paths, tracking
from climemu.models.registry import ARCHITECTURES, register_architecture, unregister_architecture
from climemu.training.checkpoint import load_checkpoint
from tests.helpers import ROOT, TINY, merge, params, raw_params

ARCH = "tiny_conv1x1"
METHOD = "tiny_grad_x_input"


class Conv1x1(nn.Module):
    """The emulator's contract at its smallest: (B, months, H, W) -> (B, 1, H, W), one block."""

    BLOCKS = ["conv"]          # the sanity cascade re-initialises these, output first

    def __init__(self, months: int):
        super().__init__()
        self.conv = nn.Conv2d(months, 1, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class GradTimesInput:
    """Gradient x input written by hand, with the interface of a Captum attribution class."""

    def __init__(self, forward_func):
        self.forward_func = forward_func          # (B, months, H, W) -> (B,): one output cell

    def attribute(self, inputs: torch.Tensor) -> torch.Tensor:
        (grad,) = torch.autograd.grad(self.forward_func(inputs).sum(), inputs)
        return inputs * grad


@pytest.fixture
def registered():
    register_architecture(ARCH, lambda cfg, grid, months: Conv1x1(months))
    register_method(METHOD, Method(GradTimesInput, uses_baselines=False, has_delta=False))
    yield
    unregister_architecture(ARCH)
    unregister_method(METHOD)


OVERRIDES = merge(TINY, {"model": {"arch": ARCH},
                         "explain": {"methods": [METHOD, "saliency"], "group_method": METHOD}})


def test_unregistered_names_are_refused_with_the_registry_names():
    with pytest.raises(ConfigError) as err:
        params(OVERRIDES)
    msg = str(err.value)
    assert f"model.arch: unknown architecture {ARCH!r}; allowed: densenet, densenet_fnn" in msg
    assert f"explain.group_method: unknown attribution method {METHOD!r}; allowed: deeplift," in msg


def test_registered_names_are_accepted_and_listed(registered):
    p = params(OVERRIDES)
    assert (p.model.arch, p.explain.group_method) == (ARCH, METHOD)
    with pytest.raises(ConfigError, match=f"allowed: .*{METHOD}"):
        params(explain={"group_method": "lrp"})


def test_registration_is_undone():
    assert ARCH not in ARCHITECTURES and METHOD not in METHODS
    with pytest.raises(ValueError, match="already registered"):
        register_method("deeplift", METHODS["deeplift"])


def _run_stage(name: str) -> None:
    runpy.run_path(str(ROOT / "stages" / f"{name}.py"), run_name="__main__")


def test_a_registered_architecture_and_method_run_through_the_stages(registered, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT / "stages"))    # as `python stages/x.py` has it (environment.py)
    monkeypatch.setattr(tracking, "log_stage", lambda *args, **kwargs: None)   # no MLflow here
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(merge(raw_params(), OVERRIDES), sort_keys=False))
    for stage in ("fetch", "smooth", "window", "train", "explain"):
        _run_stage(stage)

    model, meta = load_checkpoint(paths.MODEL)
    assert isinstance(model, Conv1x1) and meta["model"]["arch"] == ARCH
    with xr.open_dataset(paths.INSTANCE) as instance, xr.open_dataset(paths.GROUP) as group:
        assert list(instance["method"].values) == [METHOD, "saliency", "truth"]
        assert group.attrs["method"] == METHOD
        a = instance["attribution"].sel(method=METHOD)
        assert float(abs(a).sum()) > 0 and bool(a.notnull().all())
