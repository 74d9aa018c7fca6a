"""The data-scarcity study: fixed compute, a grid of unique-sample counts D.

Everything a study can get wrong is checked before the output folder is touched; runs
are then trained by an engine and written to the store one by one as they finish.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..budget import Budget
from ..data.prepare import bits_per_byte, bytes_per_token, fingerprint, take_chunks
from ..data.sources import load_splits
from ..engines import Engine, RunRequest, RunResult, TrainingSetup, select_engine
from ..errors import UsageError
from ..models import ParameterCount, context_length, count_parameters, model_config
from ..provenance import library_versions
from ..store import Store
from ..tokenizers import load_tokenizer
from .config import ScarcityConfig
from .plan import plan_runs, run_config, study_key

STUDY_KIND = "scarcity"
MODELS_FOLDER = "models"


@dataclass(frozen=True)
class PreparedStudy:
    config: ScarcityConfig
    setup: TrainingSetup
    parameters: ParameterCount
    val_bytes_per_token: float


@dataclass(frozen=True)
class StudyOutcome:
    folder: Path
    trained: int
    skipped: int
    failed: list[str]


def prepare(config: ScarcityConfig) -> PreparedStudy:
    """Load and check everything the runs need; raises UsageError before anything is written."""
    budget = Budget(passes=config.budget_passes, seq_len=config.seq_len, batch_size=config.batch_size)
    tokenizer = load_tokenizer(config.tokenizer)
    architecture = model_config(config.model, len(tokenizer), config.dropout)
    context = context_length(architecture)
    if config.seq_len > context:
        raise UsageError(f"seq_len {config.seq_len} exceeds the context of model {config.model!r} ({context} tokens)")
    train_rows, val_rows = load_splits(config.train_data, config.validation_data, config.text_column)
    needed = max(config.unique_samples)
    train_chunks = take_chunks(train_rows, tokenizer, config.seq_len, config.chunking, limit=needed)
    if not train_chunks:
        raise UsageError(
            f"the training data has no full {config.seq_len}-token chunk ({config.chunking} chunking); "
            "use longer texts, --chunking packed, or a smaller --seq-len"
        )
    if len(train_chunks) < needed:
        raise UsageError(
            f"D={needed} is larger than the {len(train_chunks)} training chunks of {config.seq_len} tokens available; "
            "lower --unique-samples or use more training data"
        )
    val_chunks = take_chunks(val_rows, tokenizer, config.seq_len, config.chunking, limit=config.eval_samples)
    if len(val_chunks) < config.eval_samples:
        raise UsageError(
            f"the validation data has {len(val_chunks)} chunks of {config.seq_len} tokens but --eval-samples asks "
            f"for {config.eval_samples}; lower --eval-samples or use more validation data"
        )
    setup = TrainingSetup(
        model=config.model,
        model_config=architecture,
        tokenizer=tokenizer,
        learning_rate=config.learning_rate,
        budget=budget,
        train_chunks=train_chunks,
        val_chunks=val_chunks,
        save_models_to=Path(config.output) / MODELS_FOLDER if config.save_models else None,
    )
    return PreparedStudy(
        config=config,
        setup=setup,
        parameters=count_on_meta_device(architecture),
        val_bytes_per_token=bytes_per_token(val_chunks, tokenizer),
    )


def run_study(
    config: ScarcityConfig,
    engine: Engine | None = None,
    echo: Callable[[str], None] = print,
    progress: bool = True,
) -> StudyOutcome:
    """Prepare, skip what the folder already holds, train the rest, write the report."""
    from ..report import write_report

    prepared = prepare(config)
    engine = engine or select_engine(config.engine, config.precision, prepared.setup.model_config, config.pack_size)
    folder = Path(config.output)
    planned = plan_runs(config)
    with Store(folder) as store:
        store.ensure_study(study_key(config), STUDY_KIND, config.study_identity())
        done = store.completed_keys()
        todo = [run for run in planned if run.key not in done]
        skipped = len(planned) - len(todo)
        if skipped:
            echo(f"skipping {skipped} completed run(s) already in {folder}")
        failed = _train(prepared, engine, todo, store, echo, progress)
        write_report(store.runs(), folder, _report_context(prepared))
    return StudyOutcome(folder=folder, trained=len(todo), skipped=skipped, failed=failed)


def _train(prepared, engine, todo, store, echo, progress) -> list[str]:
    from tqdm.auto import tqdm

    failed: list[str] = []
    if not todo:
        return failed
    steps = prepared.setup.budget.steps
    by_key = {run.key: run for run in todo}
    with tqdm(total=len(todo) * steps, unit="step", disable=not progress, desc=f"{len(todo)} runs") as bar:
        for result in engine.train(prepared.setup, todo, bar.update):
            run = by_key[result.key]
            record, metrics = _record(prepared, run, result)
            store.save_run(record, metrics)
            bar.set_postfix_str(f"D={run.unique_samples} seed={run.seed} val={record['final_val_loss'] or float('nan'):.3f}")
            if result.status != "completed":
                failed.append(f"D={run.unique_samples} seed={run.seed}: {result.error}")
                echo(f"run D={run.unique_samples} seed={run.seed} failed: {result.error}")
    return failed


def _record(prepared: PreparedStudy, run: RunRequest, result: RunResult) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    config, setup = prepared.config, prepared.setup
    budget = setup.budget
    metrics = step_metrics(result)
    evaluated = [m for m in metrics if m["val_loss"] is not None]
    completed = result.status == "completed" and evaluated
    best = min(evaluated, key=lambda m: m["val_loss"]) if completed else None
    record = {
        "key": run.key,
        "study_key": study_key(config),
        "unique_samples": run.unique_samples,
        "seed": run.seed,
        "status": result.status,
        "error": result.error,
        "engine": result.engine,
        "precision": config.precision,
        "wall_seconds": result.wall_seconds,
        "epochs": budget.epochs(run.unique_samples),
        "parameters": prepared.parameters.total,
        "non_embedding_parameters": prepared.parameters.non_embedding,
        "train_flops": budget.train_flops(prepared.parameters.total),
        "eval_flops": budget.eval_flops(prepared.parameters.total, config.eval_samples),
        "data_fingerprint": fingerprint(setup.train_chunks[: run.unique_samples], setup.val_chunks),
        "final_val_loss": evaluated[-1]["val_loss"] if completed else None,
        "best_val_loss": best["val_loss"] if best else None,
        "best_step": best["step"] if best else None,
        "model": config.model,
        "budget_flops": budget.train_flops(prepared.parameters.total),
        "tokens": budget.tokens,
        "unique_tokens": run.unique_samples * config.seq_len,
        "flops_per_token": budget.train_flops(prepared.parameters.total) / budget.tokens,
        "bits_per_byte": bits_per_byte(evaluated[-1]["val_loss"], prepared.val_bytes_per_token) if completed else None,
        "config_json": json.dumps(run_config(config, run.unique_samples, run.seed), sort_keys=True),
        "versions_json": json.dumps(library_versions(), sort_keys=True),
    }
    return record, metrics


def step_metrics(result: RunResult) -> list[dict[str, Any]]:
    """One row per training step; the validation loss where that step was evaluated."""
    validation = dict(zip(result.eval_steps, result.val_loss))
    return [
        {"step": step, "train_loss": train, "val_loss": validation.get(step), "learning_rate": lr}
        for step, (train, lr) in enumerate(zip(result.train_loss, result.learning_rate), start=1)
    ]


def _report_context(prepared: PreparedStudy) -> dict[str, Any]:
    config = prepared.config
    return {
        "config": config.model_dump(mode="json"),
        "parameters": prepared.parameters.total,
        "train_flops": prepared.setup.budget.train_flops(prepared.parameters.total),
    }


def count_on_meta_device(architecture) -> ParameterCount:
    """Parameter counts without allocating weights."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return count_parameters(AutoModelForCausalLM.from_config(architecture))
