"""How a fit is made, declared once: ``isoflop fit``'s options and the isoflops study's ``fit`` part.

``FitConfig`` holds every choice that can move a fitted law (objective, Huber δ, method, start
grid, resample counts, seed, budget grouping) and the checks a fit adds (hold-out,
leave-one-budget-out, robustness panel). Its defaults are ``isoflop fit``'s; the isoflops study
sets its own (fewer resamples, every check on) in its ``DEFAULTS``. It lives in config, as every
part does, so that config imports nothing from ``fit``; ``fit.settings`` pairs it with a request.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from .base import MAX_SEED, NOT_IDENTITY, Part

# What approach 3 can minimise, and the Huber loss's δ (Hoffmann et al.'s 1e-3).
OBJECTIVES = ("huber", "huber-likelihood", "l1", "least-squares")
HUBER_DELTA = 1e-3
# Approach 2: C values within this relative distance share a budget.
DEFAULT_TOLERANCE = 0.05

# The prefix that keeps the fit settings' flat names unique among a study's parts; isoflop fit's flags leave it out.
FLAG_PREFIX = "fit_"


class BootstrapConfig(Part):
    """How many bootstrap resamples a fit draws (the fit part's, and a scarcity study's R_D* fit's)."""

    fit_bootstrap: int = Field(
        1000, ge=0, description="bootstrap resamples behind a fit's intervals (approach 3's, the data-constrained law's, "
        "a scarcity study's R_D*)", json_schema_extra=NOT_IDENTITY,
    )


class FitConfig(BootstrapConfig):
    """The fit settings. Flat names are unique across a study's parts, hence the ``fit_`` prefix; ``isoflop fit``
    shows them without it (``--bootstrap``, ``--seed``, …)."""

    fit_objective: Literal[OBJECTIVES] = Field(
        "huber", description="what approach 3 minimises over log-space residuals (huber-likelihood: Epoch AI's "
        "headline fit)", json_schema_extra=NOT_IDENTITY,
    )
    fit_huber_delta: float = Field(HUBER_DELTA, gt=0, description="δ of the Huber loss or likelihood",
                                   json_schema_extra=NOT_IDENTITY)
    fit_method: Literal["huber", "varpro"] = Field(
        "huber", description="approach 3: the Huber fit (L-BFGS-B from a grid of starts), or varpro: variable "
        "projection (least squares in loss space: NNLS for E, A, B, a 2-D search over α, β; fast bootstraps)",
        json_schema_extra=NOT_IDENTITY,
    )
    fit_starts: Literal["hoffmann", "coarse"] = Field(
        "hoffmann", description="approach 3's grid of starts: Hoffmann et al.'s 4,500, or coarse (32: every third "
        "value of each; for quick looks at small studies)", json_schema_extra=NOT_IDENTITY,
    )
    fit_allocation_resamples: int = Field(
        200, ge=0, description="approach 2: configuration resamples (whole runs, parabolas refitted) behind the "
        "intervals of a and b", json_schema_extra=NOT_IDENTITY,
    )
    fit_seed: int = Field(0, ge=0, le=MAX_SEED, description="seed of the bootstrap and configuration resamples",
                          json_schema_extra=NOT_IDENTITY)
    fit_budget_tolerance: float = Field(
        DEFAULT_TOLERANCE, ge=0, lt=1, description="approach 2: C values within this relative distance share a "
        "budget", json_schema_extra=NOT_IDENTITY,
    )
    fit_budgets: tuple[float, ...] | None = Field(
        None, description="approach 2: the budgets C1,C2,… to snap each point's C to (default: group the C values)",
        json_schema_extra=NOT_IDENTITY,
    )
    fit_window: int | None = Field(
        None, ge=3, description="approach 2: fit each budget's parabola on only this many sizes around its best run "
        "(default: every size; the fit reports how far the choice moves the forecast)", json_schema_extra=NOT_IDENTITY,
    )
    holdout_largest: bool = Field(
        False, description="approach 2: also fit on every budget but the largest and compare its predicted L* and N* "
        "with the measured ones", json_schema_extra=NOT_IDENTITY,
    )
    leave_one_out: bool = Field(
        False, description="approaches 2 and 3: refit with each budget left out and show each refit's forecast of the "
        "largest budget's L* and N*", json_schema_extra=NOT_IDENTITY,
    )
    robustness: bool = Field(
        False, description="approaches 2 and 3: also fit the robustness panel (approach 2 vs 3, Huber δ, smallest size or "
        "budget dropped, total vs non-embedding N) and show how far a, b, N* and L* move",
        json_schema_extra=NOT_IDENTITY,
    )

    @field_validator("fit_budgets")
    @classmethod
    def _positive_budgets(cls, values: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if values is not None and (not values or min(values) <= 0):
            raise ValueError("give positive budgets separated by commas, e.g. 1e18,1e19,1e20")
        return values

    def options(self) -> list[str]:
        """The ``isoflop fit`` options that give these settings (those that differ from its defaults)."""
        args: list[str] = []
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if value == field.get_default():
                continue
            flag = name.removeprefix(FLAG_PREFIX).replace("_", "-")
            if isinstance(value, bool):
                args.append(f"--{flag}" if value else f"--no-{flag}")
            else:
                args += [f"--{flag}", ",".join(map(str, value)) if isinstance(value, tuple) else str(value)]
        return args
