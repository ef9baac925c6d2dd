"""Emulator architectures by name: ``model.arch`` picks one from :mod:`climemu.models.registry`."""

from __future__ import annotations

from torch import nn

from climemu.models.config import ModelConfig
from climemu.models.registry import (ARCHITECTURES, check_architecture, register_architecture,
                                     unregister_architecture)

__all__ = ["ARCHITECTURES", "build_model", "count_parameters", "register_architecture",
           "unregister_architecture"]


def build_model(cfg: ModelConfig, grid: tuple[int, int], months: int = 36) -> nn.Module:
    # Checked again here: a checkpoint may name an architecture this process has not registered.
    try:
        arch = ARCHITECTURES[check_architecture(cfg.arch)]
    except ValueError as e:
        raise ValueError(f"model.arch: {e}") from None
    return arch(cfg, tuple(grid), months)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
