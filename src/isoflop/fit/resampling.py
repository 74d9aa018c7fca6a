"""Approach 2's intervals from resampled runs: the per-budget parabolas refitted, not 4 minima resampled.

A bootstrap of the budget minima themselves treats each minimum as an independent draw, which
it is not: it is a parabola through the runs of one budget, and with 3–4 budgets a resample of
minima is mostly the same few points (a naive bootstrap of this kind was measured at 74 %
coverage of a nominal 95 % elsewhere). Here each resample keeps the design (every budget, every
size) and moves whole configurations: a configuration (one size at one budget, all its seeds and
points together) gets the parabola's fitted loss plus the residual of a configuration drawn with
replacement from the same budget. Residuals of a 3-parameter parabola through n sizes are smaller
than the noise by √((n − 3)/n) on average, so they are inflated by √(n/(n − 3)) before they are
drawn (the small-sample correction; ``benchmarks/coverage.py`` measures what it buys).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UsageError
from .isoflop_profiles import MIN_SIZES_PER_BUDGET, approach2, fit_frontier
from .powerlaw import percentile_interval

PARABOLA_PARAMETERS = 3


@dataclass(frozen=True)
class AllocationIntervals:
    """95 % intervals of approach 2's answers over configuration resamples, and how many resamples had an answer."""

    a: tuple[float, float]
    b: tuple[float, float]
    loss_at_largest: tuple[float, float]
    resamples: int
    usable: int  # resamples that kept a minimum at every budget

    def as_dict(self) -> dict:
        return {"a": list(self.a), "b": list(self.b), "loss_at_largest": list(self.loss_at_largest),
                "resamples": self.resamples, "usable": self.usable, "method": "configuration residual bootstrap, "
                f"residuals inflated by sqrt(n/(n-{PARABOLA_PARAMETERS}))"}


def configuration_resamples(N, loss, budgets, resamples: int, seed: int = 0, inflate: bool = True):
    """``resamples`` new loss columns, each moving whole (size, budget) configurations (see the module docstring)."""
    N, loss, budgets = (np.asarray(v, dtype=float) for v in (N, loss, budgets))
    fitted, residual_of, members = np.empty_like(loss), {}, []
    for budget in np.unique(budgets):
        here = budgets == budget
        sizes = np.unique(N[here])
        if len(sizes) < MIN_SIZES_PER_BUDGET:
            fitted[here], residual_of[budget] = loss[here], np.zeros(1)
            continue
        x = np.log(N[here])
        fitted[here] = np.polyval(np.polyfit(x, loss[here], 2), x)
        config = [np.flatnonzero(here & (N == size)) for size in sizes]
        residuals = np.array([np.mean(loss[rows] - fitted[rows]) for rows in config])
        scale = np.sqrt(len(sizes) / (len(sizes) - PARABOLA_PARAMETERS)) if inflate and len(sizes) > PARABOLA_PARAMETERS else 1.0
        residual_of[budget] = (residuals - residuals.mean()) * scale
        members += [(budget, rows, residual) for rows, residual in zip(config, residuals)]
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        column = loss.copy()
        for budget, rows, own in members:
            drawn = rng.choice(residual_of[budget])
            column[rows] = fitted[rows] + drawn + (loss[rows] - fitted[rows] - own)  # seeds keep their own spread
        yield column


def allocation_intervals(N, D, loss, budgets, count=None, resamples: int = 200, seed: int = 0,
                         power_law: bool | None = None, inflate: bool = True, basic: bool = False,
                         frontier: bool = True) -> AllocationIntervals:
    """Intervals of a, b and the frontier's L* at the largest budget from ``configuration_resamples``; ``basic``:
    the basic bootstrap interval [2θ̂ − q97.5, 2θ̂ − q2.5], which reflects the resamples about the estimate θ̂ and so
    corrects the bias a minimum of noisy losses has (it lies low, and its resamples lower still). Without
    ``frontier``, L* is not refitted (its interval is NaN)."""
    a, b, top = [], [], []
    largest = float(np.max(budgets))
    estimate = approach2(N, D, loss, budgets, count, bootstrap=0)
    for column in configuration_resamples(N, loss, budgets, resamples, seed, inflate):
        try:
            fitted = approach2(N, D, column, budgets, count, bootstrap=0)
        except UsageError:  # a resample whose parabolas have no minimum has no answer
            continue
        if len(fitted.minima) < len(estimate.minima):
            continue  # a budget lost its minimum: the slope would be over other budgets
        a.append(fitted.n_law.exponent)
        b.append(fitted.d_law.exponent)
        if len(fitted.minima) < 3 or not frontier:
            continue
        try:
            frontier = fit_frontier([m.flops for m in fitted.minima], [m.loss for m in fitted.minima], bootstrap=0,
                                    power_law=power_law)
        except UsageError:
            continue
        top.append(float(frontier(largest)))
    centres = (estimate.n_law.exponent, estimate.d_law.exponent,
               float(fit_frontier([m.flops for m in estimate.minima], [m.loss for m in estimate.minima], bootstrap=0,
                                  power_law=power_law)(largest)) if frontier and len(estimate.minima) >= 3 else float("nan"))
    return AllocationIntervals(*(_interval(values, centre, basic) for values, centre in zip((a, b, top), centres)),
                               resamples, len(a))


def _interval(values: list[float], estimate: float, basic: bool) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    low, high = percentile_interval(values)
    return (2 * estimate - high, 2 * estimate - low) if basic else (low, high)
