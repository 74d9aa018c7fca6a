"""Fit input from stored runs: completed isoFLOP run records, or a results folder, or a CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..results.records import RunRecord
from .table import FitTable, read_table


def table_from_records(runs: list[RunRecord], curves: bool = False) -> FitTable:
    """Completed isoFLOP runs as points: N = non-embedding parameters, D = tokens trained, C = budget.

    With ``curves``, every evaluated step is a point (for approach 1's envelope)."""
    rows = []
    for run in runs:
        if not run.completed or run.kind != "isoflops":
            continue
        tokens_per_step = run.tokens / len(run.metrics)
        points = run.evaluated() if curves else [run.evaluated()[-1]]
        for metric in points:
            tokens = tokens_per_step * metric.step
            flops = run.flops_per_token * tokens if curves else run.budget_flops
            rows.append((run.non_embedding_parameters, tokens, metric.val_loss, flops, run.unique_tokens, run.seed))
    if not rows:
        raise UsageError("the results hold no completed isoflops run to fit")
    N, D, loss, C, U, seed = (np.array(column, dtype=float) for column in zip(*rows))
    return FitTable(N=N, D=D, loss=loss, C=C, U=U, seed=seed)


def fit_table_from(source: str, curves: bool = False) -> FitTable:
    """A CSV file, or an isoflops results folder."""
    from ..results.store import Store

    path = Path(source)
    if path.is_dir():
        with Store(path, create=False) as store:
            kind, records = store.study_kind(), store.records()
        if kind == "scarcity":
            raise UsageError(
                f"{source!r} holds a scarcity study (one model at one budget): N–D scaling laws need runs at several "
                "model sizes and budgets; run isoflop isoflops, or pass a CSV of N, D, loss"
            )
        return table_from_records(records, curves=curves)
    return read_table(path)
