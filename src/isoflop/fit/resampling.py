"""Approach 2's intervals from resampled runs: the per-budget parabolas refitted, not 4 minima resampled.

A bootstrap of the budget minima themselves treats each minimum as an independent draw, which
it is not: it is a parabola through the runs of one budget, and with 3–4 budgets a resample of
minima is mostly the same few points (a naive bootstrap of this kind was measured at 74 %
coverage of a nominal 95 % elsewhere). Here each resample keeps the design (every budget, every
size) and moves whole configurations: a configuration (one size at one budget, all its seeds and
points together) gets the parabola's fitted loss plus the residual of a configuration drawn with
replacement from the same budget. Residuals of a 3-parameter parabola through n sizes are smaller
than the noise by √((n − 3)/n) on average, so they are inflated by √(n/(n − 3)) before they are
drawn (the small-sample correction).

The intervals are studentized: the estimate ± t·(the resamples' standard deviation), with t the
97.5 % quantile of Student's t on the residual degrees of freedom Σ(n − 3) over budgets. The noise
behind every resample is estimated from those few residuals (8 on the default study), so a normal
quantile (or the resamples' own percentiles) is too narrow: percentiles covered 89 % of a nominal
95 % on the default study's design, ``benchmarks/coverage.py`` measures each choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

from ..errors import UsageError
from .isoflop_profiles import MIN_SIZES_PER_BUDGET, approach2, fit_frontier
from .powerlaw import CONFIDENCE, percentile_interval

PARABOLA_PARAMETERS = 3
IntervalKind = Literal["percentile", "basic", "studentized"]


@dataclass(frozen=True)
class AllocationIntervals:
    """95 % intervals of approach 2's answers over configuration resamples, and how many resamples had an answer."""

    a: tuple[float, float]
    b: tuple[float, float]
    loss_at_largest: tuple[float, float]  # L* at ``at`` (the largest budget unless another C was asked for)
    n_opt_at_largest: tuple[float, float]  # N* there (studentized in log N*)
    at: float
    resamples: int
    usable: int  # resamples that kept a minimum at every budget
    freedom: int  # residual degrees of freedom behind the noise, Σ(n − 3) over budgets

    def as_dict(self) -> dict:
        return {"a": list(self.a), "b": list(self.b), "C": self.at, "loss_at_largest": list(self.loss_at_largest),
                "N_opt_at_largest": list(self.n_opt_at_largest), "resamples": self.resamples, "usable": self.usable, "residual_freedom": self.freedom,
                "method": "configuration residual bootstrap, residuals inflated by "
                f"sqrt(n/(n-{PARABOLA_PARAMETERS})); studentized: estimate ± t(0.975, {self.freedom} df) × resample sd"}


def residual_freedom(N, budgets) -> int:
    """Σ(n − 3) over budgets with more sizes n than a parabola has parameters: the residuals' degrees of freedom."""
    N, budgets = np.asarray(N, dtype=float), np.asarray(budgets, dtype=float)
    sizes = [len(np.unique(N[budgets == budget])) for budget in np.unique(budgets)]
    return sum(n - PARABOLA_PARAMETERS for n in sizes if n > PARABOLA_PARAMETERS)


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


def resampled_fits(N, D, loss, budgets, count=None, resamples: int = 200, seed: int = 0, inflate: bool = True) -> list:
    """Approach 2 refitted on each of ``configuration_resamples``, keeping the resamples with at least as many budget
    minima as the runs themselves (one that lost a minimum would put the slope over other budgets)."""
    estimate = approach2(N, D, loss, budgets, count, bootstrap=0)
    fits = []
    for column in configuration_resamples(N, loss, budgets, resamples, seed, inflate):
        try:
            fitted = approach2(N, D, column, budgets, count, bootstrap=0)
        except UsageError:  # a resample whose parabolas have no minimum has no answer
            continue
        if len(fitted.minima) >= len(estimate.minima):
            fits.append(fitted)
    return fits


def allocation_intervals(N, D, loss, budgets, count=None, resamples: int = 200, seed: int = 0,
                         power_law: bool | None = None, inflate: bool = True, kind: IntervalKind = "studentized",
                         frontier: bool = True, at: float | None = None, fits: list | None = None) -> AllocationIntervals:
    """Intervals of a, b, and the frontier's L* and N*(C) at the largest budget (or at ``at``, a forecast) from
    ``configuration_resamples``. ``kind``:
    studentized (see the module docstring), percentile, or basic: [2θ̂ − q97.5, 2θ̂ − q2.5], the resamples reflected
    about the estimate θ̂ (a correction for the bias a minimum of noisy losses has). Without ``frontier``, L* is not
    refitted (its interval is NaN). ``fits``: ``resampled_fits`` already made (with these resamples and seed)."""
    a, b, top, sizes = [], [], [], []
    largest = float(np.max(budgets)) if at is None else float(at)
    estimate = approach2(N, D, loss, budgets, count, bootstrap=0)
    for fitted in resampled_fits(N, D, loss, budgets, count, resamples, seed, inflate) if fits is None else fits:
        a.append(fitted.n_law.exponent)
        b.append(fitted.d_law.exponent)
        sizes.append(float(np.log(fitted.n_law(largest))))
        if len(fitted.minima) < 3 or not frontier:
            continue
        try:
            refitted = fit_frontier([m.flops for m in fitted.minima], [m.loss for m in fitted.minima], bootstrap=0,
                                    power_law=power_law)
        except UsageError:
            continue
        top.append(float(refitted(largest)))
    centres = (estimate.n_law.exponent, estimate.d_law.exponent,
               float(fit_frontier([m.flops for m in estimate.minima], [m.loss for m in estimate.minima], bootstrap=0,
                                  power_law=power_law)(largest)) if frontier and len(estimate.minima) >= 3 else float("nan"))
    freedom = residual_freedom(N, budgets)
    a_interval, b_interval, loss_interval = (_interval(values, centre, kind, freedom)
                                             for values, centre in zip((a, b, top), centres))
    log_n = _interval(sizes, float(np.log(estimate.n_law(largest))), kind, freedom)
    return AllocationIntervals(a_interval, b_interval, loss_interval, (float(np.exp(log_n[0])), float(np.exp(log_n[1]))),
                               largest, resamples, len(a), freedom)


def _interval(values: list[float], estimate: float, kind: IntervalKind, freedom: int) -> tuple[float, float]:
    if len(values) < 2:
        return float("nan"), float("nan")
    if kind == "studentized":
        half = stats.t.ppf((1 + CONFIDENCE) / 2, max(freedom, 1)) * float(np.std(values, ddof=1))
        return estimate - half, estimate + half
    low, high = percentile_interval(values)
    return (2 * estimate - high, 2 * estimate - low) if kind == "basic" else (low, high)
