"""Scarcity plots, and writing any figure as PNG and SVG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from ..files import atomic_target  # noqa: E402
from .aggregate import PointSummary  # noqa: E402

LOSS_VS_D = "loss_vs_unique_samples"
CURVES = "validation_curves"


def plot_loss_vs_unique_samples(points: list[PointSummary], folder: Path, title: str) -> Path:
    """Final and best validation loss against D (log axis), with the spread over seeds."""
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    d = [p.unique_samples for p in points]
    for label, getter, marker in (("final", lambda p: p.final, "o"), ("best", lambda p: p.best, "s")):
        spreads = [getter(p) for p in points]
        means = [s.mean for s in spreads]
        errors = [[s.mean - s.low for s in spreads], [s.high - s.mean for s in spreads]]
        axes.errorbar(d, means, yerr=errors, marker=marker, capsize=3, label=f"{label} validation loss")
    axes.set_xscale("log")
    axes.set_xlabel("unique training samples D (log)")
    axes.set_ylabel("validation loss (nats/token)")
    seeds = max(p.final.count for p in points)
    axes.set_title(title + (f"\nmean over {seeds} seeds, bars: min–max" if seeds > 1 else ""), fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    return save_figure(figure, folder / LOSS_VS_D)


def plot_validation_curves(points: list[PointSummary], folder: Path, title: str) -> Path:
    """Each D's validation loss along its steps."""
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    colours = plt.cm.viridis([i / max(len(points) - 1, 1) for i in range(len(points))])
    for point, colour in zip(points, colours):
        axes.plot(point.curve_steps, point.curve, color=colour, label=f"D={point.unique_samples} ({point.epochs:g} ep)")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("validation loss (nats/token)")
    axes.set_title(title, fontsize=9)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    return save_figure(figure, folder / CURVES)


def save_figure(figure, stem: Path) -> Path:
    """Write ``stem``.png and ``stem``.svg atomically; returns the PNG."""
    figure.tight_layout()
    for suffix in (".png", ".svg"):
        with atomic_target(stem.with_suffix(suffix)) as partial:
            figure.savefig(partial, dpi=120)
    plt.close(figure)
    return stem.with_suffix(".png")
