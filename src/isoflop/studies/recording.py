"""From an engine's result to the run's stored record (``results.build`` derives every number)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..data.prepare import PreparedData
from ..engines.base import RunResult
from ..hardware import accelerator_peak_flops
from ..models.counts import every_convention
from ..results.build import RunFacts, build_record
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
    """The stored record of a planned run from its engine result (``results.build``)."""
    spec = planned.spec
    facts = RunFacts(
        key=spec.key, study_key=study_key, kind=kind, label=spec.label, grid=planned.grid, seed=spec.seed,
        engine=result.engine, precision=precision, flop_convention=planned.flop_convention,
        wall_seconds=result.wall_seconds, pack_runs=result.pack_runs, attempts=result.attempts, model=planned.model_name,
        parameters=planned.facts.parameters.total, non_embedding_parameters=planned.facts.parameters.non_embedding,
        flops_per_token=planned.flops_per_token, tokens=spec.passes * data.seq_len, samples=spec.passes,
        unique_samples=spec.unique_samples, unique_tokens=spec.unique_samples * data.seq_len,
        budget_flops=planned.budget_flops, eval_tokens_per_evaluation=len(data.val_chunks) * data.seq_len,
        val_bytes_per_token=data.val_bytes_per_token, data_fingerprint=data.run_fingerprint(spec.data_span),
        config=planned.config, versions=versions, schedule=spec.optimizer.schedule, data_span=spec.data_span,
        trained_tokens=None if result.trained_steps is None else result.trained_steps * spec.optimizer.batch_size * data.seq_len,
        flop_counts=every_convention(planned.facts, data.seq_len), peak_flops=accelerator_peak_flops(),
    )
    failure = (result.error or "the engine reported a failure") if result.status != "completed" else None
    return build_record(facts, step_metrics(result), failure, result.initial_val_loss)


@dataclass(frozen=True)
class Recorder:
    """Turns a round's engine results into stored records, wherever the result arrives (plain data, so a task on a
    cluster can carry it): the planned runs by key, the study's key and kind, the precision, the library versions,
    and where saved models go (each gets the tokenizer beside it, so it loads, and generates, on its own)."""

    planned: dict[str, PlannedRun]
    study_key: str
    kind: str
    precision: str
    versions: dict[str, str]
    save_to: Path | None = None

    def __call__(self, result: RunResult, data: PreparedData) -> RunRecord:
        if self.save_to is not None and (self.save_to / result.key).is_dir():
            data.tokenizer.save_pretrained(self.save_to / result.key)
        return make_record(self.planned[result.key], result, data, self.study_key, self.kind, self.precision,
                           self.versions)
