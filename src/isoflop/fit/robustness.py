"""The robustness panel: the same runs fitted under each choice a researcher could reasonably have made.

Approaches 2 and 3 (3 also by variable projection), total vs non-embedding N, the Huber δ (1e-3 vs 1e-4), the smallest size or
the smallest budget dropped: each variant gives the allocation exponents a, b and a forecast of
N* and L* at a target budget (ten times the largest trained one, where a law is used). The spread
across the rows is how much the answer depends on choices rather than on the runs.
Approach-3 variants refit from the baseline optimum (as bootstrap resamples do).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UsageError
from .advice import compute_optimal
from .chinchilla import ChinchillaLaw, fit_chinchilla, refit_weighted
from .isoflop_profiles import approach2, fit_frontier
from .objectives import Objective
from .table import FitTable
from .varpro import fit_varpro

TARGET_FACTOR = 10.0  # the target budget, as a multiple of the largest trained one
SMALL_DELTA = 1e-4


@dataclass(frozen=True)
class Variant:
    """One refit of the study under another reasonable choice (objective, points kept, convention)."""

    name: str
    a: float
    b: float
    n_opt: float  # at the target budget
    loss: float
    reliable: bool = True  # False: a refit of an approach-3 law the points do not determine (not in the spread)


def robustness_panel(tables: dict[str, FitTable], budgets: np.ndarray, headline: str = "total",
                     objective: Objective = Objective(), laws: dict[str, ChinchillaLaw | None] | None = None,
                     approach3_reliable: bool = True, grid: dict | None = None) -> dict:
    """Every variant that has an answer, and the ones that have none (with why). ``tables``: the runs under each
    parameter count (the headline first); ``budgets``: each point's budget; ``laws``: approach-3 fits already made,
    by count (the others are fitted here). When the headline approach-3 law is not reliable, its variants are shown
    marked and left out of the spread: they are refits of a law the points do not determine. ``grid``: the starts
    of the approach-3 fits made here (default Hoffmann et al.'s)."""
    table = tables[headline]
    target = TARGET_FACTOR * float(np.max(budgets))
    smallest_size, smallest_budget = table.N == table.N.min(), budgets == budgets.min()
    laws = dict(laws or {})

    def law_of(count: str) -> ChinchillaLaw:
        if laws.get(count) is None:
            fitted = tables[count]
            laws[count] = fit_chinchilla(fitted.N, fitted.D, fitted.loss, grid=grid, bootstrap=0, objective=objective)
        return laws[count]

    base = law_of(headline)
    attempts = [
        (f"approach 2, {headline} N", lambda: _approach2(table, budgets, target)),
        ("approach 2, smallest size dropped", lambda: _approach2(table.subset(~smallest_size), budgets[~smallest_size], target)),
        ("approach 2, smallest budget dropped",
         lambda: _approach2(table.subset(~smallest_budget), budgets[~smallest_budget], target)),
        (f"approach 3, {headline} N, Huber δ {objective.delta:g}", lambda: _approach3(table, base, target)),
        (f"approach 3, Huber δ {SMALL_DELTA:g}", lambda: _approach3(table, refit_weighted(
            base, table.N, table.D, table.loss, np.ones(len(table.N)), Objective(objective.kind, SMALL_DELTA)), target)),
        ("approach 3, smallest size dropped", lambda: _approach3(table, refit_weighted(
            base, table.N, table.D, table.loss, (~smallest_size).astype(float), objective), target)),
        ("approach 3, smallest budget dropped", lambda: _approach3(table, refit_weighted(
            base, table.N, table.D, table.loss, (~smallest_budget).astype(float), objective), target)),
        ("approach 3, variable projection (least squares)",
         lambda: _approach3(table, fit_varpro(table.N, table.D, table.loss, bootstrap=0), target)),
    ]
    for count, other in tables.items():
        if count != headline:
            attempts += [(f"approach 2, {count} N", lambda other=other: _approach2(other, budgets, target)),
                         (f"approach 3, {count} N", lambda other=other, count=count: _approach3(
                             other, law_of(count), target))]
    variants, missing = [], []
    for name, attempt in attempts:
        try:
            a, b, n_opt, loss = attempt()
        except UsageError as error:
            missing.append(f"{name} ({error})")
            continue
        variants.append(Variant(name, a, b, n_opt, loss, approach3_reliable or not name.startswith("approach 3")))
    counted = [v for v in variants if v.reliable]
    return {"target_C": target, "variants": [vars(v) for v in variants], "missing": missing,
            "spread": {key: [min(getattr(v, key) for v in counted), max(getattr(v, key) for v in counted)]
                       for key in ("a", "b", "n_opt", "loss")} if counted else {}}


def _approach2(table: FitTable, budgets, target: float) -> tuple[float, float, float, float]:
    fitted = approach2(table.N, table.D, table.loss, budgets, table.budget_count(), bootstrap=0)
    if len(fitted.minima) < 3:
        raise UsageError(f"{len(fitted.minima)} budgets with a minimum, 3 needed for L*(C)")
    frontier = fit_frontier([m.flops for m in fitted.minima], [m.loss for m in fitted.minima], bootstrap=0)
    return fitted.n_law.exponent, fitted.d_law.exponent, float(fitted.n_law(target)), float(frontier(target))


def _approach3(table: FitTable, law: ChinchillaLaw, target: float) -> tuple[float, float, float, float]:
    n_opt, d_opt, _ = compute_optimal(law, target, table.flop_count)
    return law.a, law.b, n_opt, float(law.loss(n_opt, d_opt))


def variant_name(variant: dict) -> str:
    """A variant's name, marked when its law is unreliable and so left out of the spread."""
    return variant["name"] + ("" if variant["reliable"] else " (unreliable law: not in the spread)")


def describe_panel(panel: dict) -> list[str]:
    """The panel as aligned text rows."""
    rows = [("variant", "a", "b", f"N* at {panel['target_C']:.3g}", "L* there")]
    rows += [(variant_name(v), f"{v['a']:.3f}", f"{v['b']:.3f}", f"{v['n_opt']:,.0f}", f"{v['loss']:.4f}")
             for v in panel["variants"]]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [f"robustness panel (target C = {panel['target_C']:.3g}, {TARGET_FACTOR:g}× the largest budget):"]
    lines += ["  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
              for row in rows]
    spread = panel["spread"]
    if spread:
        lines.append(f"  spread: a {spread['a'][0]:.3f}–{spread['a'][1]:.3f}, b {spread['b'][0]:.3f}–{spread['b'][1]:.3f}, "
                     f"N* {spread['n_opt'][0]:,.0f}–{spread['n_opt'][1]:,.0f} ({spread['n_opt'][1] / spread['n_opt'][0]:.1f}×), "
                     f"L* {spread['loss'][0]:.4f}–{spread['loss'][1]:.4f}")
    lines += [f"  no answer: {reason}" for reason in panel["missing"]]
    return lines
