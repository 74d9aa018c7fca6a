"""A recipe's run (pretrain, finetune) as an ordinary run record in ``OUTPUT/results.sqlite``: ``isoflop show OUTPUT``
lists it, with its curve, config, library versions and data fingerprint, like any study's run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.prepare import bytes_per_token, fingerprint
from ..hardware import accelerator_peak_flops
from ..keys import stable_key
from ..provenance import library_versions
from ..results.build import RunFacts, build_record
from ..results.records import RunRecord, StepMetric
from ..results.store import Store


@dataclass(frozen=True)
class RecipeRun:
    """What a recipe's run contributes to its record: config, model, counts, curve, validation windows."""

    kind: str  # "pretrain" or "finetune"
    config: dict[str, Any]
    model: str
    parameters: int
    non_embedding: int
    flops_per_token: float  # full convention
    tokens: int
    samples: int  # sequences (windows or blocks) trained on, repeats included
    unique_samples: int  # distinct sequences among them
    unique_tokens: int
    history: list[dict]  # per step: step, train_loss, learning_rate, eval_loss where evaluated
    validation: list[list[int]]  # the validation token ids the evaluations used
    tokenizer: object  # to count the validation text's bytes (bits per byte)
    seconds: float
    precision: str
    engine: str  # the loop that trained it: accelerate (pretrain), reference (the HF Trainer, finetune)
    flop_counts: dict[str, float] = field(default_factory=dict)  # FLOPs per token by convention (models.counts)


def save_recipe_run(out: Path, run: RecipeRun) -> RunRecord:
    """The run as an ordinary record in ``OUTPUT/results.sqlite`` (``isoflop show`` lists it), built by
    ``results.build`` as a study's runs are."""
    key = stable_key({"kind": run.kind, **run.config})
    facts = RunFacts(
        key=key, study_key=key, kind=run.kind, label=f"{run.kind} {run.model}", grid={}, seed=int(run.config.get("seed", 0)),
        engine=run.engine, precision=run.precision, flop_convention="full", wall_seconds=run.seconds, model=run.model,
        parameters=run.parameters, non_embedding_parameters=run.non_embedding, flops_per_token=run.flops_per_token,
        tokens=run.tokens, samples=run.samples, unique_samples=run.unique_samples, unique_tokens=run.unique_tokens,
        budget_flops=None, eval_tokens_per_evaluation=sum(len(w) for w in run.validation),
        val_bytes_per_token=bytes_per_token(run.validation, run.tokenizer), data_fingerprint=fingerprint(run.validation),
        config=run.config, versions=library_versions(), schedule=str(run.config.get("schedule", "")),
        flop_counts=run.flop_counts, peak_flops=accelerator_peak_flops(),
    )
    metrics = tuple(StepMetric(h["step"], h.get("train_loss"), h.get("eval_loss"), h.get("learning_rate")) for h in run.history)
    record = build_record(facts, metrics)
    with Store(out) as store:
        store.ensure_study(key, run.kind, run.config)
        store.save(record)
    return record
