"""A run as it is stored: one typed record with its full config, provenance and per-step metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StepMetric:
    """One optimizer step of a run: training loss, learning rate, validation loss where evaluated."""

    step: int
    train_loss: float | None
    val_loss: float | None  # None where the step was not evaluated
    learning_rate: float | None


@dataclass(frozen=True)
class RunRecord:
    """Everything known of one finished run.

    FLOPs follow ``flop_convention``; ``wall_seconds`` runs from the start of the run's pack
    to its result, and ``pack_runs`` runs were trained together in that time (1 for the
    reference engine). ``grid`` is the run's point in its study's grid.
    """

    key: str
    study_key: str
    kind: str
    label: str
    grid: dict[str, Any]
    seed: int
    status: str  # "completed" or "failed"
    error: str | None
    engine: str
    precision: str
    flop_convention: str
    wall_seconds: float
    pack_runs: int
    model: str
    parameters: int
    non_embedding_parameters: int
    flops_per_token: float
    train_flops: float
    eval_flops: float
    tokens: int
    unique_samples: int
    unique_tokens: int
    epochs: float
    budget_flops: float | None
    final_val_loss: float | None
    best_val_loss: float | None
    best_step: int | None
    bits_per_byte: float | None
    data_fingerprint: str
    config: dict[str, Any]
    versions: dict[str, str]
    finished: str = ""
    attempts: int = 1  # how many times its pack was started (more than 1 after a worker died)
    initial_val_loss: float | None = None  # validation loss before the first step (None: not measured, runs before 0.4)
    schedule: str = ""  # the learning-rate schedule: linear, cosine or wsd ("" where the run had none)
    annealed: bool = True  # whether the rate was brought down to 0 by its last step (every schedule isoflop trains)
    trained_flops: float | None = None  # training FLOPs computed for this run: train_flops less what a trunk shared
    data_span: int | None = None  # how many of the first training samples it drew from (its fingerprint covers them)
    flop_counts: dict[str, float] = field(default_factory=dict)  # training FLOPs per token by convention (models.counts)
    tokens_per_second: float | None = None  # training tokens computed per second of its wall time
    mfu: dict[str, float] = field(default_factory=dict)  # model-FLOPs utilisation by convention, where the peak is known
    metrics: tuple[StepMetric, ...] = field(default_factory=tuple)

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    def evaluated(self) -> list[StepMetric]:
        return [m for m in self.metrics if m.val_loss is not None]


# Columns stored as JSON text.
JSON_FIELDS = ("grid", "config", "versions", "flop_counts", "mfu")
SCALAR_FIELDS = tuple(
    name for name in RunRecord.__dataclass_fields__ if name not in JSON_FIELDS and name != "metrics"
)
