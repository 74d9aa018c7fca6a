"""The C kernel behind the head's log-sum-exp and softmax, built once per machine; PyTorch when it cannot be.

``head_kernel.c`` is compiled on first use with the system's C compiler into the user's cache
(``$XDG_CACHE_HOME/isoflop``, keyed by the source, the compiler and the CPU's features), then
checked against float64 PyTorch on random logits before it is used. Without a compiler, or if
the build or the check fails, ``load()`` returns None and the head loss uses PyTorch's own ops:
the same loss to ~1e-6, only slower. ``describe()`` says which, for each run's provenance.
Set ``ISOFLOP_HEAD_KERNEL=pytorch`` to use PyTorch regardless.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("head_kernel.c")
FLAGS = ("-O3", "-march=native", "-shared", "-fPIC")
CHECK_TOLERANCE = 1e-5
_pointer, _long = ctypes.c_void_p, ctypes.c_long


@functools.cache
def load() -> ctypes.CDLL | None:
    """The compiled kernel, or None (PyTorch fallback)."""
    if os.environ.get("ISOFLOP_HEAD_KERNEL") == "pytorch":
        return None
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        return None
    try:
        library = ctypes.CDLL(str(_build(compiler)))
    except (OSError, subprocess.SubprocessError):
        return None
    library.lse_fold.argtypes = [_pointer, _long, _long, _long, _pointer, _pointer]
    library.softmax_scaled.argtypes = [_pointer, _long, _long, _long, _pointer, _pointer]
    return library if _agrees_with_pytorch(library) else None


def describe() -> str:
    """Which head-loss kernel runs: the compiled C one (with its flags) or PyTorch's."""
    return f"C ({SOURCE.name}, {' '.join(FLAGS[:2])})" if load() is not None else "PyTorch"


def lse_fold(logits: torch.Tensor, run_max: torch.Tensor, run_sum: torch.Tensor) -> None:
    """Fold each row's log-sum-exp of ``logits`` (a row-strided fp32 view) into float32 ``run_max`` and
    float64 ``run_sum``: afterwards log-sum-exp so far = run_max + log(run_sum)."""
    rows, columns = logits.shape
    load().lse_fold(logits.data_ptr(), rows, columns, logits.stride(0), run_max.data_ptr(), run_sum.data_ptr())


def softmax_scaled(logits: torch.Tensor, lse: torch.Tensor, scale: torch.Tensor) -> None:
    """In place: logits[r] = exp(logits[r] − lse[r]) · scale[r]."""
    rows, columns = logits.shape
    load().softmax_scaled(logits.data_ptr(), rows, columns, logits.stride(0), lse.data_ptr(), scale.data_ptr())


def _build(compiler: str) -> Path:
    source = SOURCE.read_bytes()
    version = subprocess.run([compiler, "--version"], capture_output=True, check=True, timeout=30).stdout
    key = hashlib.sha256(source + version + " ".join(FLAGS).encode() + _cpu_features()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "isoflop"
    target = cache / f"head_kernel-{key}.so"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    # Built beside the target and renamed: worker processes racing to build never load a partial file.
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        built = Path(scratch) / target.name
        subprocess.run([compiler, *FLAGS, "-o", str(built), str(SOURCE), "-lm"], capture_output=True, check=True, timeout=120)
        os.replace(built, target)
    return target


def _cpu_features() -> bytes:
    """-march=native code is only valid on CPUs with the same features."""
    from ..hardware import cpuinfo

    return cpuinfo().get("flags", "").encode()


def _agrees_with_pytorch(library: ctypes.CDLL) -> bool:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 203, generator=generator) * 4  # odd width: the vector tails are exercised
    expected = torch.logsumexp(logits.double(), dim=1)
    run_max, run_sum = torch.full((5,), float("-inf")), torch.zeros(5, dtype=torch.float64)
    for start in (0, 100):
        block = logits[:, start : start + 100 + 3 * (start > 0)]
        library.lse_fold(block.data_ptr(), 5, block.shape[1], block.stride(0), run_max.data_ptr(), run_sum.data_ptr())
    lse = run_max.double() + run_sum.log()
    lse32, scale = lse.float(), torch.rand(5, generator=generator)  # named: a temporary's memory is freed at once
    softmax = logits.clone()
    library.softmax_scaled(softmax.data_ptr(), 5, 203, 203, lse32.data_ptr(), scale.data_ptr())
    wanted = (logits.double() - expected.unsqueeze(1)).exp() * scale.double().unsqueeze(1)
    return bool((lse - expected).abs().max() < CHECK_TOLERANCE and (softmax.double() - wanted).abs().max() < CHECK_TOLERANCE)
