"""A recipe's run (pretrain, finetune) as an ordinary run record in ``OUT/results.sqlite``: ``isoflop show OUT``
lists it, with its curve, config, library versions and data fingerprint, like any study's run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.prepare import bits_per_byte, fingerprint
from ..keys import stable_key
from ..provenance import library_versions
from ..results.records import RunRecord, StepMetric
from ..results.store import Store


@dataclass(frozen=True)
class RecipeRun:
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
    bytes_per_token: float
    seconds: float
    precision: str
    engine: str  # the loop that trained it: accelerate (pretrain), reference (the HF Trainer, finetune)


def save_recipe_run(out: Path, run: RecipeRun) -> RunRecord:
    evals = [h for h in run.history if h.get("eval_loss") is not None]
    final = evals[-1]["eval_loss"] if evals else None
    best = min(evals, key=lambda h: h["eval_loss"]) if evals else None
    key = stable_key({"kind": run.kind, **run.config})
    record = RunRecord(
        key=key, study_key=key, kind=run.kind, label=f"{run.kind} {run.model}", grid={}, seed=int(run.config.get("seed", 0)),
        status="completed", error=None, engine=run.engine,
        precision=run.precision, flop_convention="full", wall_seconds=run.seconds, pack_runs=1, model=run.model,
        parameters=run.parameters, non_embedding_parameters=run.non_embedding, flops_per_token=run.flops_per_token,
        train_flops=run.flops_per_token * run.tokens,
        eval_flops=run.flops_per_token / 3 * len(evals) * sum(len(w) for w in run.validation),
        tokens=run.tokens, unique_samples=run.unique_samples, unique_tokens=run.unique_tokens,
        epochs=run.samples / max(run.unique_samples, 1), budget_flops=None, final_val_loss=final,
        best_val_loss=best["eval_loss"] if best else None, best_step=best["step"] if best else None,
        bits_per_byte=bits_per_byte(final, run.bytes_per_token) if final is not None else None,
        data_fingerprint=fingerprint(run.validation), config=run.config, versions=library_versions(),
        metrics=tuple(StepMetric(h["step"], h.get("train_loss"), h.get("eval_loss"), h.get("learning_rate"))
                      for h in run.history),
    )
    with Store(out) as store:
        store.ensure_study(key, run.kind, run.config)
        store.save(record)
    return record


def bytes_per_token(tokenizer, rows: list[list[int]]) -> float:
    """UTF-8 bytes per token of ``rows`` (for bits per byte)."""
    return sum(len(tokenizer.decode(r).encode("utf-8")) for r in rows) / max(sum(map(len, rows)), 1)
