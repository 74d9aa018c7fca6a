"""isoFLOP report: profiles with their parabolas, N*/D* vs C, the loss frontier, L(N, D) contours,
and ``summary.md``. Fits run here on plain run records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from ..fit.api import fitted_range
from ..fit.chinchilla import fit_chinchilla
from ..fit.isoflop_profiles import approach2, fit_frontier
from .plots import plt, save_figure

SUMMARY_NAME = "summary.md"
REPORT_BOOTSTRAP = 30
PROFILES = "isoflop_profiles"
ALLOCATION = "optimal_allocation"
FRONTIER = "loss_frontier"
CONTOURS = "loss_contours"


def write_isoflops_report(runs: list[dict[str, Any]], folder: Path, config: dict[str, Any], too_big: list[str]) -> list[Path]:
    from ..studies.isoflops import table_from_runs

    lines = ["# isoFLOP profiles and the compute-optimal model", "", _setup_line(config), ""]
    written: list[Path] = []
    try:
        table = table_from_runs(runs)
    except UsageError as error:
        lines += [f"No fit: {error}.", ""]
        return _finish(folder, lines, written)
    budgets = table.budgets()
    lines += ["## Runs", "", "| C (FLOPs) | size | N (non-embedding) | D (tokens) | epochs | final loss | bits/byte |",
              "|---:|---|---:|---:|---:|---:|---:|"]
    for run in sorted((r for r in runs if r["status"] == "completed"), key=lambda r: (r["budget_flops"], r["non_embedding_parameters"])):
        lines.append(f"| {run['budget_flops']:.3g} | {run['model']} | {run['non_embedding_parameters']:,} | {run['tokens']:,.0f} | "
                     f"{run['epochs']:.2f} | {run['final_val_loss']:.4f} | {run['bits_per_byte']:.4f} |")
    lines.append("")
    try:
        allocation = approach2(table.N, table.D, table.loss, budgets)
    except UsageError as error:
        allocation = None
        lines += ["## Answer", "", f"Approach 2: no fit ({error}).", ""]
    written += _plot_profiles(table, budgets, allocation, folder)
    if allocation is not None:
        n_law, d_law = allocation.n_law, allocation.d_law
        lines += ["## Answer (approach 2: a parabola per budget)", ""]
        for m in allocation.minima:
            lines.append(f"- C = {m.flops:.3g} FLOPs: compute-optimal N* = {m.n_opt:,.0f} non-embedding parameters, "
                         f"D* = {m.d_opt:,.0f} tokens ({m.d_opt / m.n_opt:.1f} tokens per parameter), loss {m.loss:.4f}")
        lines.append(f"- N*(C) ∝ C^{n_law.exponent:.3f}{_interval(n_law)}, D*(C) ∝ C^{d_law.exponent:.3f}{_interval(d_law)} "
                     "(Hoffmann et al. found about 0.5 and 0.5)")
        for reason in allocation.skipped:
            lines.append(f"- No compute-optimal size for C = {reason}.")
        written += _plot_allocation(allocation, folder)
        if len(allocation.minima) >= 3:
            frontier = fit_frontier([m.flops for m in allocation.minima], [m.loss for m in allocation.minima])
            lines.append(f"- Loss frontier: L*(C) = {frontier.E:.3f} + {frontier.A:.3g}·C^-{frontier.gamma:.3f}")
            written += _plot_frontier(allocation, frontier, folder)
        lines.append("")
    try:
        law = fit_chinchilla(table.N, table.D, table.loss, groups=table.seed, bootstrap=REPORT_BOOTSTRAP)
        ci = law.intervals
        lines += ["## Approach 3: L(N, D) = E + A/N^α + B/D^β", "",
                  f"E = {law.E:.3f} [{ci['E'][0]:.3f}, {ci['E'][1]:.3f}], A = {law.A:.3g}, B = {law.B:.3g}, "
                  f"α = {law.alpha:.3f} [{ci['alpha'][0]:.3f}, {ci['alpha'][1]:.3f}], "
                  f"β = {law.beta:.3f} [{ci['beta'][0]:.3f}, {ci['beta'][1]:.3f}]; "
                  f"N* ∝ C^{law.a:.3f}, D* ∝ C^{law.b:.3f} (fitted on N {fitted_range(table)['N'][0]:.3g}–{fitted_range(table)['N'][1]:.3g}).", ""]
        written += _plot_contours(law, table, folder)
    except UsageError as error:
        lines += [f"Approach 3: no fit ({error}).", ""]
    if too_big:
        lines += ["Skipped as too big for their budget: " + "; ".join(too_big) + ".", ""]
    lines += [f"![{name}]({name}.png)" for name in (PROFILES, ALLOCATION, FRONTIER, CONTOURS) if (folder / f"{name}.png").exists()]
    return _finish(folder, lines, written)


def _interval(law) -> str:
    low, high = law.exponent_interval
    if not np.isfinite(low):
        return " (no interval: a line through 2 budgets)"
    return f" [{low:.3f}, {high:.3f}]"


def _setup_line(config: dict[str, Any]) -> str:
    return (f"**Setup.** Budgets {', '.join(f'{b:.3g}' for b in config['budgets'])} FLOPs ({config['flop_convention']} convention), "
            f"sizes {', '.join(config['model_sizes'])}, tokenizer `{config['tokenizer']}`, data `{config['train_data']}` "
            f"({config['chunking']}, {config['seq_len']} tokens × batch {config['batch_size']}), lr {config['learning_rate']:g} "
            f"with {config['schedule']} decay and {config['warmup_fraction']:.0%} warmup"
            + (f", unique tokens capped at {config['unique_tokens']:,}" if config.get("unique_tokens") else "") + ".")


def _finish(folder: Path, lines: list[str], written: list[Path]) -> list[Path]:
    target = folder / SUMMARY_NAME
    partial = target.with_name(SUMMARY_NAME + ".partial")
    partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
    partial.replace(target)
    return written + [target]


def _plot_profiles(table, budgets, allocation, folder: Path) -> list[Path]:
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    colours = plt.cm.plasma(np.linspace(0.1, 0.85, len(np.unique(budgets))))
    minima = {m.flops: m for m in (allocation.minima if allocation else [])}
    for budget, colour in zip(np.unique(budgets), colours):
        here = budgets == budget
        axes.scatter(table.N[here], table.loss[here], color=colour, label=f"C={budget:.2g}")
        if budget in minima and minima[budget].parabola:
            x = np.linspace(np.log(table.N[here].min()), np.log(table.N[here].max()), 100)
            axes.plot(np.exp(x), np.polyval(minima[budget].parabola, x), color=colour, alpha=0.7)
            axes.scatter([minima[budget].n_opt], [minima[budget].loss], color=colour, marker="*", s=180, edgecolor="k")
    axes.set_xscale("log")
    axes.set_xlabel("non-embedding parameters N (log)")
    axes.set_ylabel("final validation loss (nats/token)")
    axes.set_title("isoFLOP profiles: parabolas in log N, ★ = compute-optimal", fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    return save_figure(figure, folder / PROFILES)


def _plot_allocation(allocation, folder: Path) -> list[Path]:
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    flops = np.array([m.flops for m in allocation.minima])
    grid = np.geomspace(flops.min() / 2, flops.max() * 2, 50)
    for ax, law, values, label in (
        (axes[0], allocation.n_law, [m.n_opt for m in allocation.minima], "N*"),
        (axes[1], allocation.d_law, [m.d_opt for m in allocation.minima], "D*"),
    ):
        ax.scatter(flops, values, color="k")
        ax.plot(grid, law(grid), label=f"{label} ∝ C^{law.exponent:.2f}")
        low, high = law.exponent_interval
        if np.isfinite(low):
            anchor = np.exp(np.mean(np.log(flops)))
            ax.fill_between(grid, law(anchor) * (grid / anchor) ** low, law(anchor) * (grid / anchor) ** high, alpha=0.2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("compute C (FLOPs)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(figure, folder / ALLOCATION)


def _plot_frontier(allocation, frontier, folder: Path) -> list[Path]:
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    flops = np.array([m.flops for m in allocation.minima])
    axes.scatter(flops, [m.loss for m in allocation.minima], color="k", label="compute-optimal loss")
    grid = np.geomspace(flops.min() / 2, flops.max() * 4, 60)
    axes.plot(grid, frontier(grid), label=f"L*(C) = {frontier.E:.2f} + {frontier.A:.3g}·C^-{frontier.gamma:.3f}")
    axes.set_xscale("log")
    axes.set_xlabel("compute C (FLOPs)")
    axes.set_ylabel("loss (nats/token)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    return save_figure(figure, folder / FRONTIER)


def _plot_contours(law, table, folder: Path) -> list[Path]:
    figure, axes = plt.subplots(figsize=(6.4, 4.6))
    n = np.geomspace(table.N.min() / 3, table.N.max() * 3, 120)
    d = np.geomspace(table.D.min() / 3, table.D.max() * 3, 120)
    grid_n, grid_d = np.meshgrid(n, d)
    contour = axes.contourf(grid_n, grid_d, law.loss(grid_n, grid_d), levels=20, cmap="viridis")
    figure.colorbar(contour, label="predicted loss")
    flops = np.geomspace(6 * n.min() * d.min(), 6 * n.max() * d.max(), 50)
    n_opt, d_opt = law.optimal(flops)
    inside = (n_opt >= n.min()) & (n_opt <= n.max()) & (d_opt >= d.min()) & (d_opt <= d.max())
    axes.plot(n_opt[inside], d_opt[inside], color="w", lw=2, label="efficient frontier (C = 6ND)")
    axes.scatter(table.N, table.D, color="r", s=12, label="runs")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("N")
    axes.set_ylabel("D (tokens)")
    axes.legend(fontsize=8)
    return save_figure(figure, folder / CONTOURS)
