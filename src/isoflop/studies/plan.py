"""Planning a study into runs, each with a stable key derived from its full config."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..engines.base import RunRequest
from .config import ScarcityConfig

KEY_LENGTH = 16


def stable_key(payload: dict[str, Any]) -> str:
    """A short hash of canonical JSON: equal configs give equal keys on every machine."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:KEY_LENGTH]


def study_key(config: ScarcityConfig) -> str:
    return stable_key({"study": "scarcity", **config.study_identity()})


def run_config(config: ScarcityConfig, unique_samples: int, seed: int) -> dict[str, Any]:
    """The full config of one run: the study's identity plus its grid point."""
    return {"study": "scarcity", **config.study_identity(), "unique_samples": unique_samples, "seed": seed}


def plan_runs(config: ScarcityConfig) -> list[RunRequest]:
    """One run per (D, seed), smallest D first."""
    return [
        RunRequest(key=stable_key(run_config(config, d, seed)), unique_samples=d, seed=seed)
        for d in config.unique_samples
        for seed in config.seeds
    ]
