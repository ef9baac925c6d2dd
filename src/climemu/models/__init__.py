"""Emulator architectures by name: ``model.arch`` picks one (a new one is a module and an entry)."""

from __future__ import annotations

from typing import Callable

from torch import nn

from climemu.config import ModelConfig
from climemu.models.densenet import DenseNet

ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "densenet": DenseNet,
}


def build_model(cfg: ModelConfig, grid: tuple[int, int], months: int = 36) -> nn.Module:
    try:
        arch = ARCHITECTURES[cfg.arch]
    except KeyError:
        raise ValueError(f"model.arch: unknown architecture {cfg.arch!r}; "
                         f"allowed: {', '.join(sorted(ARCHITECTURES))}") from None
    return arch(grid=grid, months=months, upsample=cfg.upsample)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
