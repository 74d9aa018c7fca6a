"""The one builder of run records, for studies and recipes alike: every derived number computed here, once.

A caller says what the run was (``RunFacts``: its identity, model, counts and the data it saw) and
hands over its per-step metrics; the builder derives the rest in one way for every kind of run:
training FLOPs (``flops_per_token × tokens``), evaluation FLOPs (``models.counts.evaluation_flops``), the
final and best validation loss, bits per byte (``data.prepare.bits_per_byte``, special tokens
counting no bytes) and the completion status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..models.counts import evaluation_flops, utilisation
from ..data.prepare import bits_per_byte
from .records import RunRecord, StepMetric


@dataclass(frozen=True)
class RunFacts:
    """What a run was, as its trainer knows it (the columns of ``RunRecord`` that are not derived)."""

    key: str
    study_key: str
    kind: str
    label: str
    grid: dict[str, Any]
    seed: int
    engine: str
    precision: str
    flop_convention: str
    wall_seconds: float
    model: str
    parameters: int
    non_embedding_parameters: int
    flops_per_token: float  # training FLOPs per token in ``flop_convention``
    tokens: int  # training tokens, repeats included
    samples: int  # training sequences, repeats included
    unique_samples: int  # distinct training sequences (D; a finetune epoch's blocks; a pretrain pass's windows)
    unique_tokens: int
    budget_flops: float | None
    eval_tokens_per_evaluation: int
    val_bytes_per_token: float  # UTF-8 bytes of text per validation token (special tokens count none)
    data_fingerprint: str
    config: dict[str, Any]
    versions: dict[str, str]
    pack_runs: int = 1
    attempts: int = 1
    schedule: str = ""
    trained_tokens: int | None = None  # training tokens computed for this run when a trunk shared the rest (None: all)
    data_span: int | None = None  # the first training samples it drew from (None: its unique samples)
    flop_counts: dict[str, float] = field(default_factory=dict)  # FLOPs per token by convention (models.counts)
    peak_flops: float | None = None  # the device's bf16 peak, where known: its MFU


def build_record(facts: RunFacts, metrics: tuple[StepMetric, ...], failure: str | None = None,
                 initial_val_loss: float | None = None) -> RunRecord:
    """The stored record of a run: completed when its trainer reports no ``failure`` and it was evaluated at least
    once; ``initial_val_loss``: the validation loss before its first step, where the trainer measured it."""
    evaluated = [m for m in metrics if m.val_loss is not None]
    completed = failure is None and bool(evaluated)
    best = min(evaluated, key=lambda m: m.val_loss) if completed else None
    final = evaluated[-1].val_loss if completed else None
    error = failure if failure is not None else (None if completed else "no evaluation was recorded")
    trained_tokens = facts.tokens if facts.trained_tokens is None else facts.trained_tokens
    speed = trained_tokens / facts.wall_seconds if facts.wall_seconds > 0 else None
    return RunRecord(
        key=facts.key, study_key=facts.study_key, kind=facts.kind, label=facts.label, grid=facts.grid, seed=facts.seed,
        status="completed" if completed else "failed", error=error, engine=facts.engine, precision=facts.precision,
        flop_convention=facts.flop_convention, wall_seconds=facts.wall_seconds, pack_runs=facts.pack_runs,
        attempts=facts.attempts, model=facts.model, parameters=facts.parameters,
        non_embedding_parameters=facts.non_embedding_parameters, flops_per_token=facts.flops_per_token,
        train_flops=facts.flops_per_token * facts.tokens,
        eval_flops=evaluation_flops(facts.flops_per_token, facts.eval_tokens_per_evaluation
                                    * (len(evaluated) + (initial_val_loss is not None))),
        tokens=facts.tokens, unique_samples=facts.unique_samples, unique_tokens=facts.unique_tokens,
        epochs=facts.samples / max(facts.unique_samples, 1), budget_flops=facts.budget_flops, final_val_loss=final,
        best_val_loss=best.val_loss if best else None, best_step=best.step if best else None,
        bits_per_byte=bits_per_byte(final, facts.val_bytes_per_token) if completed else None,
        data_fingerprint=facts.data_fingerprint, config=facts.config, versions=facts.versions, metrics=metrics,
        initial_val_loss=initial_val_loss, schedule=facts.schedule, annealed=True,
        trained_flops=facts.flops_per_token * trained_tokens, flop_counts=facts.flop_counts, tokens_per_second=speed,
        mfu=utilisation(facts.flop_counts, speed, facts.peak_flops),
        data_span=facts.unique_samples if facts.data_span is None else facts.data_span,
    )
