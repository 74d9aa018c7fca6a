"""The tokenizer comparison as bar charts: one panel per main metric, one bar per tokenizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..tokenization.report import short_name
from .plots import plt, save_figure

PANELS = (
    ("chars_per_token", "characters per token (↑)"),
    ("fertility", "tokens per word (↓)"),
    ("continued_words", "words split in ≥ 2 tokens (↓)"),
    ("windows_relative", "1024-token windows vs first (↓)"),
    ("unused_vocabulary", "vocabulary never used (↓)"),
    ("renyi_efficiency", "Rényi efficiency, α = 2.5 (↑)"),
)


def plot_comparison(results, folder: Path, title: str) -> Path:
    """The tokenizers' metrics side by side (compression, fertility, coverage)."""
    figure, axes = plt.subplots(2, 3, figsize=(11, 6))
    names = [short_name(m.name) for m in results]
    colours = plt.cm.tab10(np.arange(len(results)) % 10)
    for ax, (field, label) in zip(axes.flat, PANELS):
        values = [getattr(m, field) for m in results]
        ax.bar(range(len(values)), values, color=colours)
        ax.set_xticks(range(len(values)), names, rotation=20, fontsize=8)
        ax.set_title(label, fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
    figure.suptitle(f"tokenizers on {title}", fontsize=10)
    return save_figure(figure, folder / "compare")
