"""Library versions and the hardware recorded with every run, so a result can be traced and reproduced (the same
seed sums in another order on another CPU's vector units, so the CPU is part of a number's provenance)."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

from .hardware import describe_cpu

TRACKED_PACKAGES = ("isoflop", "torch", "transformers", "tokenizers", "datasets", "accelerate", "numpy")


def library_versions() -> dict[str, str]:
    """The versions of Python and of every library that can change a number, and the CPU (and GPU, where torch is
    loaded and sees one) that computed it, for the record."""
    versions = {"python": platform.python_version(), "cpu": describe_cpu()}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        versions["gpu"] = torch.cuda.get_device_name(0)
    for package in TRACKED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions
