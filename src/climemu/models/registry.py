"""Emulator architectures by name: ``model.arch`` picks one, and ``ModelConfig`` checks the name here.

Adding an architecture is one module and one entry: write the network (``forward(x)`` maps
``(B, months, H, W)`` to ``(B, 1, H, W)``; a ``BLOCKS`` list of its layer names if the sanity
cascade should re-initialise it block by block), then::

    register_architecture("mynet", lambda cfg, grid, months: MyNet(grid, months))

This module imports no configuration (the builder's ``cfg`` is a ``ModelConfig``), so
``models/config.py`` can read the registry without an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from torch import nn

from climemu.core.registry import Registry
from climemu.models.densenet import DenseNet
from climemu.models.densenet_fnn import DenseNetFNN

if TYPE_CHECKING:
    from climemu.models.config import ModelConfig

# builder(cfg, grid, months) -> the network
Builder = Callable[["ModelConfig", tuple[int, int], int], nn.Module]

ARCHITECTURES: Registry[Builder] = Registry("architecture", {
    "densenet": lambda cfg, grid, months: DenseNet(grid, months, cfg.upsample),
    "densenet_fnn": lambda cfg, grid, months: DenseNetFNN(grid, months, cfg.upsample, cfg.fnn_channels),
})

register_architecture = ARCHITECTURES.register       # (name, builder)
unregister_architecture = ARCHITECTURES.unregister
check_architecture = ARCHITECTURES.check             # name, or ValueError listing the names
