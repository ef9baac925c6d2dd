"""Emulator architectures by name: ``model.arch`` picks one (a new one is a module and an entry)."""

from __future__ import annotations

from typing import Callable

from torch import nn

from climemu.models.config import ModelConfig
from climemu.models.densenet import DenseNet
from climemu.models.densenet_fnn import DenseNetFNN

# name -> builder(cfg, grid, months); a new architecture is one module and one entry here.
ARCHITECTURES: dict[str, Callable[[ModelConfig, tuple[int, int], int], nn.Module]] = {
    "densenet": lambda cfg, grid, months: DenseNet(grid, months, cfg.upsample),
    "densenet_fnn": lambda cfg, grid, months: DenseNetFNN(grid, months, cfg.upsample, cfg.fnn_channels),
}


def build_model(cfg: ModelConfig, grid: tuple[int, int], months: int = 36) -> nn.Module:
    try:
        arch = ARCHITECTURES[cfg.arch]
    except KeyError:
        raise ValueError(f"model.arch: unknown architecture {cfg.arch!r}; "
                         f"allowed: {', '.join(sorted(ARCHITECTURES))}") from None
    return arch(cfg, tuple(grid), months)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
