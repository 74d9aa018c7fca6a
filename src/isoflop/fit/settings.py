"""One fit request: ``FitSettings`` is a ``FitConfig`` (``config.fit``: every choice that can move a law,
declared once) plus what the caller decides per call (the approach, a frozen base law, a progress
bar, a start grid injected by tests).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from ..config.fit import FitConfig
from .objectives import Objective

@dataclass(frozen=True)
class FitSettings:
    """One fit request: ``config`` plus the caller's per-call choices. Recorded in the law file (``as_dict``) so
    that a fit can be traced and repeated."""

    approach: int | str = 3
    config: FitConfig = FitConfig()
    base: str | None = None  # approach "constrained": a law to freeze E, A, B, α, β to (name or file)
    progress: bool = False
    forecast: bool = True  # approach 2's forecasting law; off for a fit shown only beside another (the other count)
    grid: dict | None = None  # a start grid given directly (tests, benchmarks); default: config.fit_starts'

    @property
    def objective(self) -> Objective:
        return Objective(self.config.fit_objective, self.config.fit_huber_delta)

    @property
    def start_grid(self) -> dict:
        from .chinchilla import START_GRIDS

        return self.grid if self.grid is not None else START_GRIDS[self.config.fit_starts]

    def command(self, source: str) -> str:
        """The ``isoflop fit`` command line that makes this fit of ``source`` (the report states it per law)."""
        return shlex.join(["isoflop", "fit", source, "--approach", str(self.approach), *self.config.options()])

    def as_dict(self) -> dict:
        from .chinchilla import LBFGS_OPTIONS

        config = self.config
        return {
            "approach": self.approach, "base": self.base, "holdout_largest": config.holdout_largest,
            "leave_one_out": config.leave_one_out, "robustness": config.robustness,
            "allocation_resamples": config.fit_allocation_resamples, "method": config.fit_method,
            "objective": self.objective.as_dict(), "bootstrap": config.fit_bootstrap, "seed": config.fit_seed,
            "budget_tolerance": config.fit_budget_tolerance, "budgets": list(config.fit_budgets) if config.fit_budgets else None,
            "start_grid": {name: [float(v) for v in values] for name, values in self.start_grid.items()},
            "optimizer": {"method": "L-BFGS-B", **LBFGS_OPTIONS},
        }
