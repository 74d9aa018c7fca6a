"""isoFLOP plots: profiles with their parabolas, N*/D* vs C, the loss frontier, L(N, D) contours."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..fit.advice import compute_optimal
from .plots import plt, save_figure

PROFILES = "isoflop_profiles"
ALLOCATION = "optimal_allocation"
FRONTIER = "loss_frontier"
CONTOURS = "loss_contours"


def plot_profiles(table, budgets, allocation, folder: Path) -> Path:
    """The isoFLOP profiles: loss against N at each budget, each budget's fitted minimum marked."""
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    colours = plt.cm.plasma(np.linspace(0.1, 0.85, len(np.unique(budgets))))
    minima = {m.flops: m for m in (allocation.minima if allocation else [])}
    drawn = False
    for budget, colour in zip(np.unique(budgets), colours):
        here = budgets == budget
        axes.scatter(table.N[here], table.loss[here], color=colour, label=f"C={budget:.2g}")
        if budget in minima and minima[budget].parabola:
            x = np.linspace(np.log(table.N[here].min()), np.log(table.N[here].max()), 100)
            axes.plot(np.exp(x), np.polyval(minima[budget].parabola, x), color=colour, alpha=0.7)
            axes.scatter([minima[budget].n_opt], [minima[budget].loss], color=colour, marker="*", s=180, edgecolor="k")
            drawn = True
    axes.set_xscale("log")
    count = getattr(table, "parameter_count", None)
    axes.set_xlabel(f"parameters N, {count} (log)" if count in ("total", "non-embedding") else "parameters N (log)")
    axes.set_ylabel("final validation loss (nats/token)")
    axes.set_title("isoFLOP profiles" + (": parabolas in log N, ★ = compute-optimal" if drawn else " (no parabola fitted)"),
                   fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    return save_figure(figure, folder / PROFILES)


def plot_allocation(allocation, folder: Path) -> Path:
    """N*(C) and D*(C) with their power laws and intervals."""
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


def plot_frontier(allocation, frontier, folder: Path, holdout=None, forecast=None) -> Path:
    """The compute-optimal losses, the fitted L*(C) with its 95% band, extended one budget step beyond the
    largest; with a hold-out check, its prediction of the largest budget and what was measured. With ``forecast``
    (``fit.allocation_law.AllocationLaw``) the band is its forecast interval of the law's value, which widens beyond
    the data as its backtest showed; otherwise the frontier's bootstrap band."""
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    flops = np.array([m.flops for m in allocation.minima])
    axes.scatter(flops, [m.loss for m in allocation.minima], color="k", zorder=3, label="compute-optimal loss (parabola minimum)")
    step = float(np.exp(np.mean(np.diff(np.log(np.sort(flops)))))) if len(flops) > 1 else 2.0
    fitted = np.geomspace(flops.min() / 1.5, flops.max(), 60)
    beyond = np.geomspace(flops.max(), flops.max() * step, 20)
    axes.plot(fitted, frontier(fitted), color="C0", label=frontier.formula())
    axes.plot(beyond, frontier(beyond), color="C0", ls="--", label=f"extrapolated to C = {flops.max() * step:.2g}")
    every = np.concatenate([fitted, beyond])
    if forecast is not None:
        intervals = [forecast.predict(float(c)).interval for c in every]
        axes.plot(every, forecast.frontier(every), color="C1", ls=":", label="forecast: the forms weighted by their backtest")
        if all(interval is not None for interval in intervals):
            low, high = zip(*intervals)
            axes.fill_between(every, low, high, color="C0", alpha=0.2,
                              label="95% forecast interval of L*(C) (forms weighted by their backtest)")
    else:
        band = frontier.interval_at(every)
        if band is not None:
            axes.fill_between(every, band[0], band[1], color="C0", alpha=0.2, label="95% bootstrap band")
    if holdout is not None and not isinstance(holdout, str):
        error = None
        if holdout.loss_interval:
            low, high = holdout.loss_interval
            error = [[holdout.predicted_loss - low], [high - holdout.predicted_loss]]
        axes.errorbar([holdout.budget], [holdout.predicted_loss], yerr=error, fmt="o", mfc="none", color="C3", capsize=4,
                      label=f"hold-out: predicted from the {holdout.budgets_fitted} smaller budgets")
        if holdout.best_run_loss is not None:
            axes.scatter([holdout.budget], [holdout.best_run_loss], marker="x", color="C3", zorder=4,
                         label="hold-out: best run trained there")
    axes.set_xscale("log")
    axes.set_xlabel("compute C (FLOPs)")
    axes.set_ylabel("loss (nats/token)")
    axes.set_title("the scaling law: compute-optimal loss vs compute", fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)
    return save_figure(figure, folder / FRONTIER)


def plot_contours(law, table, folder: Path) -> Path:
    """The fitted L(N, D) as contours over N and D, the runs on top."""
    figure, axes = plt.subplots(figsize=(6.4, 4.6))
    n = np.geomspace(table.N.min() / 3, table.N.max() * 3, 120)
    d = np.geomspace(table.D.min() / 3, table.D.max() * 3, 120)
    grid_n, grid_d = np.meshgrid(n, d)
    contour = axes.contourf(grid_n, grid_d, law.loss(grid_n, grid_d), levels=20, cmap="viridis")
    figure.colorbar(contour, label="predicted loss")
    count = table.flop_count
    flops = np.geomspace(count.flops(n.min(), d.min()), count.flops(n.max(), d.max()), 50)
    path = np.array([compute_optimal(law, c, count)[:2] for c in flops])
    n_opt, d_opt = path[:, 0], path[:, 1]
    inside = (n_opt >= n.min()) & (n_opt <= n.max()) & (d_opt >= d.min()) & (d_opt <= d.max())
    axes.plot(n_opt[inside], d_opt[inside], color="w", lw=2, label=f"compute-optimal (N*, D*), {count.convention} FLOPs")
    axes.scatter(table.N, table.D, color="r", s=12, label="runs")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("parameters N, total")
    axes.set_ylabel("D (tokens)")
    axes.legend(fontsize=8)
    return save_figure(figure, folder / CONTOURS)


ROBUSTNESS = "robustness"


def plot_robustness(panel: dict, folder: Path) -> Path:
    """One row per variant of the robustness panel, one panel per quantity: how far the answer moves with choices
    (approach 2 blue, approach 3 red, refits of an unreliable law grey)."""
    variants = panel["variants"]
    figure, axes = plt.subplots(1, 4, figsize=(11, 0.35 * len(variants) + 1.6), sharey=True)
    rows = np.arange(len(variants))
    quantities = (("a", "a (N* ∝ C^a)", False), ("b", "b (D* ∝ C^b)", False),
                  ("n_opt", f"N* at C = {panel['target_C']:.2g}", True), ("loss", f"L* at C = {panel['target_C']:.2g}", False))
    for ax, (key, label, log) in zip(axes, quantities):
        values = [v[key] for v in variants]
        ax.scatter(values, rows, color=["0.7" if not v["reliable"] else "C0" if v["name"].startswith("approach 2") else "C3"
                                        for v in variants])
        ax.set_xlabel(label, fontsize=8)
        if log:
            ax.set_xscale("log")
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=7)
    axes[0].set_yticks(rows, [v["name"] for v in variants], fontsize=7)
    axes[0].invert_yaxis()
    return save_figure(figure, folder / ROBUSTNESS)
