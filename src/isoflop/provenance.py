"""Library versions recorded with every run, so a result can be traced and reproduced."""

from __future__ import annotations

import platform
from importlib import metadata

TRACKED_PACKAGES = ("isoflop", "torch", "transformers", "tokenizers", "datasets", "accelerate", "numpy")


def library_versions() -> dict[str, str]:
    """The versions of Python and of every library that can change a number, for the record."""
    versions = {"python": platform.python_version()}
    for package in TRACKED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions
