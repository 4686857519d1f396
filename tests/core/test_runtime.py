from pathlib import Path

import torch

from mnist_tui.core import runtime
from mnist_tui.core.runtime import autocast_dtype


def test_precision_picks_the_forward_dtype(monkeypatch):
    cpu = torch.device("cpu")
    assert autocast_dtype("fp32", cpu) is None
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    monkeypatch.setattr(runtime, "native_bf16", lambda device: True)
    assert autocast_dtype("auto", cpu) is torch.bfloat16
    monkeypatch.setattr(runtime, "native_bf16", lambda device: False)
    assert autocast_dtype("auto", cpu) is None  # emulated bf16 would be slower than fp32


def test_native_bf16_reads_the_cpu_flags():
    cpuinfo = Path("/proc/cpuinfo")
    words = cpuinfo.read_text().split() if cpuinfo.exists() else []
    expected = "avx512_bf16" in words or "amx_bf16" in words
    assert runtime.native_bf16(torch.device("cpu")) is expected
