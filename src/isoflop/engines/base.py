"""The engine interface: a pack of runs goes in, one result per run comes out.

A run is plain, serialisable data (``RunSpec``): its seed, model, unique samples, steps,
optimizer settings and evaluation steps. A pack is runs that share everything but their
seed and data, so an engine may train them together. Engines know nothing of studies or
the results store.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..config.parts import EngineConfig, OptimizerConfig
from ..data.order import sample_order, stream_order, stream_span
from ..data.prepare import PreparedData
from ..training.live import LiveCurve

StepCallback = Callable[[int], None]
"""Called with a number of optimizer steps just completed, for progress display."""


@dataclass(frozen=True)
class RunSpec:
    """One run, with every per-run setting an engine needs.

    ``unique_samples`` is D, the distinct training samples the run reads, in the order ``data.order`` gives its
    seed: with ``order`` "epochs", epochs over the first D samples; with "stream", a prefix of its seed's stream
    (capped at ``pool`` samples). ``trunk`` names the runs that share their steps before their cooldowns (wsd runs
    of one model, seed and settings at several budgets): an engine that can branch trains them from one trunk.
    """

    key: str
    label: str
    seed: int
    model: str
    dropout: float | None
    unique_samples: int
    steps: int
    optimizer: OptimizerConfig
    eval_steps: tuple[int, ...]
    order: str = "epochs"
    pool: int | None = None
    trunk: str | None = None

    @property
    def passes(self) -> int:
        return self.steps * self.optimizer.batch_size

    def sample_order(self) -> list[int]:
        """The training sample of each pass, in order."""
        if self.order == "stream":
            return stream_order(self.passes, self.seed, self.pool)
        return sample_order(self.unique_samples, self.passes, self.seed)

    @property
    def data_span(self) -> int:
        """How many of the first training samples the run draws from (what its data fingerprint covers)."""
        return stream_span(self.passes, self.pool) if self.order == "stream" else self.unique_samples

    @property
    def branch_step(self) -> int:
        """The steps this run shares with its trunk: those before its cooldown (and its warmup), all of them without
        a cooldown."""
        optimizer = self.optimizer
        return min(self.steps, max(optimizer.warmup_for(self.steps), self.steps - optimizer.cooldown_for(self.steps)))

    def pack_signature(self) -> tuple:
        """Runs with equal signatures can share a pack: only their seed and data differ."""
        return (self.model, self.dropout, self.steps, self.optimizer, self.eval_steps)


@dataclass(frozen=True)
class Pack:
    """Runs an engine may train together (they differ only in seed and data), and where it may save, checkpoint and
    write its runs' curves as they train."""

    runs: tuple[RunSpec, ...]
    save_models_to: Path | None = None  # when set, each run's final model is saved to <folder>/<run key>
    checkpoint_dir: Path | None = None  # where an engine that trains runs together may keep its pack's checkpoints
    trunk_dir: Path | None = None  # where an engine that branches keeps its trunks' states (``training.trunks``)
    live_dir: Path | None = None  # where each run appends its curve as it trains (``training.live``), if followed

    @property
    def first(self) -> RunSpec:
        return self.runs[0]

    def live(self, run: RunSpec) -> LiveCurve:
        return LiveCurve(self.live_dir, run.key)


@dataclass
class RunResult:
    """Per-step training metrics (step ``i`` at index ``i - 1``) and the validation losses at ``eval_steps``.

    ``wall_seconds`` is the time from the start of the run's pack to its result, and
    ``pack_runs`` how many runs were trained together in that time.
    """

    key: str
    engine: str
    status: str  # "completed" or "failed"
    wall_seconds: float
    pack_runs: int = 1
    attempts: int = 1  # set by an executor that restarted the pack after its worker died
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    error: str | None = None
    initial_val_loss: float | None = None  # the validation loss before the first step (the model as built)
    trained_steps: int | None = None  # steps this result's training computed, when a trunk shared the others (None: all)


class Engine(Protocol):
    """The engine interface: from its config part, says what it supports, how many runs a pack holds, and trains
    packs."""

    name: str

    def __init__(self, config: EngineConfig) -> None: ...

    def supports(self, models: list[str], vocab_size: int) -> str | None:
        """None when this engine can train a study of these model specs (on this machine, at its precision), else
        the reason it cannot. Decided before the study is planned: run keys name the engine."""
        ...

    def pack_limit(self, pack_run: RunSpec, data: PreparedData, runs: int) -> int:
        """How many runs like ``pack_run`` to train in one pack (at most ``runs``)."""
        ...

    def train(self, pack: Pack, data: PreparedData, on_step: StepCallback) -> Iterator[RunResult]:
        """Train every run of the pack; yield each result as soon as it is final."""
        ...


def not_gpt2(engine: str, models: list[str], vocab_size: int) -> str | None:
    """Why ``engine`` (which stacks GPT-2's blocks only) cannot train ``models``, or None."""
    from ..models.build import model_config

    for model in sorted(set(models)):
        kind = getattr(model_config(model, vocab_size), "model_type", None)
        if kind != "gpt2":
            return (f"the {engine} engine stacks GPT-2 models only, not {kind!r} ({model}); the fast (CPU) and reference "
                    "engines train every family")
    return None


class NonFiniteLoss(Exception):
    """A run's loss became NaN or infinite: the run fails, the study goes on."""


def check_finite(step: int, name: str, value: float) -> None:
    """Raise ``NonFiniteLoss`` when a loss is NaN or infinite (the run fails, the study goes on)."""
    if not math.isfinite(value):
        raise NonFiniteLoss(f"{name} is {value} at step {step}")
