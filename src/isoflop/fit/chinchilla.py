"""Approach 3: L(N, D) = E + A/N^α + B/D^β, fitted as Hoffmann et al. (2022) and Besiroglu et al. (2024).

The fit minimises the Huber loss (δ = 1e-3) of log-space residuals

    r = LSE(a − α·log N, b − β·log D, e) − log L,   with A = exp(a), B = exp(b), E = exp(e),

*summed* over points (a mean shrinks the gradient and L-BFGS stops early), in float64, by
L-BFGS from every point of a grid of initialisations; the best optimum wins. Bootstrap
intervals refit resampled points (whole seeds at a time where seeds repeat).
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from ..errors import UsageError
from ..pools import quiet_worker, stop_now
from .powerlaw import percentile_interval

HUBER_DELTA = 1e-3
# Hoffmann et al.'s grid of starts: 6 × 6 × 5 × 5 × 5 = 4,500 initialisations.
DEFAULT_GRID = {
    "a": np.arange(0.0, 30.0, 5.0),
    "b": np.arange(0.0, 30.0, 5.0),
    "e": np.arange(-1.0, 1.5, 0.5),
    "alpha": np.arange(0.0, 2.5, 0.5),
    "beta": np.arange(0.0, 2.5, 0.5),
}
MIN_POINTS = 5
LBFGS_OPTIONS = {"maxiter": 300, "gtol": 1e-10, "ftol": 1e-12}
# Grids at least this large are split over the machine's cores.
PARALLEL_STARTS = 500
PARAMETERS = ("E", "A", "B", "alpha", "beta")


@dataclass(frozen=True)
class ChinchillaLaw:
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    objective: float = 0.0
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    samples: list[tuple[float, float, float, float, float]] = field(default_factory=list)  # bootstrap (E, A, B, α, β)

    def loss(self, N, D):
        N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
        return self.E + self.A / N**self.alpha + self.B / D**self.beta

    @property
    def a(self) -> float:
        """N*(C) ∝ C^a with a = β/(α+β)."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        """D*(C) ∝ C^b with b = α/(α+β)."""
        return self.alpha / (self.alpha + self.beta)

    def optimal(self, flops):
        """Compute-optimal N*, D* for budget ``flops`` under C = 6·N·D (Hoffmann et al. eq. 4); other FLOP
        counts: ``fit.advice.compute_optimal``."""
        G = (self.alpha * self.A / (self.beta * self.B)) ** (1 / (self.alpha + self.beta))
        scaled = np.asarray(flops, dtype=float) / 6.0
        n_opt = G * scaled**self.a
        return n_opt, scaled / n_opt

    def as_dict(self) -> dict:
        out = {name: getattr(self, name) for name in PARAMETERS}
        out.update({"a": self.a, "b": self.b, "objective": self.objective})
        out["intervals"] = {k: list(v) for k, v in self.intervals.items()}
        out["bootstrap_samples"] = [list(s) for s in self.samples]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ChinchillaLaw:
        return cls(
            **{name: float(data[name]) for name in PARAMETERS},
            intervals={k: tuple(v) for k, v in data.get("intervals", {}).items()},
            samples=[tuple(s) for s in data.get("bootstrap_samples", [])],
        )

    def loss_interval(self, N, D) -> tuple[float, float]:
        """95% interval of the predicted loss over the bootstrap fits."""
        if not self.samples:
            return (float("nan"), float("nan"))
        return percentile_interval([ChinchillaLaw(*s).loss(N, D) for s in self.samples])


def _objective(theta, log_n, log_d, log_l, delta):
    """Summed Huber loss of the log-space residuals, and its gradient."""
    a, b, e, alpha, beta = theta
    term_n = a - alpha * log_n
    term_d = b - beta * log_d
    top = np.maximum(np.maximum(term_n, term_d), e)
    w_n, w_d, w_e = np.exp(term_n - top), np.exp(term_d - top), np.exp(e - top)
    total = w_n + w_d + w_e
    r = top + np.log(total) - log_l
    size = np.abs(r)
    quadratic = size <= delta
    loss = np.where(quadratic, 0.5 * r * r, delta * (size - 0.5 * delta)).sum()
    # d loss / d r, times the softmax weight of each term (d LSE / d term).
    slope = np.where(quadratic, r, delta * np.sign(r)) / total
    g_n, g_d = slope * w_n, slope * w_d
    gradient = np.array([g_n.sum(), g_d.sum(), (slope * w_e).sum(), -(g_n * log_n).sum(), -(g_d * log_d).sum()])
    return loss, gradient


def _starts(grid) -> np.ndarray:
    return np.array(list(itertools.product(grid["a"], grid["b"], grid["e"], grid["alpha"], grid["beta"])))


def _minimise_from(starts, log_n, log_d, log_l, delta) -> tuple[np.ndarray | None, float]:
    best_theta, best_value = None, np.inf
    for start in starts:
        result = minimize(
            _objective, start, args=(log_n, log_d, log_l, delta), jac=True, method="L-BFGS-B", options=LBFGS_OPTIONS
        )
        if np.isfinite(result.fun) and result.fun < best_value:
            best_theta, best_value = result.x, float(result.fun)
    return best_theta, best_value


def _best_fit(log_n, log_d, log_l, starts, delta) -> tuple[np.ndarray, float]:
    """The best optimum over all starts; large grids are shared between processes."""
    if len(starts) >= PARALLEL_STARTS and (os.cpu_count() or 1) > 1:
        workers = os.cpu_count() or 1
        pool = ProcessPoolExecutor(max_workers=workers, initializer=quiet_worker)
        try:
            parts = pool.map(_minimise_from, np.array_split(starts, workers), *([x] * workers for x in (log_n, log_d, log_l, delta)))
            candidates = [part for part in parts if part[0] is not None]
        except BaseException:
            stop_now(pool)  # Ctrl-C or SIGTERM: not after the workers' share of the starts
            raise
        pool.shutdown()
        best_theta, best_value = min(candidates, key=lambda c: c[1]) if candidates else (None, np.inf)
    else:
        best_theta, best_value = _minimise_from(starts, log_n, log_d, log_l, delta)
    if best_theta is None:
        raise UsageError("the L(N, D) fit did not converge from any start; check the data for outliers")
    return best_theta, best_value


def _law(theta, value) -> ChinchillaLaw:
    a, b, e, alpha, beta = (float(t) for t in theta)
    return ChinchillaLaw(E=np.exp(e), A=np.exp(a), B=np.exp(b), alpha=alpha, beta=beta, objective=value)


def fit_chinchilla(
    N, D, loss, groups=None, grid=None, bootstrap: int = 100, delta: float = HUBER_DELTA, seed: int = 0
) -> ChinchillaLaw:
    """Fit L(N, D); ``groups`` (e.g. the seed of each point) are resampled whole in the bootstrap."""
    N, D, loss = (np.asarray(v, dtype=float) for v in (N, D, loss))
    if len(N) < MIN_POINTS:
        raise UsageError(f"approach 3 needs at least {MIN_POINTS} points (N, D, loss), got {len(N)}")
    if (N <= 0).any() or (D <= 0).any() or (loss <= 0).any():
        raise UsageError("N, D and loss must all be positive for a scaling-law fit")
    log_n, log_d, log_l = np.log(N), np.log(D), np.log(loss)
    theta, value = _best_fit(log_n, log_d, log_l, _starts(grid or DEFAULT_GRID), delta)
    law = _law(theta, value)
    if bootstrap <= 0:
        return law
    rng = np.random.default_rng(seed)
    groups = np.zeros(len(N), dtype=int) if groups is None else np.asarray(groups)
    samples = {name: [] for name in (*PARAMETERS, "a", "b")}
    fits = []
    # Each resample starts from the full fit and a few nearby points: the optimum moves little.
    local_starts = np.vstack([theta, theta + [1, 1, 0.1, 0.05, 0.05], theta - [1, 1, 0.1, 0.05, 0.05]])
    for _ in range(bootstrap):
        pick = _resample(groups, rng)
        t, v = _best_fit(log_n[pick], log_d[pick], log_l[pick], local_starts, delta)
        fitted = _law(t, v)
        fits.append(tuple(float(getattr(fitted, name)) for name in PARAMETERS))
        for name in samples:
            samples[name].append(getattr(fitted, name))
    intervals = {name: percentile_interval(values) for name, values in samples.items()}
    return ChinchillaLaw(**{**law.__dict__, "intervals": intervals, "samples": fits})


def _resample(groups: np.ndarray, rng) -> np.ndarray:
    """Points resampled with replacement; with several groups (seeds), one group per point position."""
    unique = np.unique(groups)
    if len(unique) == 1:
        return rng.integers(0, len(groups), len(groups))
    # Resample points, and for each the seed: run noise then reaches the intervals.
    chosen = rng.choice(unique, size=len(unique), replace=True)
    return np.concatenate([np.flatnonzero(groups == g) for g in chosen])
