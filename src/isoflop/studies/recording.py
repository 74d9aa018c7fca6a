"""From an engine's result to the run's stored record: every number derived once, here."""

from __future__ import annotations

from ..budget import evaluation_flops
from ..data.prepare import PreparedData, bits_per_byte
from ..engines.base import RunResult
from ..results.records import RunRecord, StepMetric
from .base import PlannedRun


def step_metrics(result: RunResult) -> tuple[StepMetric, ...]:
    """One row per training step; the validation loss where that step was evaluated."""
    validation = dict(zip(result.eval_steps, result.val_loss))
    return tuple(
        StepMetric(step=step, train_loss=train, val_loss=validation.get(step), learning_rate=lr)
        for step, (train, lr) in enumerate(zip(result.train_loss, result.learning_rate), start=1)
    )


def make_record(
    planned: PlannedRun, result: RunResult, data: PreparedData, study_key: str, kind: str, precision: str,
    versions: dict[str, str],
) -> RunRecord:
    spec = planned.spec
    metrics = step_metrics(result)
    evaluated = [m for m in metrics if m.val_loss is not None]
    completed = result.status == "completed" and bool(evaluated)
    best = min(evaluated, key=lambda m: m.val_loss) if completed else None
    tokens = spec.passes * data.seq_len
    eval_tokens = len(data.val_chunks) * data.seq_len * len(result.eval_steps)
    return RunRecord(
        key=spec.key,
        study_key=study_key,
        kind=kind,
        label=spec.label,
        grid=planned.grid,
        seed=spec.seed,
        status="completed" if completed else "failed",
        error=result.error if result.status != "completed" else (None if completed else "no evaluation was recorded"),
        engine=result.engine,
        precision=precision,
        flop_convention=planned.flop_convention,
        wall_seconds=result.wall_seconds,
        pack_runs=result.pack_runs,
        attempts=result.attempts,
        model=planned.model_name,
        parameters=planned.facts.parameters.total,
        non_embedding_parameters=planned.facts.parameters.non_embedding,
        flops_per_token=planned.flops_per_token,
        train_flops=planned.flops_per_token * tokens,
        eval_flops=evaluation_flops(planned.flops_per_token, eval_tokens),
        tokens=tokens,
        unique_samples=spec.unique_samples,
        unique_tokens=spec.unique_samples * data.seq_len,
        epochs=spec.passes / spec.unique_samples,
        budget_flops=planned.budget_flops,
        final_val_loss=evaluated[-1].val_loss if completed else None,
        best_val_loss=best.val_loss if best else None,
        best_step=best.step if best else None,
        bits_per_byte=bits_per_byte(evaluated[-1].val_loss, data.val_bytes_per_token) if completed else None,
        data_fingerprint=data.run_fingerprint(spec.unique_samples),
        config=planned.config,
        versions=versions,
        metrics=metrics,
    )
