"""What this machine's CPU can do: its model, its flags, and whether it multiplies bf16 natively."""

from __future__ import annotations

import functools
from pathlib import Path

# x86 flags of native bf16 arithmetic: AVX512-BF16 dot products, and AMX tiles.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
# The flags every benchmark names beside its numbers.
SHOWN_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


@functools.cache
def cpuinfo() -> dict[str, str]:
    """The first processor's ``/proc/cpuinfo`` fields (empty where there is none: not Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields = {}
    for line in text.splitlines():
        if not line.strip():
            break
        name, _, value = line.partition(":")
        fields[name.strip()] = value.strip()
    return fields


def cpu_flags() -> set[str]:
    return set(cpuinfo().get("flags", "").split())


def bf16_missing() -> str | None:
    """None when this CPU multiplies bf16 natively, else what it lacks."""
    if not cpuinfo():
        return "cannot tell whether this CPU has bf16 arithmetic (no /proc/cpuinfo)"
    if cpu_flags() & set(BF16_FLAGS):
        return None
    return f"this CPU has neither {' nor '.join(BF16_FLAGS)} (its bf16 would be emulated, slower than fp32)"


def describe_cpu() -> str:
    """The CPU's model and the flags that matter to the engines' speed: "AMD EPYC (avx2, avx512f; no amx_bf16)"."""
    flags = cpu_flags()
    has = [flag for flag in SHOWN_FLAGS if flag in flags]
    lacks = [flag for flag in SHOWN_FLAGS if flag not in flags]
    listed = ", ".join(has) + (f"; no {', '.join(lacks)}" if lacks else "")
    return f"{cpuinfo().get('model name', 'unknown CPU')} ({listed})"


# Dense bf16 peaks (FLOP/s, no sparsity) of the accelerators MFU is quoted against, by a name fragment; the first
# fragment found in the device's name counts (vendors' data sheets).
BF16_PEAKS = (("H200", 989.4e12), ("H100 PCIe", 756.0e12), ("H100", 989.4e12), ("A100", 312.0e12), ("L40S", 362.0e12),
              ("L4", 121.0e12))


def accelerator_peak_flops() -> float | None:
    """The dense bf16 peak of this process's GPU, or None (no GPU, or one not in ``BF16_PEAKS``: no MFU then)."""
    import torch

    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    return next((peak for fragment, peak in BF16_PEAKS if fragment in name), None)
