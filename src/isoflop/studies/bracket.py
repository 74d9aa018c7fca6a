"""Which model sizes each budget of an isoFLOP study trains: enough to bracket its loss minimum.

A fixed grid of every size at every budget spends most of its compute far from the
minima (small models at large budgets, large ones at small budgets), while a budget whose
minimum falls next to the edge of the grid is not pinned at all. Bracketing trains, per
budget, a window of ``2K + 1`` consecutive ladder sizes first (placed along the diagonal:
the smallest budget around the smaller sizes, the largest around the larger ones), then
in rounds adds the next sizes on each side of the minimum that has fewer than ``K``
trained sizes there, until every budget has ``K`` on both sides or the ladder ends.

The minimum is the one the report reads: the parabola of loss in ln N through every run
of the budget (``fit.isoflop_profiles.budget_minimum``); where no parabola has an
interior minimum, the best run's size. Pure: the decision depends only on the results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..fit.isoflop_profiles import BudgetMinimum, budget_minimum


@dataclass(frozen=True)
class SizeResults:
    """One size at one budget: its non-embedding parameters and what is known of its runs."""

    size: str
    parameters: int
    usable: bool  # the budget buys it at least ``min_steps`` steps
    losses: tuple[float, ...] = ()  # final validation losses of its completed runs (one per seed)
    resolved: bool = False  # every seed has ended (completed or failed)


def initial_window(budgets: tuple[float, ...], budget: float, sizes: int, each_side: int) -> range:
    """The ladder positions a budget trains first: ``2K + 1`` around its place on the diagonal, that is
    where it lies between the smallest and largest budget (in log scale) mapped onto the ladder."""
    width = 2 * each_side + 1
    if sizes <= width:
        return range(sizes)
    low, high = math.log(min(budgets)), math.log(max(budgets))
    position = 0.5 if high == low else (math.log(budget) - low) / (high - low)
    centre = each_side + round(position * (sizes - width))
    return range(centre - each_side, centre + each_side + 1)


def bracket(budget: float, window: range, ladder: list[SizeResults], each_side: int) -> tuple[list[str], str | None]:
    """The sizes this budget trains now (its window, what it trained before, and any sizes the minimum
    still lacks on a side), and a note when the ladder ends before the minimum is bracketed."""
    chosen = {i for i in window if ladder[i].usable} | {i for i, s in enumerate(ladder) if s.resolved}
    if not chosen or any(not ladder[i].resolved for i in chosen):
        return _names(ladder, chosen), None  # results still to come: decide once this round has ended
    below, above = _sides(budget, [ladder[i] for i in sorted(chosen)])
    if below is None:
        return _names(ladder, chosen), None  # every run failed: nothing to bracket
    notes = []
    for side, have in (("below", below), ("above", above)):
        missing = each_side - have
        if missing <= 0:
            continue
        beyond = range(min(chosen) - 1, -1, -1) if side == "below" else range(max(chosen) + 1, len(ladder))
        candidates = [i for i in beyond if ladder[i].usable]
        chosen |= set(candidates[:missing])
        if len(candidates) < missing:
            why = ("the larger sizes get fewer than --min-steps steps at this budget" if len(candidates) < len(beyond)
                   else f"add {'smaller' if side == 'below' else 'larger'} --model-sizes")
            notes.append(f"{have + len(candidates)} size(s) {side} it ({why})")
    note = None
    if notes:
        note = f"C={budget:.3g} cannot bracket its loss minimum with {each_side} sizes on each side: " + "; ".join(notes)
    return _names(ladder, chosen), note


def _sides(budget: float, trained: list[SizeResults]) -> tuple[int | None, int]:
    """Trained sizes below and above the minimum: the report's parabola where it has an interior minimum,
    else the best run's size."""
    rows = [(s.parameters, loss) for s in trained for loss in s.losses]
    if not rows:
        return None, 0
    N, loss = (np.array(column, dtype=float) for column in zip(*rows))
    found = budget_minimum(N, N, loss, np.full(len(N), budget), budget)
    if isinstance(found, BudgetMinimum):
        return found.sizes_below, found.sizes_above
    means = {s.parameters: float(np.mean(s.losses)) for s in trained if s.losses}
    best = min(means, key=means.get)
    return sum(n < best for n in means), sum(n > best for n in means)


def _names(ladder: list[SizeResults], chosen: set[int]) -> list[str]:
    return [ladder[i].size for i in sorted(chosen)]

