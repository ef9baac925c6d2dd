"""Evaluation mode with frozen parameters, for the duration of an attribution or ablation."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from torch import nn


@contextmanager
def frozen_eval(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode with ``requires_grad=False`` on every parameter; restore after.

    Why eval mode: DeepLift runs the input and its baseline through the network as one batch,
    so BatchNorm in training mode would mix their statistics (and update its running
    statistics); the emulator must be explained as it predicts (docs/model.md, attribution).
    Why frozen parameters: attributions need gradients with respect to the inputs only;
    autograd then skips every weight gradient (docs/performance.md, Captum).
    The previous mode of each submodule and flag of each parameter are restored even on error,
    so a model in the middle of training comes back exactly as it was.
    """
    modes = {module: module.training for module in model.modules()}
    flags = {param: param.requires_grad for param in model.parameters()}
    model.eval()
    for param in flags:
        param.requires_grad_(False)
    try:
        yield model
    finally:
        for module, training in modes.items():
            module.training = training
        for param, flag in flags.items():
            param.requires_grad_(flag)
