"""The ``model`` section: which architecture and its options.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from climemu.core.config import Strict
from climemu.models.registry import check_architecture


class ModelConfig(Strict):
    # a name of the registry (climemu.models.registry.ARCHITECTURES), checked there
    arch: Annotated[str, AfterValidator(check_architecture)]
    # Table 1 says nearest, the paper's text bicubic (docs/model.md).
    upsample: Literal["nearest", "bilinear", "bicubic"]
    fnn_channels: int = Field(ge=1)   # densenet_fnn: maps mixed by the bottleneck's Linear
