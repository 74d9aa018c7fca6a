"""The isoFLOP study: at each compute budget C, train several model sizes N on D = C / FLOPs-per-token.

The minimum of final loss over N at fixed C is the compute-optimal model for C; across
budgets, the minima give N*(C), D*(C) and the loss frontier L*(C) (Hoffmann et al. 2022).
Runs are trained by the reference engine (each has its own size, length and schedule) and
stored like scarcity runs, one transaction per run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..budget import Budget, flops_per_token
from ..data.prepare import bits_per_byte, bytes_per_token, fingerprint, take_chunks
from ..data.sources import load_splits
from ..engines import ReferenceEngine, RunRequest, TrainingSetup
from ..errors import UsageError
from ..fit.table import FitTable, read_table
from ..models import LADDER, SCRATCH_PREFIX, model_config
from ..provenance import library_versions
from ..store import Store
from ..tokenizers import load_tokenizer
from .config import IsoflopsConfig
from .plan import stable_key
from .scarcity import count_on_meta_device, step_metrics

STUDY_KIND = "isoflops"


@dataclass(frozen=True)
class PlannedRun:
    """One (budget, size, seed) point with its step count and the unique samples it draws from."""

    request: RunRequest
    budget_flops: float
    size: str
    steps: int
    unique_chunks: int
    flops_per_token: float
    non_embedding: int
    total_parameters: int
    config: dict[str, Any]

    @property
    def tokens(self) -> int:
        return self.steps * self.config["batch_size"] * self.config["seq_len"]


@dataclass(frozen=True)
class IsoflopsOutcome:
    folder: Path
    trained: int
    skipped: int
    too_big: list[str]
    failed: list[str]


def plan(config: IsoflopsConfig, vocab_size: int) -> tuple[list[PlannedRun], list[str]]:
    """Every (budget, size, seed) with at least ``min_steps`` steps; and the pairs skipped as too big."""
    runs, too_big = [], []
    tokens_per_step = config.batch_size * config.seq_len
    for budget in config.budgets:
        for size in config.model_sizes:
            shape = LADDER[size]
            architecture = model_config(SCRATCH_PREFIX + size, vocab_size, config.dropout)
            counts = count_on_meta_device(architecture)
            per_token = flops_per_token(
                counts.non_embedding, shape.n_layer, shape.n_embd, shape.n_head, vocab_size, config.seq_len,
                config.flop_convention,
            )
            steps = round(budget / per_token / tokens_per_step)
            if steps < config.min_steps:
                too_big.append(f"{size} at C={budget:.3g} ({steps} steps)")
                continue
            passes = steps * config.batch_size
            unique_chunks = passes if config.unique_tokens is None else min(passes, config.unique_tokens // config.seq_len)
            if unique_chunks < 1:
                raise UsageError(f"--unique-tokens {config.unique_tokens} is less than one {config.seq_len}-token sample")
            for seed in config.seeds:
                run_config = {"study": STUDY_KIND, **config.study_identity(), "budget": budget, "size": size, "seed": seed}
                runs.append(
                    PlannedRun(
                        request=RunRequest(key=stable_key(run_config), unique_samples=unique_chunks, seed=seed),
                        budget_flops=budget,
                        size=size,
                        steps=steps,
                        unique_chunks=unique_chunks,
                        flops_per_token=per_token,
                        non_embedding=counts.non_embedding,
                        total_parameters=counts.total,
                        config=run_config,
                    )
                )
    if not runs:
        raise UsageError(
            f"every model size is too big for every budget (fewer than {config.min_steps} steps); "
            "raise --budgets or choose smaller --model-sizes"
        )
    return runs, too_big


def run_isoflops(config: IsoflopsConfig, echo: Callable[[str], None] = print, progress: bool = True) -> IsoflopsOutcome:
    from tqdm.auto import tqdm

    from ..report.isoflops import write_isoflops_report

    tokenizer = load_tokenizer(config.tokenizer)
    vocab_size = len(tokenizer)
    runs, too_big = plan(config, vocab_size)
    train_rows, val_rows = load_splits(config.train_data, config.validation_data, config.text_column)
    needed = max(r.unique_chunks for r in runs)
    train_chunks = take_chunks(train_rows, tokenizer, config.seq_len, config.chunking, limit=needed)
    if len(train_chunks) < needed:
        raise UsageError(
            f"the largest run needs {needed} unique {config.seq_len}-token samples but the training data has "
            f"{len(train_chunks)}; set --unique-tokens to repeat data, lower --budgets, or use more data"
        )
    val_chunks = take_chunks(val_rows, tokenizer, config.seq_len, config.chunking, limit=config.eval_samples)
    if len(val_chunks) < config.eval_samples:
        raise UsageError(
            f"the validation data has {len(val_chunks)} chunks of {config.seq_len} tokens but --eval-samples asks "
            f"for {config.eval_samples}"
        )
    val_bytes = bytes_per_token(val_chunks, tokenizer)
    folder = Path(config.output)
    engine = ReferenceEngine()
    with Store(folder) as store:
        store.ensure_study(stable_key({"study": STUDY_KIND, **config.study_identity()}), STUDY_KIND, config.study_identity())
        done = store.completed_keys()
        todo = [r for r in runs if r.request.key not in done]
        if len(runs) > len(todo):
            echo(f"skipping {len(runs) - len(todo)} completed run(s) already in {folder}")
        failed = []
        with tqdm(total=sum(r.steps for r in todo), unit="step", disable=not progress, desc=f"{len(todo)} runs") as bar:
            for run in todo:
                setup = _setup(config, run, tokenizer, vocab_size, train_chunks, val_chunks)
                result = next(engine.train(setup, [run.request], bar.update))
                record, metrics = _record(config, run, result, train_chunks, val_chunks, val_bytes)
                store.save_run(record, metrics)
                bar.set_postfix_str(f"C={run.budget_flops:.2g} N={run.size} loss={record['final_val_loss'] or float('nan'):.3f}")
                if result.status != "completed":
                    failed.append(f"{run.size} at C={run.budget_flops:.3g} seed={run.request.seed}: {result.error}")
                    echo(f"run failed: {failed[-1]}")
        write_isoflops_report(store.runs(), folder, config.model_dump(mode="json"), too_big)
    return IsoflopsOutcome(folder, len(todo), len(runs) - len(todo), too_big, failed)


def _setup(config, run: PlannedRun, tokenizer, vocab_size, train_chunks, val_chunks) -> TrainingSetup:
    passes = run.steps * config.batch_size
    return TrainingSetup(
        model=SCRATCH_PREFIX + run.size,
        model_config=model_config(SCRATCH_PREFIX + run.size, vocab_size, config.dropout),
        tokenizer=tokenizer,
        learning_rate=config.size_learning_rates.get(run.size, config.learning_rate),
        budget=Budget(passes=passes, seq_len=config.seq_len, batch_size=config.batch_size),
        train_chunks=train_chunks,
        val_chunks=val_chunks,
        schedule=config.schedule,
        warmup_steps=math.floor(config.warmup_fraction * run.steps),
        eval_every=max(1, run.steps // config.evals_per_run),
    )


def _record(config, run: PlannedRun, result, train_chunks, val_chunks, val_bytes):
    metrics = step_metrics(result)
    evaluated = [m for m in metrics if m["val_loss"] is not None]
    completed = result.status == "completed" and bool(evaluated)
    best = min(evaluated, key=lambda m: m["val_loss"]) if completed else None
    train_flops = run.flops_per_token * run.tokens
    record = {
        "key": run.request.key,
        "study_key": stable_key({"study": STUDY_KIND, **config.study_identity()}),
        "unique_samples": run.unique_chunks,
        "seed": run.request.seed,
        "status": result.status,
        "error": result.error,
        "engine": result.engine,
        "precision": "fp32",
        "wall_seconds": result.wall_seconds,
        "epochs": run.steps * config.batch_size / run.unique_chunks,
        "parameters": run.total_parameters,
        "non_embedding_parameters": run.non_embedding,
        "train_flops": train_flops,
        "eval_flops": 2.0 * run.total_parameters * config.eval_samples * config.seq_len * len(result.eval_steps),
        "data_fingerprint": fingerprint(train_chunks[: run.unique_chunks], val_chunks),
        "final_val_loss": evaluated[-1]["val_loss"] if completed else None,
        "best_val_loss": best["val_loss"] if best else None,
        "best_step": best["step"] if best else None,
        "model": run.size,
        "budget_flops": run.budget_flops,
        "tokens": run.tokens,
        "unique_tokens": run.unique_chunks * config.seq_len,
        "flops_per_token": run.flops_per_token,
        "bits_per_byte": bits_per_byte(evaluated[-1]["val_loss"], val_bytes) if completed else None,
        "config_json": json.dumps(run.config, sort_keys=True),
        "versions_json": json.dumps(library_versions(), sort_keys=True),
    }
    return record, metrics


def table_from_runs(runs: list[dict[str, Any]], curves: bool = False) -> FitTable:
    """Completed isoflops runs as fit input: N = non-embedding parameters, D = tokens trained, C = budget.

    With ``curves``, every evaluated step is a point (for approach 1's envelope)."""
    rows = []
    for run in runs:
        if run["status"] != "completed" or run["budget_flops"] is None:
            continue
        tokens_per_step = run["tokens"] / len(run["metrics"])
        points = [m for m in run["metrics"] if m["val_loss"] is not None] if curves else [run["metrics"][-1] | {"val_loss": run["final_val_loss"]}]
        for m in points:
            tokens = tokens_per_step * m["step"]
            rows.append((run["non_embedding_parameters"], tokens, m["val_loss"], run["flops_per_token"] * tokens if curves else run["budget_flops"],
                         run["unique_tokens"], run["seed"]))
    if not rows:
        raise UsageError("the results folder holds no completed isoflops run to fit")
    N, D, loss, C, U, seed = (np.array(column, dtype=float) for column in zip(*rows))
    return FitTable(N=N, D=D, loss=loss, C=C, U=U, seed=seed)


def fit_table_from(source: str, curves: bool = False) -> FitTable:
    """A CSV file, or an isoflops results folder."""
    path = Path(source)
    if path.is_dir():
        with Store(path, create=False) as store:
            return table_from_runs(store.runs(), curves=curves)
    return read_table(path)
