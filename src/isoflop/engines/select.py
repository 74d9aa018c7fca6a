"""Choosing the engine of a study: ``auto`` takes the batched engine wherever it applies."""

from __future__ import annotations

from .base import Engine
from .batched import BatchedEngine, supports
from .reference import ReferenceEngine


def select_engine(name: str, precision: str, model_config, pack_size: int | None = None) -> Engine:
    if name == "reference" or (name == "auto" and not supports(model_config)):
        return ReferenceEngine(precision=precision)
    return BatchedEngine(precision=precision, max_members=pack_size)
