"""Engines train packs of runs; every engine implements ``base.Engine``."""

from .base import Engine, RunRequest, RunResult, TrainingSetup
from .reference import ReferenceEngine

ENGINES = {ReferenceEngine.name: ReferenceEngine}

__all__ = ["ENGINES", "Engine", "ReferenceEngine", "RunRequest", "RunResult", "TrainingSetup"]
