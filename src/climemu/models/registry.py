"""Emulator architectures by name: ``model.arch`` picks one, and ``ModelConfig`` checks the name here.

Adding an architecture is one module and one entry: write the network (``forward(x)`` maps
``(B, months, H, W)`` to ``(B, 1, H, W)``; a ``BLOCKS`` list of its layer names if the sanity
cascade should re-initialise it block by block), then::

    register_architecture("mynet", lambda cfg, grid, months: MyNet(grid, months))

and add its name to ``ARCHITECTURE_NAMES`` in ``models/config.py`` (the list ``model.arch``
accepts; this registry refuses to load when the two differ).
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from climemu.core.registry import Registry
from climemu.models.config import ARCHITECTURE_NAMES
from climemu.models.densenet import DenseNet
from climemu.models.densenet_fnn import DenseNetFNN

# builder(cfg, grid, months) -> the network; cfg is the ``model`` section (``ModelConfig``).
Builder = Callable[[object, tuple[int, int], int], nn.Module]

ARCHITECTURES: Registry[Builder] = Registry(ARCHITECTURE_NAMES, {
    "densenet": lambda cfg, grid, months: DenseNet(grid, months, cfg.upsample, cfg.skip),
    "densenet_fnn": lambda cfg, grid, months: DenseNetFNN(grid, months, cfg.upsample,
                                                             cfg.fnn_channels, cfg.skip),
})

register_architecture = ARCHITECTURES.register       # (name, builder)
unregister_architecture = ARCHITECTURES.unregister
check_architecture = ARCHITECTURES.check             # name, or ValueError listing the names


def build_model(cfg, grid: tuple[int, int], months: int = 36) -> nn.Module:
    """The network that ``cfg`` (the ``model`` section) names, for a ``grid`` of (lat, lon) cells."""
    # Checked again here: a checkpoint may name an architecture this process has not registered.
    try:
        arch = ARCHITECTURES[check_architecture(cfg.arch)]
    except ValueError as e:
        raise ValueError(f"model.arch: {e}") from None
    return arch(cfg, tuple(grid), months)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
