"""Advice from a fit: the compute-optimal N, D and epochs for a budget, and its loss.

Compute becomes (N, D) through the fit's own FLOP count (``fit.flops``), so the advice
spends the budget as the runs it was fitted on were counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar

from ..errors import UsageError
from .chinchilla import ChinchillaLaw
from .constrained import effective_data
from .flops import FlopCount

# Model sizes searched around the 6N closed-form optimum when there is no closed form.
SEARCH_SPAN = 1e4
SEARCH_POINTS = 2001


@dataclass(frozen=True)
class Advice:
    flops: float
    parameters: float
    tokens: float
    epochs: float | None
    loss: float | None
    loss_interval: tuple[float, float] | None
    method: str
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "C": self.flops, "N": self.parameters, "D": self.tokens, "epochs": self.epochs, "loss": self.loss,
            "loss_interval": list(self.loss_interval) if self.loss_interval else None, "method": self.method,
            "notes": self.notes,
        }


def compute_optimal(law: ChinchillaLaw, flops: float, count: FlopCount, unique_tokens: float | None = None,
                    r_star: float | None = None) -> tuple[float, float, float, str]:
    """(N*, D*, effective D*, how it was found) minimising L(N, D) subject to C = count.flops(N, D)."""
    with np.errstate(all="ignore"):
        n_closed, d_closed = (float(v) for v in law.optimal(flops))
    if not (np.isfinite(n_closed) and np.isfinite(d_closed) and n_closed > 0 and d_closed > 0):
        raise UsageError(f"at C = {flops:.3g} FLOPs this law has no finite optimum (N = {n_closed:.3g}): the budget lies "
                         "far outside what the law describes; ask for a budget near the range it was fitted on")
    if count.convention == "6N" and unique_tokens is None:
        return n_closed, d_closed, d_closed, "closed form (Hoffmann et al. eq. 4, C = 6ND)"

    def effective(tokens):
        if unique_tokens is None:
            return tokens
        if r_star is not None:
            return effective_data(tokens, unique_tokens, r_star)
        return np.minimum(tokens, unique_tokens)

    def loss_at(log_n):
        n = np.exp(log_n)
        return law.loss(n, effective(count.tokens(flops, n)))

    logs = np.log(n_closed) + np.linspace(-np.log(SEARCH_SPAN), np.log(SEARCH_SPAN), SEARCH_POINTS)
    best = int(np.argmin(loss_at(logs)))
    low, high = logs[max(best - 1, 0)], logs[min(best + 1, len(logs) - 1)]
    refined = minimize_scalar(loss_at, bounds=(low, high), method="bounded", options={"xatol": 1e-10})
    n_opt = float(np.exp(refined.x))
    d_opt = float(count.tokens(flops, n_opt))
    return n_opt, d_opt, float(effective(d_opt)), "search over N (bounded, 1e-10 in ln N) under " + count.description


def advise(
    law: ChinchillaLaw,
    flops: float,
    count: FlopCount,
    unique_tokens: float | None = None,
    r_star: float | None = None,
    fitted_range: dict[str, list[float]] | None = None,
) -> Advice:
    n_opt, d_opt, d_effective, method = compute_optimal(law, flops, count, unique_tokens, r_star)
    notes: list[str] = []
    epochs = None
    if unique_tokens is not None:
        epochs = d_opt / unique_tokens
        if r_star is None:
            notes.append(
                "no data-constrained fit: repeated tokens are counted as worthless (a pessimistic prediction); "
                "fit runs that repeat data to value them"
            )
    notes += _extrapolation_notes(n_opt, d_opt, flops, fitted_range)
    interval = law.loss_interval(n_opt, d_effective) if law.samples else None
    return Advice(flops, n_opt, d_opt, epochs, float(law.loss(n_opt, d_effective)), interval, method, notes)


def advise_allocation(fit: dict, flops: float, count: FlopCount, fitted_range: dict | None = None) -> Advice:
    """From an approach-1/2 fit: N* = k·C^a, D* = the tokens C buys for N*, loss on the frontier L*(C) if fitted."""
    n_law = fit["N_opt"]
    n_opt = float(n_law["coefficient"] * flops ** n_law["exponent"])
    d_opt = float(count.tokens(flops, n_opt))
    frontier = fit.get("frontier")
    loss = interval = None
    notes = _extrapolation_notes(n_opt, d_opt, flops, fitted_range)
    trained = [m for m in fit.get("minima", []) if abs(m["C"] / flops - 1) < 1e-9]
    if frontier:
        loss = float(frontier["E"] + frontier["A"] * flops ** -frontier["gamma"])
    elif trained:
        loss = float(trained[0]["loss"])
        notes.append("loss: the minimum of this budget's fitted parabola (a budget the runs trained; there is no frontier L*(C))")
    else:
        notes.append("no loss: the fit has no frontier L*(C) (it needs at least 3 budgets with a minimum)")
    method = f"approach {fit['approach']}: N*(C) = {n_law['coefficient']:.3g}·C^{n_law['exponent']:.3f}, D* = C / FLOPs per token"
    return Advice(flops, n_opt, d_opt, None, loss, interval, method, notes)


def _extrapolation_notes(n_opt, d_opt, flops, fitted_range) -> list[str]:
    notes = []
    for name, value in (("N", n_opt), ("D", d_opt), ("C", flops)):
        low, high = (fitted_range or {}).get(name, (None, None))
        if low is not None and not low <= value <= high:
            notes.append(
                f"{name} = {value:.3g} lies outside the range the law was fitted on ({low:.3g} to {high:.3g}): "
                "this is an extrapolation"
            )
    return notes
