"""Engines train packs of runs; every engine implements ``base.Engine``."""

from .base import Engine, RunRequest, RunResult, TrainingSetup
from .batched import BatchedEngine
from .reference import ReferenceEngine
from .select import select_engine

__all__ = ["select_engine", "BatchedEngine", "Engine", "ReferenceEngine", "RunRequest", "RunResult", "TrainingSetup"]
