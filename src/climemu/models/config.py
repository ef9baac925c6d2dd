"""The ``model`` section: which architecture and its options.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from climemu.core.config import Strict
from climemu.core.registry import Names

# The architectures ``model.arch`` accepts. Their builders live in ``models/registry.py``, which
# is made over this list and checks at import that it holds the same names: reading the params
# imports no network code.
ARCHITECTURE_NAMES = Names("architecture", ["densenet", "densenet_fnn"])


class ModelConfig(Strict):
    arch: Annotated[str, AfterValidator(ARCHITECTURE_NAMES.check)]
    # Table 1 says nearest, the paper's text bicubic (docs/model.md).
    upsample: Literal["nearest", "bilinear", "bicubic"]
    fnn_channels: int = Field(ge=1)   # densenet_fnn: maps mixed by the bottleneck's Linear
    # Not in Table 1: the side of a linear convolution from the input straight to the output
    # (0: none, the paper's network; docs/model.md, "A full-resolution path").
    skip: int = Field(ge=0)

    @field_validator("skip")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v and v % 2 == 0:
            raise ValueError(f"must be 0 (no skip path) or odd (a centred kernel), got {v}; "
                             f"use 1, 3 or 5")
        return v
