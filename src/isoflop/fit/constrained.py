"""The data-constrained law of Muennighoff et al. (2023).

With U unique tokens seen for D total tokens, the repetitions beyond the first epoch are
R_D = D/U − 1 and the effective data is

    D' = U + U·R*·(1 − exp(−R_D / R*)),

so a token repeated for the k-th epoch is worth exp(−(k − 1)/R*) of a fresh one. The loss
is the Chinchilla form with D' for D; R* (``r_star``) is fitted jointly with E, A, B, α, β
by L-BFGS on the summed Huber loss, from the unconstrained fit and a spread of R* starts.
Its objective is often flat in R*, so the bootstrap interval matters more than the value.
The parameter-side term (R_N*) is not fitted: every run here trains a fresh model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from ..errors import UsageError
from .chinchilla import fit_chinchilla
from .objectives import HUBER_DELTA, Objective, evaluate
from .powerlaw import percentile_interval

R_STAR_STARTS = (1.0, 3.0, 10.0, 30.0, 100.0)
EPOCHS_REPORTED = (2, 4, 8, 16)


@dataclass(frozen=True)
class ConstrainedLaw:
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    r_star: float
    r_star_interval: tuple[float, float]
    token_value: dict[int, tuple[float, tuple[float, float]]]  # epochs → (value, interval)

    def as_dict(self) -> dict:
        return {
            "E": self.E, "A": self.A, "B": self.B, "alpha": self.alpha, "beta": self.beta,
            "R_D_star": self.r_star, "R_D_star_interval": list(self.r_star_interval),
            "repeated_token_value": {str(k): {"value": v, "interval": list(i)} for k, (v, i) in self.token_value.items()},
        }


def effective_data(D, U, r_star):
    """D' of Muennighoff et al.: unique tokens plus decaying value of the repetitions."""
    D, U = np.asarray(D, dtype=float), np.asarray(U, dtype=float)
    repeats = np.maximum(D / U - 1.0, 0.0)
    return np.minimum(D, U) + U * r_star * (1.0 - np.exp(-repeats / r_star))


def repeated_token_value(epoch: int, r_star: float) -> float:
    return float(np.exp(-(epoch - 1) / r_star))


def _joint_objective(theta, log_n, D, U, log_l, delta):
    *base, log_r = theta
    log_d = np.log(effective_data(D, U, np.exp(log_r)))
    return evaluate(np.array(base), log_n, log_d, log_l, Objective("huber", delta))[0]


def _fit(N, D, U, loss, base_theta, delta):
    best = None
    for r0 in R_STAR_STARTS:
        start = np.append(base_theta, np.log(r0))
        result = minimize(_joint_objective, start, args=(np.log(N), D, U, np.log(loss), delta), method="L-BFGS-B",
                          bounds=[(None, None)] * 5 + [(np.log(0.05), np.log(1e4))])
        if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
            best = result
    if best is None:
        raise UsageError("the data-constrained fit did not converge; check that runs repeat data")
    return best.x


def fit_constrained(N, D, U, loss, bootstrap: int = 50, seed: int = 0, grid=None) -> ConstrainedLaw:
    N, D, U, loss = (np.asarray(v, dtype=float) for v in (N, D, U, loss))
    if not (D > U * (1 + 1e-9)).any():
        raise UsageError("no run repeats data (D > U), so R_D* cannot be fitted")
    base = fit_chinchilla(N, np.minimum(D, U), loss, bootstrap=0, grid=grid)
    base_theta = np.log([base.A, base.B, base.E]).tolist() + [base.alpha, base.beta]
    theta = _fit(N, D, U, loss, base_theta, HUBER_DELTA)
    rng = np.random.default_rng(seed)
    r_samples = []
    for _ in range(bootstrap):
        pick = rng.integers(0, len(N), len(N))
        if not (D[pick] > U[pick]).any():
            continue
        r_samples.append(float(np.exp(_fit(N[pick], D[pick], U[pick], loss[pick], theta[:5], HUBER_DELTA)[5])))
    r_star = float(np.exp(theta[5]))
    interval = percentile_interval(r_samples) if r_samples else (float("nan"), float("nan"))
    values = {}
    for epoch in EPOCHS_REPORTED:
        low, high = (repeated_token_value(epoch, r) for r in interval) if r_samples else (float("nan"),) * 2
        values[epoch] = (repeated_token_value(epoch, r_star), (low, high))
    a, b, e, alpha, beta = theta[:5]
    return ConstrainedLaw(E=float(np.exp(e)), A=float(np.exp(a)), B=float(np.exp(b)), alpha=float(alpha),
                          beta=float(beta), r_star=r_star, r_star_interval=interval, token_value=values)
