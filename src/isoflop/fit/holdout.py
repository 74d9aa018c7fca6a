"""The extrapolation check: fit on every budget but the largest, forecast the largest, compare.

Approach 2's forecasting law (``fit.allocation_law``) fitted on the smaller budgets forecasts the
largest budget's compute-optimal loss and size with the one interval every forecast uses
(``fit.forecast``). Two things are compared, each with the interval of its kind: the held-out budget's
parabola vertex (a fitted value, the compute-optimal loss: against the interval for the law's value) and
the best run trained there (measured: against the interval for a new run's loss).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UsageError
from .allocation_law import fit_allocation
from .isoflop_profiles import approach2


@dataclass(frozen=True)
class Holdout:
    """The largest budget held out: the forecast of its loss, with intervals, against its vertex and its best run."""

    budget: float
    predicted_loss: float
    loss_interval: tuple[float, float] | None  # for the law's value
    vertex_loss: float  # the held-out budget's parabola minimum (fitted, not trained)
    predicted_n: float
    n_interval: tuple[float, float] | None
    vertex_n: float
    budgets_fitted: int
    best_run_loss: float | None = None  # the lowest loss a run trained there measured
    run_interval: tuple[float, float] | None = None  # for a new run's loss

    @property
    def loss_within(self) -> bool | None:
        return None if self.loss_interval is None else bool(self.loss_interval[0] <= self.vertex_loss <= self.loss_interval[1])

    @property
    def run_within(self) -> bool | None:
        if self.run_interval is None or self.best_run_loss is None:
            return None
        return bool(self.run_interval[0] <= self.best_run_loss <= self.run_interval[1])

    def as_dict(self) -> dict:
        return {
            "C": self.budget, "budgets_fitted": self.budgets_fitted,
            "loss": {"predicted": self.predicted_loss, "interval": list(self.loss_interval) if self.loss_interval else None,
                     "vertex": self.vertex_loss, "within_interval": self.loss_within,
                     "best_run": self.best_run_loss, "run_interval": list(self.run_interval) if self.run_interval else None,
                     "best_run_within": self.run_within},
            "N_opt": {"predicted": self.predicted_n, "interval": list(self.n_interval) if self.n_interval else None,
                      "vertex": self.vertex_n},
        }

    @classmethod
    def from_dict(cls, data: dict) -> Holdout:
        """Read back, also from results saved before the vertex and the best run were told apart ("measured")."""
        loss, n = data["loss"], data["N_opt"]
        return cls(data["C"], loss["predicted"], tuple(loss["interval"]) if loss["interval"] else None,
                   loss.get("vertex", loss.get("measured")), n["predicted"], tuple(n["interval"]) if n["interval"] else None,
                   n.get("vertex", n.get("measured")), data["budgets_fitted"], loss.get("best_run"),
                   tuple(loss["run_interval"]) if loss.get("run_interval") else None)

    def sentence(self) -> str:
        interval = (f" [{self.loss_interval[0]:.4f}, {self.loss_interval[1]:.4f}]" if self.loss_interval
                    else " (no interval: too few smaller budgets to backtest the forecast, or no configuration resample)")
        verdict = {True: "inside the interval", False: "outside the interval", None: ""}[self.loss_within]
        n_interval = f" [{self.n_interval[0]:,.0f}, {self.n_interval[1]:,.0f}]" if self.n_interval else ""
        text = (f"Hold-out check: fitted on the {self.budgets_fitted} smaller budgets, the law forecasts at C = {self.budget:.3g} "
                f"a compute-optimal loss of {self.predicted_loss:.4f}{interval}; that budget's parabola vertex (fitted, not "
                f"trained) is {self.vertex_loss:.4f} ({(self.vertex_loss / self.predicted_loss - 1):+.1%}"
                f"{', ' + verdict if verdict else ''}).")
        if self.best_run_loss is not None:
            if self.run_interval:
                verdict = "inside" if self.run_within else "outside"
                text += (f" The best run trained there measured {self.best_run_loss:.4f}, {verdict} a new run's interval "
                         f"[{self.run_interval[0]:.4f}, {self.run_interval[1]:.4f}].")
            else:
                text += f" The best run trained there measured {self.best_run_loss:.4f}."
        return text + f" Forecast N* = {self.predicted_n:,.0f}{n_interval}; the vertex's N* = {self.vertex_n:,.0f}."


def holdout_largest(N, D, loss, C, count=None, *, resamples: int, seed: int = 0) -> Holdout:
    """Fit on every budget but the largest and forecast it, with ``resamples`` configuration resamples behind the
    intervals (the frontier's forms weighed by their backtest, as every forecast does)."""
    N, D, loss, C = (np.asarray(v, dtype=float) for v in (N, D, loss, C))
    largest = float(C.max())
    kept = C < largest
    if len(np.unique(C[kept])) < 3:
        raise UsageError(f"the hold-out check needs at least 3 budgets besides the largest, got {len(np.unique(C[kept]))}; "
                         "add budgets")
    vertex = [m for m in approach2(N, D, loss, C, count, bootstrap=0).minima if m.flops == largest]
    if not vertex:
        raise UsageError(f"the largest budget ({largest:.3g}) has no fitted minimum to compare a prediction with; "
                         "train sizes on both sides of its optimum")
    law = fit_allocation(N[kept], D[kept], loss[kept], C[kept], count, resamples=resamples, seed=seed)
    best, size = law.predict(largest), law.optimal_size(largest)
    run = law.predict(largest, "new run") if law.frontier.run_sigma is not None else None
    return Holdout(largest, best.value, best.interval, vertex[0].loss, size.value, size.interval, vertex[0].n_opt,
                   len(law.minima), float(loss[C == largest].min()), run.interval if run else None)
