"""The vocabulary study's report: at each budget, which tokenizer reaches the lowest bits per byte."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..fit.isoflop_profiles import budget_minimum
from ..results.store import Store
from .document import Document, Figure, Paragraph, Section, Table
from .plots import plt, save_figure
from .write import write_report

TITLE = "Which vocabulary is compute-optimal? isoFLOP profiles per tokenizer, in bits per byte"
PLOT = "bits_per_byte_frontier"


def build_vocab_report(root: Path, arms) -> tuple[Document, list[Path]]:
    """Per tokenizer and budget: the best run and, where a parabola in log N fits, the compute-optimal bits per byte."""
    rows, best = [], {}  # best: (arm, budget) → (compute-optimal bits per byte, "parabola" or "best run")
    for arm in arms:
        with Store(root / arm.name, create=False) as store:
            runs = [r for r in store.records() if r.completed and r.bits_per_byte is not None]
        if not runs:
            continue
        budgets = np.array([r.budget_flops for r in runs])
        N = np.array([r.non_embedding_parameters for r in runs], dtype=float)
        bpb = np.array([r.bits_per_byte for r in runs])
        tokens = np.array([r.tokens for r in runs], dtype=float)
        for budget in np.unique(budgets):
            here = np.flatnonzero(budgets == budget)
            top = runs[here[np.argmin(bpb[here])]]
            fitted = budget_minimum(N, tokens, bpb, budgets, float(budget))
            fitted = None if isinstance(fitted, str) else fitted
            value = fitted.loss if fitted else top.bits_per_byte
            best[(arm.name, float(budget))] = (value, "parabola" if fitted else "best run")
            rows.append([arm.name, f"{budget:.3g}", f"{len(here)}", top.model, f"{top.bits_per_byte:.4f}",
                         f"{top.final_val_loss:.4f}", f"{fitted.loss:.4f} at N* = {fitted.n_opt:,.0f}" if fitted else "–"])
    budgets = sorted({b for _, b in best})
    answer = []
    for budget in budgets:
        here = sorted((value, name, how) for (name, b), (value, how) in best.items() if b == budget)
        listed = ", ".join(f"{name} {value:.4f} ({how})" for value, name, how in here)
        answer.append(f"C = {budget:.3g} FLOPs: lowest bits per byte with **{here[0][1]}** ({listed}).")
    if not answer:
        answer = ["No run completed, so there is no answer yet."]
    table = Table(["tokenizer", "C (FLOPs)", "runs", "best size", "its bits/byte", "its loss/token", "compute-optimal bits/byte"],
                  rows, [False, True, True, False, True, True, False])
    figures = [Figure(_plot(best, [a.name for a in arms], root), "compute-optimal bits per byte vs compute, per tokenizer")] if best else []
    intro = [Paragraph("Each tokenizer trained the same isoFLOP ladder (one sub-folder each, with its own report). "
                       "FLOPs count the embedding and LM head (the full convention), so a larger vocabulary spends more of "
                       "each budget on them; bits per byte is the comparable measure (loss per token is not).")]
    document = Document(TITLE, intro, answer, [Section("Per tokenizer and budget", [table]), Section("Plots", figures)])
    return document, write_report(document, root)


def _plot(best, names: list[str], root: Path) -> Path:
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    for name in names:
        points = sorted((b, v) for (n, b), (v, _) in best.items() if n == name)
        if points:
            axes.plot(*zip(*points), marker="o", label=name)
    axes.set_xscale("log")
    axes.set_xlabel("compute C (FLOPs, full count)")
    axes.set_ylabel("compute-optimal bits per byte")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    return save_figure(figure, root / PLOT)
