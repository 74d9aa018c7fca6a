"""Approach 3 by variable projection: L(N, D) = E + A/N^α + B/D^β by least squares in loss space.

For fixed exponents (α, β) the law is linear in (E, A, B), so those come from non-negative least
squares in closed form (``scipy.optimize.nnls``) and only the two exponents are searched: a grid
of (α, β), then Nelder–Mead from its best cell. Every bootstrap resample (points, or whole seeds,
drawn as ``fit.chinchilla`` draws them) repeats only that last 2-D search from the full fit's
exponents. Its objective is the sum of squared loss residuals, not Hoffmann et al.'s Huber loss of
log residuals: on the same points its optimum differs from the Huber fit's by what the two
objectives weigh differently (``benchmarks/fits.py`` measures by how much).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize, nnls

from ..errors import UsageError
from .chinchilla import MIN_POINTS, PARAMETERS, ChinchillaLaw
from .draws import weights as draw_weights
from .powerlaw import percentile_interval

EXPONENT_GRID = np.linspace(0.05, 2.0, 40)
NELDER_MEAD = {"xatol": 1e-7, "fatol": 1e-14, "maxiter": 2000}
METHOD = "variable projection: NNLS for E, A, B at each (α, β); grid, then Nelder–Mead over α, β; least squares"


def _coefficients(alpha: float, beta: float, N, D, loss, root_weights) -> tuple[np.ndarray, float]:
    """(E, A, B) ≥ 0 minimising the weighted squared residuals at (α, β), and that minimum."""
    design = np.column_stack([np.ones_like(N), N**-alpha, D**-beta]) * root_weights[:, None]
    coefficients, norm = nnls(design, loss * root_weights)
    return coefficients, norm**2


def _search(start, N, D, loss, root_weights) -> tuple[np.ndarray, float, bool]:
    def profile(exponents):
        if (exponents <= 0).any():
            return np.inf
        return _coefficients(exponents[0], exponents[1], N, D, loss, root_weights)[1]

    found = minimize(profile, start, method="Nelder-Mead", options=NELDER_MEAD)
    return found.x, float(found.fun), bool(found.success)


def _law(exponents, N, D, loss, root_weights, value: float) -> ChinchillaLaw:
    (E, A, B), _ = _coefficients(exponents[0], exponents[1], N, D, loss, root_weights)
    return ChinchillaLaw(E=float(E), A=float(A), B=float(B), alpha=float(exponents[0]), beta=float(exponents[1]),
                         objective=value)


def fit_varpro(N, D, loss, groups=None, bootstrap: int = 100, seed: int = 0) -> ChinchillaLaw:
    """The least-squares L(N, D) by variable projection, with bootstrap intervals from ``seed``."""
    N, D, loss = (np.asarray(v, dtype=float) for v in (N, D, loss))
    if len(N) < MIN_POINTS:
        raise UsageError(f"approach 3 needs at least {MIN_POINTS} points (N, D, loss), got {len(N)}")
    if (N <= 0).any() or (D <= 0).any() or (loss <= 0).any():
        raise UsageError("N, D and loss must all be positive for a scaling-law fit")
    ones = np.ones(len(N))
    cells = [(alpha, beta, _coefficients(alpha, beta, N, D, loss, ones)[1]) for alpha in EXPONENT_GRID
             for beta in EXPONENT_GRID]
    alpha, beta, _ = min(cells, key=lambda cell: cell[2])
    exponents, value, converged = _search(np.array([alpha, beta]), N, D, loss, ones)
    law = _law(exponents, N, D, loss, ones, value)
    convergence = {"method": METHOD, "grid_cells": len(cells), "best_converged": converged}
    if bootstrap <= 0:
        return ChinchillaLaw(**{name: getattr(law, name) for name in PARAMETERS}, objective=value, convergence=convergence)
    fitted, converged_resamples = [], 0
    for weights in draw_weights(len(N), bootstrap, seed, groups):
        refit, refit_value, refit_converged = _search(exponents, N, D, loss, np.sqrt(weights))
        converged_resamples += refit_converged
        fitted.append(_law(refit, N, D, loss, np.sqrt(weights), refit_value))
    samples = {name: [getattr(f, name) for f in fitted] for name in (*PARAMETERS, "a", "b")}
    intervals = {name: percentile_interval(values) for name, values in samples.items()}
    convergence |= {"resamples": bootstrap, "converged_resamples": converged_resamples, "seed": seed}
    return ChinchillaLaw(**{name: getattr(law, name) for name in PARAMETERS}, objective=value, convergence=convergence,
                         intervals=intervals, samples=[tuple(float(getattr(f, name)) for name in PARAMETERS) for f in fitted])
