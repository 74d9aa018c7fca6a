"""The extrapolation check: fit on every budget but the largest, predict the largest, compare.

Approach 2's frontier L*(C) and N*(C) fitted on the smaller budgets predict the largest
budget's compute-optimal loss and size; the measurement is that budget's own parabola minimum.
The forecast's intervals come from configuration resamples of the smaller budgets' runs,
studentized (``fit.resampling``): the minima bootstrap they replace covered 62 % of a nominal 95 %
on the default study's design (``benchmarks/coverage.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UsageError
from .isoflop_profiles import approach2, fit_frontier
from .resampling import allocation_intervals


@dataclass(frozen=True)
class Holdout:
    """The largest budget held out: the law's forecast of its loss, with an interval, against the measured one."""

    budget: float
    predicted_loss: float
    loss_interval: tuple[float, float] | None
    measured_loss: float
    predicted_n: float
    n_interval: tuple[float, float] | None
    measured_n: float
    budgets_fitted: int

    @property
    def loss_within(self) -> bool | None:
        return None if self.loss_interval is None else bool(self.loss_interval[0] <= self.measured_loss <= self.loss_interval[1])

    def as_dict(self) -> dict:
        return {
            "C": self.budget, "budgets_fitted": self.budgets_fitted,
            "loss": {"predicted": self.predicted_loss, "interval": list(self.loss_interval) if self.loss_interval else None,
                     "measured": self.measured_loss, "within_interval": self.loss_within},
            "N_opt": {"predicted": self.predicted_n, "interval": list(self.n_interval) if self.n_interval else None,
                      "measured": self.measured_n},
        }

    @classmethod
    def from_dict(cls, data: dict) -> Holdout:
        loss, n = data["loss"], data["N_opt"]
        return cls(data["C"], loss["predicted"], tuple(loss["interval"]) if loss["interval"] else None, loss["measured"],
                   n["predicted"], tuple(n["interval"]) if n["interval"] else None, n["measured"], data["budgets_fitted"])

    def sentence(self) -> str:
        interval = (f" [{self.loss_interval[0]:.4f}, {self.loss_interval[1]:.4f}]" if self.loss_interval
                    else " (no interval: no configuration resample had a minimum at every budget, or none were drawn: see --allocation-resamples)")
        verdict = {True: "inside the interval", False: "outside the interval", None: ""}[self.loss_within]
        n_interval = f" [{self.n_interval[0]:,.0f}, {self.n_interval[1]:,.0f}]" if self.n_interval else ""
        return (f"Hold-out check: fitted on the {self.budgets_fitted} smaller budgets, the law predicts at C = {self.budget:.3g} "
                f"a compute-optimal loss of {self.predicted_loss:.4f}{interval}; measured {self.measured_loss:.4f} "
                f"({(self.measured_loss / self.predicted_loss - 1):+.1%}{', ' + verdict if verdict else ''}). "
                f"Predicted N* = {self.predicted_n:,.0f}{n_interval}, measured {self.measured_n:,.0f}.")


def holdout_largest(N, D, loss, C, count=None, power_law: bool | None = None, *, resamples: int,
                    seed: int = 0) -> Holdout:
    """Fit on every budget but the largest and predict it, with intervals from ``resamples`` configuration resamples;
    ``power_law`` fixes the frontier's form to the one the law under test has (``fit_frontier`` decides otherwise)."""
    N, D, loss, C = (np.asarray(v, dtype=float) for v in (N, D, loss, C))
    largest = float(C.max())
    kept = C < largest
    if len(np.unique(C[kept])) < 3:
        raise UsageError(f"the hold-out check needs at least 3 budgets besides the largest, got {len(np.unique(C[kept]))}; "
                         "add budgets")
    measured = [m for m in approach2(N, D, loss, C, count, bootstrap=0).minima if m.flops == largest]  # minima only
    if not measured:
        raise UsageError(f"the largest budget ({largest:.3g}) has no fitted minimum to compare a prediction with; "
                         "train sizes on both sides of its optimum")
    fitted = approach2(N[kept], D[kept], loss[kept], C[kept], count, bootstrap=0)
    if len(fitted.minima) < 3:
        raise UsageError(f"the hold-out check needs a minimum at 3 of the smaller budgets to fit L*(C), got {len(fitted.minima)}")
    frontier = fit_frontier([m.flops for m in fitted.minima], [m.loss for m in fitted.minima], bootstrap=0,
                            power_law=power_law)
    found = allocation_intervals(N[kept], D[kept], loss[kept], C[kept], count, resamples, seed,
                                 power_law=frontier.power_law, at=largest)
    return Holdout(largest, float(frontier(largest)), _finite(found.loss_at_largest), measured[0].loss,
                   float(fitted.n_law(largest)), _finite(found.n_opt_at_largest), measured[0].n_opt, len(fitted.minima))


def _finite(interval: tuple[float, float]) -> tuple[float, float] | None:
    return interval if all(np.isfinite(interval)) else None
