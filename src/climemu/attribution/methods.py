"""The attribution methods of the paper (Sec. 3.1), by name, through Captum.

The paper compares Guided Backprop, Integrated Gradients, DeepLift and DeepLiftShap, all with
zero baselines, and uses DeepLift for everything after Fig. 2. Saliency and Input x Gradient
are added because the geoscience benchmark of Mamalakis et al. (2022) ranks them
(docs/measures.md, agreement); SmoothGrad, block Occlusion and superpixel KernelSHAP, and two
controls that ignore the model (a random map, the inputs' edges), so that the judges have
methods of every family to rank and something they must rank last (:mod:`.perturb`). Every
method explains one output cell (paper Sec. 3.2, :mod:`climemu.attribution.pixel`).

Adding a method is one module and one entry: a class built on the explained function (the
network reduced to one output cell, ``(B, months, H, W) -> (B,)``) whose ``attribute(inputs,
**kwargs)`` returns attributions of the inputs' shape, as Captum's classes do, then::

    register_method("mymethod", Method(MyMethod, uses_baselines=False, has_delta=False))

``explain.methods`` and ``explain.group_method`` accept exactly the names registered here; the
built-in names are listed in ``METHOD_NAMES`` (``attribution/config.py``), so that reading the
params imports no Captum, and this registry refuses to load when the two differ.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from captum.attr import (DeepLift, DeepLiftShap, GuidedBackprop, InputXGradient,
                         IntegratedGradients, Saliency)
from torch import nn

from climemu.attribution.config import METHOD_NAMES, MethodOptions
from climemu.attribution.frozen import frozen_eval
from climemu.attribution.perturb import (BlockOcclusion, EdgeMap, RandomMap, SmoothGrad,
                                         SuperpixelKernelShap)
from climemu.attribution.pixel import PixelOutput, check_cell
from climemu.core.registry import Registry


@dataclass(frozen=True)
class Method:
    """One Captum method and what it accepts."""

    captum_class: type
    uses_baselines: bool   # explains f(x) - f(baseline): DeepLift, IG, DeepLiftShap
    has_delta: bool        # Captum returns a per-sample convergence delta we expose
    # Additive over a linear path: the map of network + w * x is the network's map plus w ⊙ x
    # (zero baseline), so a skip path's part of the map is exact (attribution/skip.py).
    linear_split: bool = False
    # A control: ignores the model (random) or the model and its weights (edges). Scored beside
    # the methods, ranked apart: a judge must put every control below every method.
    control: bool = False
    options: tuple[str, ...] = ()   # the explain.options it takes (method_kwargs)


METHODS: Registry[Method] = Registry(METHOD_NAMES, {
    "deeplift": Method(DeepLift, uses_baselines=True, has_delta=True, linear_split=True),
    "integrated_gradients": Method(IntegratedGradients, uses_baselines=True, has_delta=True,
                                   linear_split=True),
    "guided_backprop": Method(GuidedBackprop, uses_baselines=False, has_delta=False),
    "deeplift_shap": Method(DeepLiftShap, uses_baselines=True, has_delta=False),
    # Captum's default abs=True: the classic saliency map |df/dx|, hence never negative.
    "saliency": Method(Saliency, uses_baselines=False, has_delta=False),
    "input_x_gradient": Method(InputXGradient, uses_baselines=False, has_delta=False, linear_split=True),
    "smoothgrad": Method(SmoothGrad, uses_baselines=False, has_delta=False,
                         options=("smoothgrad_samples", "smoothgrad_stdev")),
    # Zero baseline inside (the paper's reference input), not exposed as a baselines argument.
    "occlusion": Method(BlockOcclusion, uses_baselines=False, has_delta=False,
                        options=("occlusion_window", "per_eval")),
    "kernel_shap": Method(SuperpixelKernelShap, uses_baselines=False, has_delta=False,
                          options=("superpixel", "kernel_shap_samples", "per_eval")),
    "random": Method(RandomMap, uses_baselines=False, has_delta=False, control=True),
    "edges": Method(EdgeMap, uses_baselines=False, has_delta=False, control=True),
})

# explain.options key -> the keyword the method's attribute() takes.
_OPTION_KWARGS = {"smoothgrad_samples": "samples", "smoothgrad_stdev": "stdev",
                  "occlusion_window": "window", "per_eval": "per_eval", "superpixel": "superpixel",
                  "kernel_shap_samples": "samples"}

register_method = METHODS.register       # (name, Method(...))
unregister_method = METHODS.unregister


def get_method(name: str) -> Method:
    """The registry entry for ``name``; ValueError naming the allowed values otherwise."""
    return METHODS[METHODS.check(name)]


def _shap_baselines(baselines, inputs: torch.Tensor) -> torch.Tensor:
    """Baseline samples ``(N >= 2, 36, H, W)`` for DeepLiftShap.

    Captum's DeepLiftShap asserts more than one baseline sample. It averages DeepLift over the
    baseline samples, so a single baseline repeated twice gives exactly DeepLift with that
    baseline; the paper's "zero baselines" are therefore two zero maps by default.
    """
    if baselines is None:
        base = torch.zeros_like(inputs[:1])                  # (1, 36, H, W)
    else:
        base = torch.as_tensor(baselines).to(inputs)
        base = base.unsqueeze(0) if base.ndim == inputs.ndim - 1 else base
    if base.ndim != inputs.ndim or base.shape[1:] != inputs.shape[1:]:
        raise ValueError(f"deeplift_shap baselines must be (N, *{tuple(inputs.shape[1:])}); "
                         f"got {tuple(base.shape)}")
    return base.repeat(2, 1, 1, 1) if base.shape[0] == 1 else base   # (N >= 2, 36, H, W)


def controls(methods) -> list[str]:
    """The controls among ``methods``, in order (names not registered are no controls)."""
    return [m for m in methods if m in METHODS and METHODS[m].control]


def method_kwargs(method: str, n_steps: int, shap_base: torch.Tensor | None,
                  options: MethodOptions | None = None) -> dict:
    """The keyword arguments each method takes beyond the inputs (see :func:`attribute`):
    Integrated Gradients' steps, DeepLiftShap's baselines, the others' ``explain.options``."""
    if method == "integrated_gradients":
        return {"n_steps": n_steps}
    if method == "deeplift_shap":
        return {"baselines": shap_base}
    keys = get_method(method).options
    if keys and options is None:
        raise ValueError(f"{method!r} needs explain.options ({', '.join(keys)})")
    return {_OPTION_KWARGS[k]: getattr(options, k) for k in keys}


def attribute(model: nn.Module, method: str, inputs: torch.Tensor, cell: tuple[int, int], *,
              baselines=None, n_steps: int = 50, internal_batch_size: int | None = None,
              return_delta: bool = False, **options):
    """Attributions ``(B, 36, H, W)`` of output cell ``cell = (i, j)`` to every input value.

    ``inputs``: ``(B, 36, H, W)``. ``baselines`` (deeplift, integrated_gradients,
    deeplift_shap only): None means zero, as in the paper; for deeplift / integrated_gradients
    a number or a tensor of the inputs' shape (or one sample, broadcast); for deeplift_shap a
    tensor of baseline samples ``(N, 36, H, W)``. ``n_steps``: integration steps of Integrated
    Gradients, which evaluates the network on ``B * n_steps`` inputs, ``internal_batch_size``
    at a time (at least ``B``; default ``B``, so memory stays that of one forward of the batch).
    ``return_delta`` (deeplift, integrated_gradients): also return Captum's convergence delta
    ``(B,)`` = sum(attr) - (f(x) - f(baseline)); see :func:`~.pixel.relative_delta`.
    ``options``: the other methods' settings, as :func:`method_kwargs` gives them.

    The model is explained in eval mode with frozen parameters (:func:`~.frozen.frozen_eval`).
    """
    spec = get_method(method)
    if return_delta and not spec.has_delta:
        raise ValueError(f"return_delta is available for deeplift and integrated_gradients, "
                         f"not {method!r}")
    if baselines is not None and not spec.uses_baselines:
        raise ValueError(f"{method!r} takes no baselines")
    x = torch.as_tensor(inputs, dtype=torch.float32).detach()   # (B, 36, H, W)
    if x.ndim != 4:
        raise ValueError(f"inputs must be (batch, months, lat, lon); got shape {tuple(x.shape)}")
    cell = check_cell(cell, x.shape[2], x.shape[3])

    unknown = set(options) - {_OPTION_KWARGS[k] for k in spec.options}
    if unknown:
        raise ValueError(f"{method!r} takes no {', '.join(sorted(unknown))}")
    kwargs: dict = dict(options)
    if method == "deeplift_shap":
        kwargs["baselines"] = _shap_baselines(baselines, x)
    elif spec.uses_baselines:
        if baselines is None:
            baselines = 0.0                                  # the paper's zero baseline
        elif isinstance(baselines, torch.Tensor):
            baselines = baselines.to(x)                      # (B or 1, 36, H, W)
        kwargs["baselines"] = baselines
    if method == "integrated_gradients":
        kwargs["n_steps"] = n_steps
        kwargs["internal_batch_size"] = internal_batch_size or x.shape[0]
    if return_delta:
        kwargs["return_convergence_delta"] = True

    # Captum would otherwise set requires_grad itself and warn about it on every call.
    x.requires_grad_(True)
    with frozen_eval(model), warnings.catch_warnings():
        # Captum announces, on every call, that it hooks the ReLUs and removes the hooks after.
        warnings.filterwarnings("ignore", message=r"Setting (forward, )?backward hooks")
        result = spec.captum_class(PixelOutput(model, cell)).attribute(x, **kwargs)
    if return_delta:
        attr, delta = result
        return attr.detach(), delta.detach()
    return result.detach()
