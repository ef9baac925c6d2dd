"""The ``train`` section.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from climemu.core.config import Strict


class TrainConfig(Strict):
    epochs: int = Field(8, ge=1)
    batch_size: int = Field(16, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-5, ge=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    channels_last: bool = False
    num_threads: int = Field(0, ge=0)   # 0: torch's default
    # Processes under torchrun (DistributedDataParallel): NCCL on GPUs, gloo on CPU cores.
    # batch_size is the global batch; each process takes batch_size / nproc samples of it.
    nproc: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _divisible(self) -> "TrainConfig":
        if self.batch_size % self.nproc:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of nproc "
                             f"({self.nproc}): each process takes an equal share of every batch")
        return self
