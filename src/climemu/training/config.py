"""The ``train`` section.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from climemu.core.config import Strict


class TrainConfig(Strict):
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    lr: float = Field(gt=0)
    # Learning rate over training: "constant", or "cosine" (from lr down to 0 over all steps,
    # Loshchilov & Hutter 2017; a function of the step alone, so a resumed run is exact).
    schedule: Literal["constant", "cosine"]
    weight_decay: float = Field(ge=0)
    # The skip path's first weights (model.skip > 0; not in the paper): "random" (PyTorch's
    # default), or "least_squares": the best linear filter of its size on the training split
    # (models/linear.py); the whole network then trains from there (docs/model.md).
    skip_init: Literal["random", "least_squares"]
    device: Literal["auto", "cpu", "cuda"]
    channels_last: bool
    # The network's forward in bf16 autocast (1.9x per step on a CPU with AVX-512 BF16,
    # docs/performance.md); weights, optimizer state, loss and checkpoint stay fp32. "auto":
    # bf16 where the hardware computes in it natively, else fp32 (metrics/train.json says which).
    precision: Literal["fp32", "bf16", "auto"]
    num_threads: int = Field(ge=0)   # 0: torch's default
    # Processes under torchrun (DistributedDataParallel): NCCL on GPUs, gloo on CPU cores.
    # batch_size is the global batch; each process takes batch_size / nproc samples of it.
    nproc: int = Field(ge=1)

    @model_validator(mode="after")
    def _divisible(self) -> "TrainConfig":
        if self.batch_size % self.nproc:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of nproc "
                             f"({self.nproc}): each process takes an equal share of every batch")
        return self
