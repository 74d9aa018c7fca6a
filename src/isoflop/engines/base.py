"""The engine interface: a pack of runs that share a setup goes in, one result per run comes out.

A study never knows which engine trained its runs; engines never know about studies
or the results store.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..budget import Budget

StepCallback = Callable[[int], None]
"""Called with a number of optimizer steps just completed, for progress display."""


@dataclass(frozen=True)
class TrainingSetup:
    """Everything the runs of one pack share.

    ``train_chunks`` are the study's training samples in corpus order (a run with D
    unique samples uses the first D); ``val_chunks`` are evaluated after every step.
    """

    model: str
    model_config: Any
    tokenizer: Any
    learning_rate: float
    budget: Budget
    train_chunks: list[list[int]]
    val_chunks: list[list[int]]
    save_models_to: Path | None = None  # when set, each run's final model is saved to <folder>/<run key>
    schedule: str = "linear"  # learning-rate decay to 0: "linear" or "cosine"
    warmup_steps: int = 0
    eval_every: int = 1  # evaluate after every this many steps, and always after the last


@dataclass(frozen=True)
class RunRequest:
    key: str
    unique_samples: int
    seed: int


@dataclass
class RunResult:
    """Per-step training metrics (step ``i`` at index ``i - 1``) and the validation losses at ``eval_steps``."""

    key: str
    engine: str
    status: str  # "completed" or "failed"
    wall_seconds: float
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    error: str | None = None


class Engine(Protocol):
    name: str

    def train(self, setup: TrainingSetup, runs: list[RunRequest], on_step: StepCallback) -> Iterator[RunResult]:
        """Train every run; yield each result as soon as it is final."""
        ...


class NonFiniteLoss(Exception):
    """A run's loss became NaN or infinite: the run fails, the study goes on."""


def check_finite(step: int, name: str, value: float) -> None:
    if not math.isfinite(value):
        raise NonFiniteLoss(f"{name} is {value} at step {step}")
