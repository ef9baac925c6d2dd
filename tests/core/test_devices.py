"""Which precision a stage runs in: bf16 only where the hardware computes in it natively."""

import pytest
import torch

from climemu.core import devices
from climemu.core.errors import UserError

CPU = torch.device("cpu")


def _cpuinfo(tmp_path, flags: str) -> str:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    return str(path)


def test_the_cpu_report_decides(tmp_path):
    assert devices.cpu_supports_bf16(_cpuinfo(tmp_path, "fpu sse avx2 avx512f avx512_bf16 amx_tile"))
    assert devices.cpu_supports_bf16(_cpuinfo(tmp_path, "fpu avx512f amx_bf16 amx_tile"))
    assert not devices.cpu_supports_bf16(_cpuinfo(tmp_path, "fpu sse avx2 avx512f avx512bw"))
    assert not devices.cpu_supports_bf16(str(tmp_path / "missing"))


def test_auto_falls_back_to_fp32_without_bf16(monkeypatch):
    monkeypatch.setattr(devices, "cpu_supports_bf16", lambda *a: False)
    assert devices.resolve_precision("auto", CPU) == "fp32"
    assert devices.resolve_precision("fp32", CPU) == "fp32"
    with pytest.raises(UserError, match="'bf16' requested but this CPU does not compute in bf16"):
        devices.resolve_precision("bf16", CPU)


def test_auto_takes_bf16_where_the_cpu_has_it(monkeypatch):
    monkeypatch.setattr(devices, "cpu_supports_bf16", lambda *a: True)
    assert devices.resolve_precision("auto", CPU) == "bf16"
    assert devices.resolve_precision("fp32", CPU) == "fp32"


def test_autocast_runs_the_forward_in_bf16_only_when_asked():
    conv = torch.nn.Conv2d(2, 1, 3)
    x = torch.randn(1, 2, 5, 5)
    with devices.autocast("bf16", CPU):
        assert conv(x).dtype == torch.bfloat16
    with devices.autocast("fp32", CPU):
        assert conv(x).dtype == torch.float32
