"""``models/model.pt``: the weights together with what is needed to use them.

Config, grid, ocean mask and the training-period normalisation travel with the weights, so a
checkpoint explains itself without the data stages' outputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from climemu.models.config import ModelConfig
from climemu.data.window import WindowedData
from climemu.core import paths
from climemu.core.errors import UserError
from climemu.core.io import save_torch
from climemu.models.registry import build_model


def save_checkpoint(path: str | Path, model: nn.Module, model_cfg: ModelConfig, data: WindowedData,
                    extra: dict | None = None) -> None:
    save_torch({
        "state_dict": model.state_dict(),
        "model": model_cfg.model_dump(),
        "grid": tuple(data.ocean.shape),
        "input_months": data.input_months,
        "lead": data.lead,
        "lat": data.lat, "lon": data.lon, "ocean": data.ocean,
        "scale": data.scale,                 # degC per normalised unit
        "climatology": data.climatology,     # (12, lat, lon) degC, training period
        **(extra or {}),
    }, path)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """The model in eval mode and the checkpoint's metadata."""
    meta = torch.load(path, map_location=device, weights_only=False)
    # checkpoints written before ``model.skip`` existed have no skip path
    model = build_model(ModelConfig(**{"skip": 0, **meta["model"]}), tuple(meta["grid"]), meta["input_months"])
    model.load_state_dict(meta.pop("state_dict"))
    meta["ocean"] = np.asarray(meta["ocean"], dtype=bool)
    return model.to(device).eval(), meta


def load_trained(allow_test: bool = False) -> tuple[nn.Module, WindowedData]:
    """The pipeline's trained network (eval mode, CPU) and the windowed data it was trained on.

    ``allow_test``: only the evaluate stage reads the test split (docs/data.md, leakage).
    """
    if not Path(paths.MODEL).is_file():
        raise UserError(f"{paths.MODEL} is missing: the train stage writes it. Run `dvc repro` "
                        "(or `dvc repro train`) before this stage")
    model, _ = load_checkpoint(paths.MODEL)
    return model, WindowedData.open(paths.SMOOTHED, paths.WINDOWS, allow_test=allow_test)
