"""Approaches 1 and 2 of Hoffmann et al. (2022), and the compute frontier L*(C).

Approach 1 takes the minimum-loss envelope over training curves; approach 2 fits, per
compute budget, a parabola of loss in log N and reads off its minimum. Both then fit
power laws N*(C) ∝ C^a and D*(C) ∝ C^b across budgets.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from ..models.counts import TRAIN_FLOPS_PER_PARAM_TOKEN
from ..errors import UsageError
from .draws import draws
from .powerlaw import CONFIDENCE, PowerLaw, fit_power_law, percentile_interval

MIN_BUDGETS = 2
# A power law has two parameters: a third point is the least that gives an interval.
MIN_ENVELOPE_POINTS = 3
MIN_SIZES_PER_BUDGET = 3
ENVELOPE_BINS = 20


@dataclass(frozen=True)
class BudgetMinimum:
    """The compute-optimal point of one budget (approach 2) or one envelope bin (approach 1)."""

    flops: float
    n_opt: float
    d_opt: float
    loss: float
    parabola: tuple[float, float, float] | None = None  # loss = p0·x² + p1·x + p2, x = ln N
    sizes_below: int = 0  # trained sizes on each side of N*: the minimum is only pinned with some on both
    sizes_above: int = 0


@dataclass(frozen=True)
class AllocationFit:
    """Approaches 1 and 2: each budget's loss minimum and the power laws N*(C), D*(C) and L*(C) through them."""

    approach: int
    minima: list[BudgetMinimum]
    n_law: PowerLaw
    d_law: PowerLaw
    skipped: list[str] = field(default_factory=list)  # budgets without a fitted minimum, and why

    def as_dict(self) -> dict:
        return {
            "approach": self.approach,
            "skipped_budgets": self.skipped,
            "N_opt": self.n_law.as_dict(),
            "D_opt": self.d_law.as_dict(),
            "a": self.n_law.exponent,
            "b": self.d_law.exponent,
            "minima": [
                # C = k·N·D: Chinchilla's 6, larger where attention and the head weigh
                {"C": m.flops, "N_opt": m.n_opt, "D_opt": m.d_opt, "loss": m.loss, "sizes_below": m.sizes_below,
                 "sizes_above": m.sizes_above, "flop_factor": m.flops / (m.n_opt * m.d_opt)} for m in self.minima
            ],
        }


def budget_minimum(N, D, loss, C, budget: float, count=None) -> BudgetMinimum | str:
    """One budget's parabola of loss vs ln N and its minimum, or why there is none."""
    here = C == budget
    if len(np.unique(N[here])) < MIN_SIZES_PER_BUDGET:
        return f"fewer than {MIN_SIZES_PER_BUDGET} model sizes"
    x = np.log(N[here])
    p = np.polyfit(x, loss[here], 2)
    if p[0] <= 0:
        return "no interior minimum: loss is not convex in log N"
    x_opt = -p[1] / (2 * p[0])
    if not x.min() <= x_opt <= x.max():
        return "the parabola's minimum lies outside the sizes trained"
    n_opt = float(np.exp(x_opt))
    if count is not None:
        d_opt = float(count.tokens(budget, n_opt))
    else:
        d_opt = float(np.exp(np.polyval(np.polyfit(x, np.log(D[here]), 1), x_opt)))
    sizes = np.unique(N[here])
    return BudgetMinimum(budget, n_opt, d_opt, float(np.polyval(p, x_opt)), tuple(float(v) for v in p),
                         int((sizes < n_opt).sum()), int((sizes > n_opt).sum()))


def approach2(N, D, loss, C, count=None, bootstrap: int = 1000) -> AllocationFit:
    """Per budget C: parabola of loss vs ln N → N*, L*; D* = the tokens C buys for N* under the FLOP
    ``count`` the budgets follow, or, without one, read off the budget's own line ln D vs ln N. ``bootstrap``:
    resamples of the minima behind the power laws' intervals (0: none, for callers that resample runs)."""
    N, D, loss, C = (np.asarray(v, dtype=float) for v in (N, D, loss, C))
    _check_positive(N=N, D=D, loss=loss, C=C)
    minima, skipped = [], []
    for budget in np.unique(C):
        found = budget_minimum(N, D, loss, C, float(budget), count)
        if isinstance(found, str):
            skipped.append(f"{budget:.3g} ({found})")
        else:
            minima.append(found)
    if len(minima) < MIN_BUDGETS:
        raise UsageError(
            f"approach 2 needs at least {MIN_BUDGETS} budgets with a fitted minimum, got {len(minima)}"
            + (f"; skipped budgets: {_listed(skipped)}" if skipped else "")
        )
    return _allocation(2, minima, skipped, bootstrap)


def _listed(skipped: list[str], shown: int = 3) -> str:
    """The first few skipped budgets and a count of the rest: one line, however many there are."""
    more = len(skipped) - shown
    return ", ".join(skipped[:shown]) + (f" and {more} more" if more > 0 else "")


def approach1(N, D, loss, C=None, bins: int = ENVELOPE_BINS) -> AllocationFit:
    """The lowest loss reached at each compute (log-spaced bins of C, default 6·N·D) → N*, D* per bin."""
    N, D, loss = (np.asarray(v, dtype=float) for v in (N, D, loss))
    _check_positive(N=N, D=D, loss=loss)
    C = TRAIN_FLOPS_PER_PARAM_TOKEN * N * D if C is None else np.asarray(C, dtype=float)
    edges = np.geomspace(C.min(), C.max() * (1 + 1e-9), bins + 1)
    minima = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = np.flatnonzero((C >= low) & (C < high))
        if len(inside) == 0:
            continue
        best = inside[np.argmin(loss[inside])]
        minima.append(BudgetMinimum(float(C[best]), float(N[best]), float(D[best]), float(loss[best])))
    if len(minima) < MIN_ENVELOPE_POINTS:
        raise UsageError(
            f"approach 1 needs the loss envelope at {MIN_ENVELOPE_POINTS} or more compute levels to fit N*(C) with an "
            f"interval, got {len(minima)}; add evaluated steps, sizes or budgets"
        )
    if len({m.n_opt for m in minima}) < MIN_BUDGETS:
        raise UsageError("approach 1 needs the loss envelope to cross at least 2 model sizes; add sizes or budgets")
    return _allocation(1, minima)


def _allocation(approach: int, minima: list[BudgetMinimum], skipped: list[str] | None = None,
                bootstrap: int = 1000) -> AllocationFit:
    flops = [m.flops for m in minima]
    return AllocationFit(
        approach=approach,
        minima=minima,
        skipped=skipped or [],
        n_law=fit_power_law(flops, [m.n_opt for m in minima], bootstrap),
        d_law=fit_power_law(flops, [m.d_opt for m in minima], bootstrap),
    )


# E below this share of the lowest loss is E at its bound 0: the budgets do not identify it.
E_AT_ZERO_SHARE = 1e-3


@dataclass(frozen=True)
class Frontier:
    """L*(C) = E + A·C^−γ over the compute-optimal losses; with ``power_law``, E was not identified (the fit put
    it at its bound 0: the losses have not begun to level off) and the law is Kaplan et al.'s L*(C) = A·C^−γ."""

    E: float
    A: float
    gamma: float
    intervals: dict[str, tuple[float, float]]
    samples: list[tuple[float, float, float]] = field(default_factory=list)  # bootstrap (E, A, γ)
    power_law: bool = False

    def __call__(self, flops):
        return self.E + self.A * np.asarray(flops, dtype=float) ** -self.gamma

    def interval_at(self, flops) -> tuple[np.ndarray, np.ndarray] | None:
        """95% band of L*(C) over the bootstrap fits; None without samples."""
        if not self.samples:
            return None
        curves = np.array([e + a * np.asarray(flops, dtype=float) ** -g for e, a, g in self.samples])
        tail = (1 - CONFIDENCE) / 2 * 100
        return np.percentile(curves, tail, axis=0), np.percentile(curves, 100 - tail, axis=0)

    def formula(self) -> str:
        """The law with its fitted numbers, no intervals (for plot legends)."""
        floor = "" if self.power_law else f"{self.E:.2f} + "
        return f"L*(C) = {floor}{self.A:.3g}·C^-{self.gamma:.3f}"

    def describe(self) -> str:
        """The law in one line, each parameter with its interval."""
        law = (f"{self.A:.3g}{_bracket(self.intervals.get('A'), '.3g')}"
               f"·C^-{self.gamma:.3f}{_bracket(self.intervals.get('gamma'), '.3f')}")
        if self.power_law:
            return (f"L*(C) = {law} (a pure power law: these budgets do not identify an irreducible loss E, "
                    "whose fit or 95 % interval reaches 0)")
        return f"L*(C) = {self.E:.3f}{_bracket(self.intervals.get('E'), '.3f')} + {law}"

    def as_dict(self) -> dict:
        return {"E": self.E, "A": self.A, "gamma": self.gamma, "form": "A*C^-gamma" if self.power_law else "E+A*C^-gamma",
                "law": self.describe(), "intervals": {k: list(v) for k, v in self.intervals.items()},
                "bootstrap_samples": [list(sample) for sample in self.samples]}


def fit_frontier(flops, losses, bootstrap: int = 200, seed: int = 0, power_law: bool | None = None) -> Frontier:
    """E + A·C^−γ by least squares; where E lands on its bound 0, A·C^−γ instead (``Frontier.power_law``), or
    the form ``power_law`` names. Bootstrap resamples of the budgets refit the same form; with no more budgets
    than parameters, none."""
    flops, losses = np.asarray(flops, dtype=float), np.asarray(losses, dtype=float)
    if len(flops) < 3:
        raise UsageError(f"the compute frontier L*(C) = E + A·C^-γ needs at least 3 budgets, got {len(flops)}")
    _check_positive(C=flops, loss=losses)
    scale = np.median(flops)

    def fit(c, l, with_floor: bool):
        return _frontier_fit(c, l, with_floor, scale)

    def resampled(with_floor: bool) -> list[tuple[float, float, float]]:
        return _frontier_resamples(flops, losses, with_floor, scale, bootstrap, seed)

    floor = E_AT_ZERO_SHARE * losses.min()
    samples = None
    try:
        if power_law is None:
            # E is identified only if the fit keeps it off 0 and so does the resamples' 95 % interval: otherwise
            # the budgets cannot tell E + A·C^-γ from the simpler A·C^-γ, which is then the law.
            E, A, gamma = fit(flops, losses, with_floor=True)
            samples = resampled(with_floor=True) if E >= floor else []
            power_law = bool(E < floor or (samples and percentile_interval(np.array(samples)[:, 0])[0] < floor))
        if power_law or samples is None:
            E, A, gamma = fit(flops, losses, with_floor=not power_law)
            samples = resampled(with_floor=not power_law)
    except RuntimeError as error:
        raise UsageError(f"the compute frontier fit did not converge ({error}); add budgets") from error
    intervals = {}
    if samples:
        columns = np.array(samples)
        intervals = {name: percentile_interval(columns[:, i]) for i, name in enumerate(("E", "A", "gamma"))}
        if power_law:
            del intervals["E"]
    return Frontier(E=float(E), A=float(A), gamma=float(gamma), intervals=intervals, samples=samples,
                    power_law=power_law)


def _frontier_fit(c, l, with_floor: bool, scale: float) -> tuple[float, float, float]:
    """(E, A, γ) of E + A·C^−γ (or A·C^−γ, without the floor) by least squares, C scaled by ``scale``."""
    def model(c, e, log_a, gamma):
        return e + np.exp(log_a) * (c / scale) ** -gamma

    start = (0.5 * l.min(), np.log(max(l.max() - 0.5 * l.min(), 1e-6)), 0.1)
    with warnings.catch_warnings():
        # As many points as parameters fit them exactly: no covariance, which the bootstrap replaces.
        warnings.simplefilter("ignore", OptimizeWarning)
        if with_floor:
            (e, log_a, gamma), _ = curve_fit(model, c, l, p0=start, bounds=([0, -50, 0], [l.min(), 50, 5]),
                                             maxfev=20000)
        else:
            e, ((log_a, gamma), _) = 0.0, curve_fit(lambda c, log_a, gamma: model(c, 0.0, log_a, gamma), c, l,
                                                     p0=(np.log(l.max()), 0.1), bounds=([-50, 0], [50, 5]),
                                                     maxfev=20000)
    return e, np.exp(log_a) * scale**gamma, gamma


def _frontier_resamples(flops, losses, with_floor: bool, scale: float, bootstrap: int, seed: int) -> list[tuple]:
    """The same form refitted on bootstrap resamples of the budgets. A resample needs as many distinct budgets as
    parameters; with no more budgets than that, every usable resample is the full set, so there is no interval."""
    parameters = 3 if with_floor else 2
    out = []
    for pick in draws(len(flops), bootstrap if len(np.unique(flops)) > parameters else 0, seed):
        if len(np.unique(flops[pick])) < parameters:
            continue
        try:
            out.append(_frontier_fit(flops[pick], losses[pick], with_floor, scale))
        except (RuntimeError, ValueError):
            continue
    return out


def _bracket(pair, spec: str) -> str:
    return f" [{pair[0]:{spec}}, {pair[1]:{spec}}]" if pair else " (no interval)"


def _check_positive(**arrays) -> None:
    for name, values in arrays.items():
        if not np.all(np.isfinite(values)) or (values <= 0).any():
            raise UsageError(f"{name} must be positive and finite in every row")
