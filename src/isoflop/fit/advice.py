"""Advice from a fit: the compute-optimal N, D and epochs for a budget, and its loss.

Compute becomes (N, D) through the fit's own FLOP count (``fit.flops``), so the advice
spends the budget as the runs it was fitted on were counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar

from ..errors import UnreliableResult, UsageError
from .chinchilla import ChinchillaLaw
from .flops import FlopCount
from .laws import LoadedLaw
from .powerlaw import percentile_interval

# Model sizes searched around the 6N closed-form optimum when there is no closed form.
SEARCH_SPAN = 1e4
SEARCH_POINTS = 2001


@dataclass(frozen=True)
class Advice:
    """What ``isoflop advise`` recommends for a budget: the model size, the tokens, the epochs over unique data."""

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


def compute_optimal(law: ChinchillaLaw, flops: float, count: FlopCount, loss_of=None) -> tuple[float, float, str]:
    """(N*, D*, how it was found) minimising the loss subject to C = count.flops(N, D).

    ``loss_of(N, D)`` (vectorised over N and D): the loss to minimise when it is not ``law``'s own (data-constrained, capped data);
    the search then starts from ``law``'s closed form under 6N."""
    with np.errstate(all="ignore"):
        n_closed, d_closed = (float(v) for v in law.optimal(flops))
    if not (np.isfinite(n_closed) and np.isfinite(d_closed) and n_closed > 0 and d_closed > 0):
        raise UsageError(f"at C = {flops:.3g} FLOPs this law has no finite optimum (N = {n_closed:.3g}): the budget lies "
                         "far outside what the law describes; ask for a budget near the range it was fitted on")
    if count.convention == "6N" and loss_of is None:
        return n_closed, d_closed, "closed form (Hoffmann et al. eq. 4, C = 6ND)"
    loss_of = loss_of or law.loss

    def loss_at(log_n):
        n = np.exp(log_n)
        return loss_of(n, count.tokens(flops, n))

    logs = np.log(n_closed) + np.linspace(-np.log(SEARCH_SPAN), np.log(SEARCH_SPAN), SEARCH_POINTS)
    best = int(np.argmin(loss_at(logs)))
    low, high = logs[max(best - 1, 0)], logs[min(best + 1, len(logs) - 1)]
    refined = minimize_scalar(loss_at, bounds=(low, high), method="bounded", options={"xatol": 1e-10})
    n_opt = float(np.exp(refined.x))
    return n_opt, float(count.tokens(flops, n_opt)), "search over N (bounded, 1e-10 in ln N) under " + count.description


def advise(loaded: LoadedLaw, flops: float, unique_tokens: float | None = None) -> Advice:
    """The compute-optimal N, D (and epochs of ``unique_tokens``) for ``flops`` under a law with L(N, D)."""
    loss_of, interval_of = loaded.predictor(unique_tokens)
    plain = unique_tokens is None and loaded.constrained is None
    n_opt, d_opt, method = compute_optimal(loaded.law, flops, loaded.count, None if plain else loss_of)
    notes: list[str] = []
    epochs = None
    if unique_tokens is not None:
        epochs = d_opt / unique_tokens
    notes += loaded.repetition_notes(unique_tokens)
    notes += _extrapolation_notes(n_opt, d_opt, flops, loaded.fitted_range)
    loss = float(loss_of(n_opt, d_opt))
    return Advice(flops, n_opt, d_opt, epochs, loss, interval_of(n_opt, d_opt), method, notes)


def refuse_blind(loaded: LoadedLaw, loss: float | None, where: str) -> None:
    """Refuse (``UnreliableResult``) an approach-3 forecast whose irreducible loss E reaches the loss it forecasts
    ``where`` (words: the budget, or N and D): the law's reducible part there is within E's own uncertainty, so the
    forecast is E, not a scaling law."""
    law = loaded.law
    if law is None or loss is None or loaded.constrained is not None:
        return
    high = law.intervals.get("E", (law.E, law.E))[1]
    if high is not None and np.isfinite(high) and high >= loss:
        raise UnreliableResult(
            f"approach 3's irreducible loss E = {law.E:.4g} (95 % interval up to {high:.4g}) reaches the loss it forecasts "
            f"at {where} ({loss:.4g}): the law extrapolates blind here; use an approach-2 law "
            "(isoflop fit --approach 2 --save), or --force")


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
        samples = frontier.get("bootstrap_samples") or []  # saved since 2026-12: older files have none
        if samples:
            interval = percentile_interval([e + a * flops**-g for e, a, g in samples])
            notes.append("interval: the percentile band of bootstrap resamples of the per-budget minima, which this law "
                         "was saved with (it covered 5 of 15 later runs on a public ladder); save the fit again with "
                         "isoflop fit --save for the calibrated forecast interval")
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
