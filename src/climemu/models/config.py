"""The ``model`` section: which architecture and its options.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from climemu.core.config import Strict


class ModelConfig(Strict):
    arch: Literal["densenet", "densenet_fnn"] = "densenet"
    # Table 1 says nearest, the paper's text bicubic (docs/model.md).
    upsample: Literal["nearest", "bilinear", "bicubic"] = "nearest"
    fnn_channels: int = Field(1, ge=1)   # densenet_fnn: maps mixed by the bottleneck's Linear
