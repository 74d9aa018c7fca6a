"""What an approach-3 fit minimises over the log-space residuals r = log L̂(N, D) − log L.

- ``huber``: Σ Huber_δ(r), δ = 1e-3 by default (Hoffmann et al. 2022; summed, not averaged);
- ``huber-likelihood``: the negative log-likelihood of r under a Huber density with a fitted
  scale σ, Σ Huber_δ(r/σ) + n·log σ + n·log Z(δ) (Besiroglu et al. 2024's headline estimate: with
  a small δ it is nearly a Laplace likelihood, an L1 fit);
- ``l1``: Σ |r|, computed as a Huber loss with δ = 1e-6 so that L-BFGS has a gradient everywhere;
- ``least-squares``: Σ r²/2.

Parameters are θ = (a, b, e, α, β) with A = eᵃ, B = eᵇ, E = eᵉ, plus log σ for the likelihood.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config.fit import HUBER_DELTA, OBJECTIVES
from ..errors import UsageError

L1_DELTA = 1e-6


@dataclass(frozen=True)
class Objective:
    """The loss a law is fitted with: Huber on log-loss (Chinchilla's) or squared error."""

    kind: str = "huber"
    delta: float = HUBER_DELTA

    def __post_init__(self) -> None:
        if self.kind not in OBJECTIVES:
            raise UsageError(f"unknown fit objective {self.kind!r}; choose one of {', '.join(OBJECTIVES)}")
        if not (math.isfinite(self.delta) and self.delta > 0):
            raise UsageError(f"the Huber δ must be a positive finite number, got {self.delta}")

    @property
    def scale_fitted(self) -> bool:
        return self.kind == "huber-likelihood"

    @property
    def bounds(self) -> list[tuple[float | None, float | None]] | None:
        """L-BFGS-B bounds: only log σ is bounded (σ from 1e-30 to 1e3: exp stays finite)."""
        return [(None, None)] * 5 + [(math.log(1e-30), math.log(1e3))] if self.scale_fitted else None

    @property
    def parameters(self) -> int:
        return 6 if self.scale_fitted else 5

    def describe(self) -> str:
        return {
            "huber": f"Huber loss (δ = {self.delta:g}) of log-space residuals, summed",
            "huber-likelihood": f"Huber likelihood (δ = {self.delta:g}) of log-space residuals with a fitted scale σ",
            "l1": f"L1 loss of log-space residuals (as Huber with δ = {L1_DELTA:g})",
            "least-squares": "least squares of log-space residuals",
        }[self.kind]

    def as_dict(self) -> dict:
        out = {"kind": self.kind, "description": self.describe()}
        if self.kind in ("huber", "huber-likelihood"):
            out["delta"] = self.delta
        return out

    def with_scale(self, theta: np.ndarray, log_n, log_d, log_l) -> np.ndarray:
        """A start θ extended by the scale that maximises the likelihood at θ (unchanged without a scale)."""
        if not self.scale_fitted or len(theta) == 6:
            return theta
        residual = np.abs(_residuals(np.asarray(theta, dtype=float)[None, :5], log_n, log_d, log_l)[0]).mean()
        return np.append(theta, math.log(min(max(self.delta * residual, 1e-30), 1e3)))


def evaluate(theta, log_n, log_d, log_l, objective: Objective, weights=None) -> tuple[float, np.ndarray]:
    """The objective at θ and its gradient (``weights``: how many times each point counts, e.g. in a resample)."""
    values, gradients = evaluate_many(np.asarray(theta, dtype=float)[None, :], log_n, log_d, log_l, objective,
                                      None if weights is None else weights[None, :])
    return float(values[0]), gradients[0]


def evaluate_inputs(theta, log_n, log_d, log_l, objective: Objective, weights=None):
    """As ``evaluate``, plus the objective's derivative by each point's log N and log D (for laws whose N and D
    are themselves functions of fitted parameters)."""
    values, gradients, g_n, g_d = _evaluate(np.asarray(theta, dtype=float)[None, :], log_n, log_d, log_l, objective,
                                            None if weights is None else weights[None, :])
    return float(values[0]), gradients[0], -theta[3] * g_n[0], -theta[4] * g_d[0]


def evaluate_many(thetas, log_n, log_d, log_l, objective: Objective, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """The objective and its gradient at many θ at once: ``thetas`` is [starts, parameters], ``weights`` None
    (every point once) or [starts, points] (each start's own resample)."""
    return _evaluate(thetas, log_n, log_d, log_l, objective, weights)[:2]


def _evaluate(thetas, log_n, log_d, log_l, objective: Objective, weights):
    r, p_n, p_d, p_e = _residuals(thetas, log_n, log_d, log_l)
    weights = np.ones_like(r) if weights is None else weights
    count = weights.sum(axis=1)
    extra = []
    if objective.kind == "least-squares":
        values, slope = 0.5 * (weights * r * r).sum(axis=1), weights * r
    elif objective.kind == "huber-likelihood":
        log_sigma = thetas[:, 5]
        u = r / np.exp(log_sigma)[:, None]
        rho, drho = _huber(u, objective.delta)
        values = (weights * rho).sum(axis=1) + count * log_sigma + count * _log_normaliser(objective.delta)
        slope = weights * drho / np.exp(log_sigma)[:, None]
        extra = [count - (weights * drho * u).sum(axis=1)]
    else:
        rho, slope = _huber(r, objective.delta if objective.kind == "huber" else L1_DELTA)
        values = (weights * rho).sum(axis=1)
        slope = weights * slope
    g_n, g_d = slope * p_n, slope * p_d
    # Elementwise products, not matrix products: BLAS threads on these small shapes only cost time.
    gradients = np.column_stack([g_n.sum(axis=1), g_d.sum(axis=1), (slope * p_e).sum(axis=1),
                                 -(g_n * log_n).sum(axis=1), -(g_d * log_d).sum(axis=1), *extra])
    return values, gradients, g_n, g_d


def _residuals(thetas, log_n, log_d, log_l):
    """r = LSE(a − α log N, b − β log D, e) − log L per start and point, and each term's share of the sum."""
    a, b, e, alpha, beta = (thetas[:, i : i + 1] for i in range(5))
    term_n = a - alpha * log_n
    term_d = b - beta * log_d
    top = np.maximum(np.maximum(term_n, term_d), e)
    w_n, w_d, w_e = np.exp(term_n - top), np.exp(term_d - top), np.exp(e - top)
    total = w_n + w_d + w_e
    return top + np.log(total) - log_l, w_n / total, w_d / total, w_e / total


def _huber(r, delta):
    size = np.abs(r)
    quadratic = size <= delta
    return np.where(quadratic, 0.5 * r * r, delta * (size - 0.5 * delta)), np.where(quadratic, r, delta * np.sign(r))


def _log_normaliser(delta: float) -> float:
    """log ∫ exp(−Huber_δ(u)) du: the Gaussian core plus the two exponential tails."""
    core = math.sqrt(2 * math.pi) * math.erf(delta / math.sqrt(2))
    return math.log(core + 2 * math.exp(-0.5 * delta * delta) / delta)
