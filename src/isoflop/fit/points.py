"""Fit input from stored runs: completed isoFLOP run records (a study folder's, read by the caller), or a CSV."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..results.records import RunRecord
from .flops import knots_to_count
from .table import FitTable, read_table

PARAMETER_COUNTS = ("total", "non-embedding")
# The headline count of a study's fits: Chinchilla's, and the one whose exponents do not drift at small scale.
HEADLINE_COUNT = "total"


def parameters_of(run: RunRecord, count: str) -> int:
    """N of a run under ``count``: all its parameters, or those outside the token and position embeddings."""
    return run.parameters if count == "total" else run.non_embedding_parameters


def table_from_records(runs: list[RunRecord], curves: bool = False, count: str = HEADLINE_COUNT) -> FitTable:
    """Completed isoFLOP runs as points: N = parameters (``count``: total or non-embedding), D = tokens trained,
    C = budget (the study's own FLOP count, whichever N is fitted).

    With ``curves``, every evaluated step is a point (for approach 1's envelope)."""
    if count not in PARAMETER_COUNTS:
        raise UsageError(f"--params {count!r}: choose {' or '.join(PARAMETER_COUNTS)}")
    rows, conventions, knots, annealed = [], set(), [], set()
    for run in runs:
        if not run.completed or run.kind != "isoflops":
            continue
        if curves and run.schedule == "wsd":
            raise UsageError(
                f"{run.label} trained with wsd: its curve before the cooldown is the constant-rate trunk, not annealed, "
                "and approach 1 takes every step of a curve as a training of that length; fit wsd runs with "
                "approach 2 or 3 (their final points are annealed)"
            )
        conventions.add(run.flop_convention)
        annealed.add(bool(run.annealed))
        n = parameters_of(run, count)
        knots.append((n, run.flops_per_token))
        if not run.metrics:  # exported one row per run: its final point
            if curves:
                raise UsageError("approach 1 takes every evaluated step of each run, and this export has one row per "
                                 "run: export with isoflop show FOLDER --csv FILE --per-step, or fit the folder")
            rows.append((n, run.tokens, run.final_val_loss, run.budget_flops, run.unique_tokens, run.seed))
            continue
        tokens_per_step = run.tokens / run.metrics[-1].step  # the last step: its steps may be the evaluated ones only
        points = run.evaluated() if curves else [run.evaluated()[-1]]
        for metric in points:
            tokens = tokens_per_step * metric.step
            flops = run.flops_per_token * tokens if curves else run.budget_flops
            rows.append((n, tokens, metric.val_loss, flops, run.unique_tokens, run.seed))
    if not rows:
        raise UsageError("the results hold no completed isoflops run to fit")
    if len(annealed) > 1:
        raise UsageError("the results mix annealed and unannealed runs (the rate brought to 0 or not): their losses "
                         "are not comparable; fit one kind")
    if len(conventions) > 1:
        raise UsageError(f"the results mix FLOP conventions ({', '.join(sorted(conventions))}); fit runs counted one way")
    N, D, loss, C, U, seed = (np.array(column, dtype=float) for column in zip(*rows))
    return FitTable(N=N, D=D, loss=loss, C=C, U=U, seed=seed, flop_count=knots_to_count(conventions.pop(), *zip(*knots)),
                    parameter_count=count)


def embedding_shares(runs: list[RunRecord]) -> list[dict]:
    """Each trained size's parameters under both counts and the share its embeddings take of the total."""
    sizes = {}
    for run in runs:
        if run.completed and run.kind == "isoflops":
            sizes[run.model] = (run.parameters, run.non_embedding_parameters)
    return [{"size": size, "total": total, "non_embedding": inner, "embedding_share": 1 - inner / total}
            for size, (total, inner) in sorted(sizes.items(), key=lambda item: item[1][0])]


def fit_table_from(source: str, curves: bool = False, convention: str | None = None, mapping: dict | None = None,
                   dedupe: bool = False, count: str | None = None, study: tuple[str | None, list[RunRecord]] | None = None,
                   where: dict | None = None) -> tuple[FitTable, dict]:
    """A CSV/TSV file (its FLOPs counted by ``convention``, default 6N), or a study folder's ``study`` (its kind and
    records, read by the caller: fit/ opens no store; the folder's own convention); and the input's provenance
    (what it was, its hash, rows, columns, duplicates). ``count`` is the parameter count N holds: a folder's runs
    are counted that way (default total), a table's N is declared so."""
    path = Path(source)
    if study is not None:
        what = "isoflops results folder" if path.is_dir() else "isoflop show --csv export"
        if mapping or convention is not None:
            raise UsageError(f"{source!r} is an {what}: its columns and FLOP convention are the study's own; "
                             "drop --columns and --flop-convention")
        kind, records = study
        if kind == "scarcity":
            raise UsageError(
                f"{source!r} holds a scarcity study (one model at one budget): N–D scaling laws need runs at several "
                "model sizes and budgets; run isoflop isoflops, or pass a CSV of N, D, loss"
            )
        table = table_from_records(records, curves=curves, count=count or HEADLINE_COUNT)
        keys = "".join(sorted(r.key for r in records if r.completed))
        return table, {"source": str(path), "kind": what, "rows": len(table.N),
                       "sha256": hashlib.sha256(keys.encode()).hexdigest(), "hash_of": "the completed runs' keys"}
    table, origin = read_table(path, convention or "6N", mapping, dedupe, where)
    if count is not None:
        table = dataclasses.replace(table, parameter_count=count)
    return table, {"source": str(path), "kind": "table", "rows": origin.rows, "sha256": origin.sha256,
                   "hash_of": "the file's bytes", "columns": origin.columns, "duplicate_rows": origin.duplicates,
                   "dropped_duplicates": origin.dropped, "where": where or {}, "selected": origin.selected}
