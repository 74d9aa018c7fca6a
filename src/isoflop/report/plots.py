"""Scarcity plots, and writing any figure as PNG and SVG."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from ..files import atomic_target  # noqa: E402
from .aggregate import PointSummary  # noqa: E402

LOSS_VS_D = "loss_vs_unique_samples"
CURVES = "validation_curves"
LOSS_BY_SETTING = "loss_by_setting"
# Characters of a 9-point title line that fit a 6.4-inch figure.
TITLE_WIDTH = 80


@dataclass(frozen=True)
class Landmarks:
    """The losses a reader reads the curves against: a uniform guess over the vocabulary (ln V) and the loss before
    training (the mean over seeds; None where it was not measured)."""

    uniform: float
    vocab_size: int
    initial: float | None


def fitted_title(text: str) -> str:
    """A title wrapped to the figure's width, so that no line is clipped at its edges."""
    return "\n".join(textwrap.wrap(text, TITLE_WIDTH, break_long_words=True))


def plot_loss_vs_unique_samples(points: list[PointSummary], folder: Path, title: str, landmarks: Landmarks) -> Path:
    """Final and best validation loss against D (log axis), with the spread over seeds."""
    figure, axes = plt.subplots(figsize=(6.4, 4.6))
    d = [p.unique_samples for p in points]
    for label, getter, marker in (("final", lambda p: p.final, "o"), ("best", lambda p: p.best, "s")):
        spreads = [getter(p) for p in points]
        means = [s.mean for s in spreads]
        errors = [[s.mean - s.low for s in spreads], [s.high - s.mean for s in spreads]]
        axes.errorbar(d, means, yerr=errors, marker=marker, capsize=3, label=f"{label} validation loss")
    _draw_landmarks(axes, landmarks)
    axes.set_xscale("log")
    axes.set_xlabel("unique training samples D (log)")
    axes.set_ylabel("validation loss (nats/token)")
    seeds = max(p.final.count for p in points)
    spread = f" — mean over {seeds} seeds, bars: lowest to highest seed" if seeds > 1 else " — one seed: no spread"
    axes.set_title(fitted_title(title + spread), fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    return save_figure(figure, folder / LOSS_VS_D)


def plot_validation_curves(points: list[PointSummary], folder: Path, title: str, landmarks: Landmarks) -> Path:
    """Each D's validation loss along its steps: the mean over seeds, shaded from the lowest to the highest seed."""
    figure, axes = plt.subplots(figsize=(7.8, 4.6))
    colours = plt.cm.viridis([i / max(len(points) - 1, 1) for i in range(len(points))])
    for point, colour in zip(points, colours):
        axes.plot(point.curve_steps, point.curve, color=colour, label=f"D={point.unique_samples} ({point.epochs:g} ep)")
        if point.final.count > 1:
            axes.fill_between(point.curve_steps, point.curve_low, point.curve_high, color=colour, alpha=0.2, linewidth=0)
    _draw_landmarks(axes, landmarks)
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("validation loss (nats/token)")
    seeds = max(p.final.count for p in points)
    spread = f" — mean over {seeds} seeds, shaded: lowest to highest seed" if seeds > 1 else " — one seed: no spread"
    axes.set_title(fitted_title(title + spread), fontsize=9)
    axes.grid(True, alpha=0.3)
    outside_legend(axes, fontsize=7)
    return save_figure(figure, folder / CURVES)


def plot_loss_by_setting(settings: list[tuple[str, list[PointSummary]]], folder: Path, title: str,
                         landmarks: Landmarks) -> Path:
    """Final validation loss against D, one line per point of the study's axes, with the spread over seeds."""
    figure, axes = plt.subplots(figsize=(6.4, 4.6))
    for label, points in settings:
        if not points:
            continue
        means = [p.final.mean for p in points]
        errors = [[p.final.mean - p.final.low for p in points], [p.final.high - p.final.mean for p in points]]
        axes.errorbar([p.unique_samples for p in points], means, yerr=errors, marker="o", capsize=3, label=label)
    _draw_landmarks(axes, landmarks)
    axes.set_xscale("log")
    axes.set_xlabel("unique training samples D (log)")
    axes.set_ylabel("final validation loss (nats/token)")
    axes.set_title(fitted_title(title + " — final loss per setting, bars: lowest to highest seed"), fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    outside_legend(axes, fontsize=8)
    return save_figure(figure, folder / LOSS_BY_SETTING)


def _draw_landmarks(axes, landmarks: Landmarks) -> None:
    axes.axhline(landmarks.uniform, color="grey", linestyle=":", linewidth=1,
                 label=f"uniform guess, ln {landmarks.vocab_size:,} = {landmarks.uniform:.2f}")
    if landmarks.initial is not None:
        axes.axhline(landmarks.initial, color="black", linestyle="--", linewidth=1,
                     label=f"before training: {landmarks.initial:.2f}")


def outside_legend(axes, fontsize: int) -> None:
    """The legend to the right of the axes, where it cannot cover a curve (tight_layout makes room for it)."""
    axes.legend(fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def save_figure(figure, stem: Path) -> Path:
    """Write ``stem``.png and ``stem``.svg atomically; returns the PNG."""
    figure.tight_layout()
    for suffix in (".png", ".svg"):
        with atomic_target(stem.with_suffix(suffix)) as partial:
            figure.savefig(partial, dpi=120)
    plt.close(figure)
    return stem.with_suffix(".png")
