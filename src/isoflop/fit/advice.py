"""Advice from a fitted law: the compute-optimal N, D and epochs for a budget, and its loss."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .chinchilla import ChinchillaLaw
from .constrained import effective_data

# Model sizes searched around the unconstrained optimum when unique data is capped.
SEARCH_SPAN = 1e4
SEARCH_POINTS = 2001


@dataclass(frozen=True)
class Advice:
    flops: float
    parameters: float
    tokens: float
    epochs: float | None
    loss: float
    loss_interval: tuple[float, float]
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "C": self.flops, "N": self.parameters, "D": self.tokens, "epochs": self.epochs,
            "loss": self.loss, "loss_interval": list(self.loss_interval), "notes": self.notes,
        }


def advise(
    law: ChinchillaLaw,
    flops: float,
    unique_tokens: float | None = None,
    r_star: float | None = None,
    fitted_range: dict[str, list[float]] | None = None,
    flops_per_param_token: float = 6.0,
) -> Advice:
    n_opt, d_opt = (float(v) for v in law.optimal(flops, flops_per_param_token))
    notes: list[str] = []
    epochs = None
    d_effective = d_opt
    if unique_tokens is not None:
        sizes = n_opt * np.geomspace(1 / SEARCH_SPAN, SEARCH_SPAN, SEARCH_POINTS)
        tokens = flops / (flops_per_param_token * sizes)
        if r_star is not None:
            effective = effective_data(tokens, unique_tokens, r_star)
        else:
            effective = np.where(tokens > unique_tokens, unique_tokens, tokens)
            notes.append(
                "no data-constrained fit: repeated tokens are counted as worthless (a pessimistic prediction); "
                "fit runs that repeat data to value them"
            )
        best = int(np.argmin(law.loss(sizes, effective)))
        n_opt, d_opt, d_effective = float(sizes[best]), float(tokens[best]), float(effective[best])
        epochs = d_opt / unique_tokens
    loss = float(law.loss(n_opt, d_effective))
    for name, value in (("N", n_opt), ("D", d_opt), ("C", flops)):
        low, high = (fitted_range or {}).get(name, (None, None))
        if low is not None and not low <= value <= high:
            notes.append(
                f"{name} = {value:.3g} lies outside the range the law was fitted on ({low:.3g} to {high:.3g}): "
                "this is an extrapolation"
            )
    return Advice(flops, n_opt, d_opt, epochs, loss, law.loss_interval(n_opt, d_effective), notes)
