"""The isoFLOP study's report: the runs, approach 2 (a parabola per budget, N*/D* vs C, the frontier),
approach 3 (L(N, D)), and the plots. Fits run here on plain run records."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config.studies import IsoflopsConfig
from ..errors import UsageError
from ..fit.api import fitted_range
from ..fit.checks import allocation_problems, chinchilla_problems, frontier_problems, unreliable_line
from ..fit.chinchilla import DEFAULT_GRID, fit_chinchilla
from ..fit.holdout import holdout_largest
from ..fit.isoflop_profiles import approach2, fit_frontier
from ..fit.points import table_from_records
from ..results.records import RunRecord
from .document import Document, Figure, Paragraph, Section, Table
from .isoflop_plots import plot_allocation, plot_contours, plot_frontier, plot_profiles
from .tables import closing_sections

TITLE = "isoFLOP profiles and the compute-optimal model"


def build_report(runs: list[RunRecord], config: IsoflopsConfig, notes: list[str]) -> Document:
    folder = Path(config.output)
    intro = [Paragraph(_setup(config))]
    sections: list[Section] = []
    answer: list[str] = []
    try:
        table = table_from_records(runs)
    except UsageError as error:
        table = None
        answer.append(f"No fit: {error}.")
    if table is not None:
        sections.append(Section("Compute-optimal runs", [_runs_table(runs)]))
        answer, fit_sections = _fits(table, config, folder)
        sections += fit_sections
    sections += closing_sections("isoflops", runs, notes)
    return Document(TITLE, intro, answer, sections, runs)


def _fits(table, config: IsoflopsConfig, folder: Path) -> tuple[list[str], list[Section]]:
    budgets = table.budgets()
    answer: list[str] = []
    figures: list[Figure] = []
    sections: list[Section] = []
    try:
        allocation = approach2(table.N, table.D, table.loss, budgets, table.budget_count())
    except UsageError as error:
        allocation = None
        answer.append(f"Approach 2: no fit ({error}).")
    figures.append(Figure(plot_profiles(table, budgets, allocation, folder), "isoFLOP profiles"))
    if allocation is not None:
        answer.append("Approach 2 (a parabola of loss in log N per budget):")
        for m in allocation.minima:
            answer.append(f"C = {m.flops:.3g} FLOPs: compute-optimal N* = {m.n_opt:,.0f} non-embedding parameters, "
                          f"D* = {m.d_opt:,.0f} tokens ({m.d_opt / m.n_opt:.1f} tokens per parameter), loss {m.loss:.4f} "
                          f"({m.sizes_below} sizes trained below N*, {m.sizes_above} above"
                          + (": pinned on both sides)" if min(m.sizes_below, m.sizes_above) >= 2 else
                             "; fewer than 2 on a side: this minimum leans on the parabola's shape)"))
        n_law, d_law = allocation.n_law, allocation.d_law
        problems = allocation_problems(allocation)
        if problems:
            answer.append(_unreliable("N*(C), D*(C) power law", problems, 2))
        else:
            answer.append(f"N*(C) ∝ C^{n_law.exponent:.3f}{_interval(n_law)}, D*(C) ∝ C^{d_law.exponent:.3f}{_interval(d_law)} "
                          f"(Hoffmann et al. found about 0.5 and 0.5{_exponent_sum(table.budget_count())})")
            figures.append(Figure(plot_allocation(allocation, folder), "compute-optimal N* and D* vs C"))
        answer += [f"No compute-optimal size for C = {reason}." for reason in allocation.skipped]
        if len(allocation.minima) >= 3:
            losses = [m.loss for m in allocation.minima]
            frontier = fit_frontier([m.flops for m in allocation.minima], losses)
            problems = frontier_problems(frontier, losses)
            holdout = _holdout(table, budgets, config, frontier.power_law)
            if problems:
                answer.append(_unreliable("loss frontier L*(C)", problems, 2))
            else:
                allocation_line = ("" if allocation_problems(allocation) else
                                   f", with N*(C) ∝ C^{n_law.exponent:.3f}{_interval(n_law)} and "
                                   f"D*(C) ∝ C^{d_law.exponent:.3f}{_interval(d_law)}")
                answer.append(f"**The scaling law**: {frontier.describe()}{allocation_line} (95% bootstrap intervals).")
                figures.append(Figure(plot_frontier(allocation, frontier, folder, holdout), "the loss frontier L*(C)"))
            if isinstance(holdout, str):
                answer.append(holdout)
            elif holdout is not None:
                answer.append(holdout.sentence())
    try:
        law = fit_chinchilla(table.N, table.D, table.loss, groups=table.seed, bootstrap=config.fit.fit_bootstrap)
        problems = chinchilla_problems(law, table.N, table.D, table.loss, DEFAULT_GRID)
        if problems:
            line = _unreliable("L(N, D) law", problems, 3)
        else:
            line = _law_line(law, table)
            figures.append(Figure(plot_contours(law, table, folder), "predicted loss contours and the compute-optimal path"))
        sections.append(Section("Approach 3: L(N, D) = E + A/N^α + B/D^β", [Paragraph(line)]))
    except UsageError as error:
        sections.append(Section("Approach 3", [Paragraph(f"No fit ({error}).")]))
    sections.append(Section("Plots", figures))
    return answer, sections


def _exponent_sum(count) -> str:
    """Why a + b need not be 1: under the full count, FLOPs per token grow as N^k with k < 1 for small models."""
    if count.convention == "6N" or len(count.sizes) < 2:
        return ""
    k = float(np.polyfit(np.log(count.sizes), np.log(count.per_token), 1)[0])
    if abs(k - 1) < 0.05:
        return ""
    return (f"; here FLOPs per token grow as N^{k:.2f} over the trained sizes, attention, embeddings and the LM head "
            f"weighing on small models, so C = D·FLOPs-per-token gives a·{k:.2f} + b = 1, not a + b = 1")


def _holdout(table, budgets, config: IsoflopsConfig, power_law: bool):
    """The hold-out check of the frontier's form, a sentence saying why it could not run, or None when not asked for."""
    if not config.fit.holdout_largest:
        return None
    try:
        return holdout_largest(table.N, table.D, table.loss, budgets, table.budget_count(), power_law)
    except UsageError as error:
        return f"Hold-out check not run: {error}."


def _law_line(law, table) -> str:
    ci = law.intervals

    def interval(name: str) -> str:
        return f" [{ci[name][0]:.3f}, {ci[name][1]:.3f}]" if name in ci else " (no interval: no bootstrap)"

    span = fitted_range(table)["N"]
    return (f"E = {law.E:.3f}{interval('E')}, A = {law.A:.3g}, B = {law.B:.3g}, α = {law.alpha:.3f}{interval('alpha')}, "
            f"β = {law.beta:.3f}{interval('beta')}; N* ∝ C^{law.a:.3f}, D* ∝ C^{law.b:.3f} "
            f"(fitted on N {span[0]:.3g}–{span[1]:.3g}).")


def _unreliable(what: str, problems: list[str], approach: int) -> str:
    line = unreliable_line(what, problems)
    return (line[0].upper() + line[1:]
            + f". `isoflop fit FOLDER --approach {approach} --force` shows the fitted numbers, marked.")


def _runs_table(runs: list[RunRecord]) -> Table:
    done = sorted((r for r in runs if r.completed), key=lambda r: (r.budget_flops, r.non_embedding_parameters, r.seed))
    rows = [[f"{r.budget_flops:.3g}", r.model, f"{r.non_embedding_parameters:,}", f"{r.tokens:,.0f}", f"{r.epochs:.2f}",
             f"{r.final_val_loss:.4f}", f"{r.bits_per_byte:.4f}"] for r in done]
    header = ["C (FLOPs)", "size", "N (non-embedding)", "D (tokens)", "epochs", "final loss", "bits/byte"]
    return Table(header, rows, [True, False, True, True, True, True, True])


def _interval(law) -> str:
    low, high = law.exponent_interval
    if not np.isfinite(low):
        return " (no interval: a line through 2 budgets)"
    return f" [{low:.3f}, {high:.3f}]"


def _rates(config: IsoflopsConfig) -> str:
    """The peak learning rate, or each size's where they differ."""
    rates = {size: config.learning_rate_of(size) for size in config.model_sizes}
    if len(set(rates.values())) == 1:
        return f"lr {next(iter(rates.values())):g}"
    return "lr per size " + ", ".join(f"{size} {rate:g}" for size, rate in rates.items())


def _setup(config: IsoflopsConfig) -> str:
    data, optimizer = config.data, config.optimizer
    return (f"**Setup.** Budgets {', '.join(f'{b:.3g}' for b in config.budgets)} FLOPs ({config.flop_convention} convention), "
            f"sizes {', '.join(config.model_sizes)}, tokenizer `{config.tokenizer.tokenizer}`, data `{data.train_data}` "
            f"({data.chunking}, {data.seq_len} tokens × batch {optimizer.batch_size}), {_rates(config)} "
            f"with {optimizer.schedule} decay and {optimizer.warmup_fraction:.0%} warmup"
            + (f", unique tokens capped at {config.unique_tokens:,}" if config.unique_tokens else "") + ".")
