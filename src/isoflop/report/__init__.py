"""Plots and the written answer, from plain run records (as the store returns them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .aggregate import by_unique_samples
from .plots import plot_loss_vs_unique_samples, plot_validation_curves
from .summary import scarcity_summary

SUMMARY_NAME = "summary.md"


def write_report(runs: list[dict[str, Any]], folder: Path, context: dict[str, Any]) -> list[Path]:
    """Write the plots and ``summary.md`` for a scarcity study; returns the files written."""
    points = by_unique_samples(runs)
    failures = [f"D={r['unique_samples']} seed={r['seed']}: {r['error']}" for r in runs if r["status"] != "completed"]
    config = context["config"]
    title = (
        f"{config['model']} on {config['train_data']}: C={config['budget_passes']} passes "
        f"of {config['seq_len']} tokens, lr {config['learning_rate']:g}"
    )
    written: list[Path] = []
    if points:
        written += plot_loss_vs_unique_samples(points, folder, title)
        written += plot_validation_curves(points, folder, title)
    target = folder / SUMMARY_NAME
    partial = target.with_name(SUMMARY_NAME + ".partial")
    partial.write_text(scarcity_summary(points, context, failures), encoding="utf-8")
    partial.replace(target)
    return written + [target]
