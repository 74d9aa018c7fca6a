"""The curve forms a forecast can extrapolate with, by name: how each is fitted and evaluated.

A form is fitted to points (x, y) with x a compute budget C or a fine-tuning data size D, y a loss
or a model size (x is written C or D when a form is described). Every form is fitted in log space of x and returns its parameters as a tuple of
floats (so that a saved law holds them as a list). The forms:

- ``E+A*x^-g`` — Chinchilla's frontier L*(C) = E + A·C^−γ: an irreducible loss E (0 ≤ E ≤ the
  lowest loss seen) and a power law above it;
- ``A*x^-g`` — Kaplan et al.'s pure power law, E = 0;
- ``k*x^a`` — a power law of a size, fitted as a straight line in log-log space (N*(C), D*(C));
- ``approach 3`` — Chinchilla's L(N, D) at its compute-optimal N for each C, FLOPs per token c·N^p (fitted on
  runs by ``fit.allocation_law``, never from minima);
- ``rectified`` — Lin et al.'s (2024) rectified fine-tuning law L(D) = (A − E)/(1 + (D/D_k)^β) + E:
  a plateau near A before a knee D_k, then a power law towards E.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from ..errors import UsageError


@dataclass(frozen=True)
class Form:
    """A named curve: its parameter names, how it is fitted to (x, y), how it is evaluated."""

    name: str
    words: str
    parameters: tuple[str, ...]
    fit: Callable[..., tuple[float, ...]]  # (x, y, start=None): start, a previous fit's parameters to begin from
    evaluate: Callable[[tuple[float, ...], np.ndarray], np.ndarray]

    def __call__(self, params, x):
        return self.evaluate(tuple(params), np.asarray(x, dtype=float))

    def describe(self, variable: str) -> str:
        """The form's formula in words, with ``variable`` (C, D) for x."""
        return self.words.replace("x", variable)


def _floor_fit(x, y, with_floor: bool, start=None) -> tuple[float, float, float]:
    """(E, A, γ) of E + A·x^−γ by least squares in y, x scaled by its median (or E = 0 without the floor)."""
    scale = float(np.median(x))

    def model(c, e, log_a, gamma):
        return e + np.exp(log_a) * (c / scale) ** -gamma

    if start is not None:
        e, a, gamma = start
        start = (min(e, 0.999 * y.min()), np.log(a) - gamma * np.log(scale), gamma)
    else:
        start = (0.5 * y.min(), np.log(max(y.max() - 0.5 * y.min(), 1e-6)), 0.1)
    with warnings.catch_warnings():
        # As many points as parameters fit them exactly: no covariance, which the callers never use.
        warnings.simplefilter("ignore", OptimizeWarning)
        if with_floor:
            (e, log_a, gamma), _ = curve_fit(model, x, y, p0=start, bounds=([0, -50, 0], [y.min(), 50, 5]), maxfev=20000)
        else:
            e, ((log_a, gamma), _) = 0.0, curve_fit(lambda c, log_a, gamma: model(c, 0.0, log_a, gamma), x, y,
                                                     p0=start[1:] if start[0] == 0 else (np.log(y.max()), 0.1),
                                                     bounds=([-50, 0], [50, 5]), maxfev=20000)
    return float(e), float(np.exp(log_a) * scale**gamma), float(gamma)


def _floor_value(params, x):
    e, a, gamma = params
    return e + a * x**-gamma


def _line_fit(x, y, start=None) -> tuple[float, float]:
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(np.exp(intercept)), float(slope)


def _line_value(params, x):
    coefficient, exponent = params
    return coefficient * x**exponent


# Starts of the rectified fit: the knot at each quartile of the data sizes, β at a shallow and a steep slope.
RECTIFIED_KNOT_QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)
RECTIFIED_SLOPES = (0.3, 1.0)


def _rectified_fit(x, y, start=None) -> tuple[float, float, float, float]:
    """(A, E, D_k, β) of (A − E)/(1 + (D/D_k)^β) + E, least squares in log loss from several starts (or from ``start``,
    a previous fit's parameters, as a resample refits from the full fit's optimum)."""
    log_x = np.log(x)

    def model(log_d, log_span, e, log_knot, beta):
        return np.log(e + np.exp(log_span) / (1 + np.exp(beta * (log_d - log_knot))))

    if start is not None:
        a, e, knot, beta = start
        starts = [(np.log(max(a - e, 1e-6)), min(e, 0.999 * y.min()), np.log(knot), beta)]
    else:
        starts = [(np.log(max(y.max() - 0.5 * y.min(), 1e-6)), 0.5 * y.min(), float(np.quantile(log_x, quantile)), beta)
                  for quantile in RECTIFIED_KNOT_QUANTILES for beta in RECTIFIED_SLOPES]
    best, best_cost = None, np.inf
    for start in starts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                params, _ = curve_fit(model, log_x, np.log(y), p0=start, maxfev=20000,
                                      bounds=([-20, 0, log_x.min() - 20, 0.01], [20, y.min(), log_x.max() + 20, 5]))
        except (RuntimeError, ValueError):
            continue
        cost = float(((model(log_x, *params) - np.log(y)) ** 2).sum())
        if cost < best_cost:
            best, best_cost = params, cost
    if best is None:
        raise RuntimeError("the rectified law converged from no start")
    log_span, e, log_knot, beta = best
    return float(e + np.exp(log_span)), float(e), float(np.exp(log_knot)), float(beta)


def _rectified_value(params, x):
    a, e, knot, beta = params
    return e + (a - e) / (1 + (x / knot) ** beta)


def _not_from_points(x, y, start=None):
    raise RuntimeError("approach 3 is fitted on runs, not on per-budget minima: see fit.allocation_law")


def _approach3_value(params, x):
    """L*(C) of L(N, D) = E + A/N^α + B/D^β when FLOPs per token are c·N^p: minimising over N with D = C/(c·N^p)
    gives N* = (αA / (βpB))^(1/(α+pβ)) · (C/c)^(β/(α+pβ)) (Hoffmann et al.'s eq. 4 when c = 6, p = 1)."""
    e, a, b, alpha, beta, c, p = params
    n_opt = (alpha * a / (beta * p * b)) ** (1 / (alpha + p * beta)) * (x / c) ** (beta / (alpha + p * beta))
    return e + a * n_opt**-alpha + b * (x / (c * n_opt**p)) ** -beta


FORMS: dict[str, Form] = {form.name: form for form in (
    Form("E+A*x^-g", "E + A·x^-γ (an irreducible loss E)", ("E", "A", "gamma"),
         lambda x, y, start=None: _floor_fit(x, y, True, start), _floor_value),
    Form("A*x^-g", "A·x^-γ (a pure power law, E = 0)", ("E", "A", "gamma"),
         lambda x, y, start=None: _floor_fit(x, y, False, start), _floor_value),
    Form("k*x^a", "k·x^a (a power law)", ("coefficient", "exponent"), _line_fit, _line_value),
    Form("approach 3", "approach 3's L(N, D) = E + A/N^α + B/D^β at its optimum", ("E", "A", "B", "alpha", "beta", "c", "p"),
         _not_from_points, _approach3_value),
    Form("rectified", "(A − E)/(1 + (x/x_k)^β) + E (Lin et al.'s rectified law: a plateau, a knee x_k, a power law)",
         ("A", "E", "knee", "beta"), _rectified_fit, _rectified_value),
)}


def form(name: str) -> Form:
    """The form called ``name``."""
    if name not in FORMS:
        raise UsageError(f"unknown curve form {name!r}; known forms: {', '.join(FORMS)}")
    return FORMS[name]
