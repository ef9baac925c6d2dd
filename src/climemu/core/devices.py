"""Which device a stage runs on (``auto`` is the GPU where there is one, else the CPU), in which
memory layout, and in which precision."""

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


# Precision: bf16 autocast where the hardware computes in it natively (docs/performance.md,
# "Half precision"). The flags are the CPU's own report (Linux /proc/cpuinfo): AVX-512 BF16 or
# AMX tiles compute bf16 products natively; elsewhere oneDNN emulates them, slower than fp32.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
CPUINFO = "/proc/cpuinfo"


def cpu_supports_bf16(cpuinfo: str = CPUINFO) -> bool:
    """Whether this CPU reports native bf16 arithmetic (False where the report is unreadable)."""
    try:
        with open(cpuinfo) as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def resolve_precision(name: str, device: torch.device) -> str:
    """``fp32`` or ``bf16`` for a stage on ``device``: ``auto`` is bf16 where the hardware has it."""
    supported = (torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_supports_bf16())
    if name == "auto":
        return "bf16" if supported else "fp32"
    if name == "bf16" and not supported:
        raise UserError(f"precision: 'bf16' requested but this {device.type.upper()} does not compute "
                        "in bf16 natively (no avx512_bf16 / amx_bf16 flag, or a GPU without bf16); "
                        "set train.precision to 'auto' or 'fp32' in params.yaml")
    return name


def autocast(precision: str, device: torch.device):
    """The context a forward pass runs in: bf16 autocast, or nothing for fp32 (weights, optimizer
    state and the loss stay fp32 either way)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
