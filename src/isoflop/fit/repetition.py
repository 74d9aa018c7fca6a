"""Two laws of repeated data for one model at one budget (a scarcity sweep), and which one predicts it.

Both value U unique tokens seen for D in all as Muennighoff et al.'s D' = U(1 + R_D*(1 − e^(−R/R_D*))), with
R = D/U − 1 repetitions:

* **monotone**: loss = E' + B/D'^β — more repetitions never make the loss worse;
* **penalised**: loss = E' + B/D'^β + κ·ln(1 + R) — a penalty that grows with the repetitions (κ ≥ 0, one
  extra parameter, zero at one epoch), so the loss can turn upward once repeating hurts more than it helps.

Both are fitted the same way, by least squares on the loss: for fixed (β, R_D*) the law is linear in
(E', B, κ) ≥ 0, which non-negative least squares gives in closed form; only β and log R_D* are searched (a grid,
then Nelder–Mead). Leave-one-D-out prediction: each distinct U is left out in turn, the law fitted to the rest
predicts its mean loss over seeds, and the error is predicted minus measured.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, nnls

from ..errors import UsageError
from .constrained import LOG_R_BOUNDS, effective_data

LAWS = ("monotone", "penalised")
BETA_BOUNDS = (0.01, 3.0)
BETA_GRID = np.linspace(0.05, 2.0, 14)
LOG_R_GRID = np.linspace(*LOG_R_BOUNDS, 14)
NELDER_MEAD = {"xatol": 1e-8, "fatol": 1e-14, "maxiter": 3000}


@dataclass(frozen=True)
class RepetitionLaw:
    """A fitted law of repeated data; ``kappa`` is 0 for the monotone law."""

    law: str
    E: float
    B: float
    beta: float
    r_d_star: float
    kappa: float
    residual: float  # root-mean-square error of the fit on its own points

    def loss(self, D, U) -> np.ndarray:
        D, U = np.asarray(D, dtype=float), np.asarray(U, dtype=float)
        repeats = np.maximum(D / U - 1.0, 0.0)
        return self.E + self.B / effective_data(D, U, self.r_d_star) ** self.beta + self.kappa * np.log1p(repeats)


def _design(D, U, beta: float, log_r: float, penalised: bool) -> np.ndarray:
    columns = [np.ones_like(D), effective_data(D, U, math.exp(log_r)) ** -beta]
    if penalised:
        columns.append(np.log1p(np.maximum(D / U - 1.0, 0.0)))
    return np.column_stack(columns)


def _in_bounds(beta: float, log_r: float) -> bool:
    return BETA_BOUNDS[0] <= beta <= BETA_BOUNDS[1] and LOG_R_BOUNDS[0] <= log_r <= LOG_R_BOUNDS[1]


def fit_repetition_law(D, U, loss, law: str) -> RepetitionLaw:
    """``law`` (monotone or penalised) fitted to runs of D tokens of which U unique, ending at ``loss``."""
    if law not in LAWS:
        raise ValueError(f"unknown repetition law {law!r}; choose from {', '.join(LAWS)}")
    D, U, loss = (np.asarray(v, dtype=float) for v in (D, U, loss))
    penalised = law == "penalised"
    parameters = 5 if penalised else 4
    if len(np.unique(U)) < 3 or len(loss) <= parameters:
        raise UsageError(f"the {law} law takes at least 3 values of D and more than {parameters} runs, got "
                         f"{len(np.unique(U))} and {len(loss)}")

    def objective(x) -> float:
        if not _in_bounds(x[0], x[1]):
            return math.inf
        return nnls(_design(D, U, x[0], x[1], penalised), loss)[1] ** 2

    start = min(itertools.product(BETA_GRID, LOG_R_GRID), key=objective)
    found = minimize(objective, np.array(start), method="Nelder-Mead", options=NELDER_MEAD)
    beta, log_r = found.x if found.fun <= objective(start) else start
    coefficients, norm = nnls(_design(D, U, beta, log_r, penalised), loss)
    kappa = float(coefficients[2]) if penalised else 0.0
    return RepetitionLaw(law, float(coefficients[0]), float(coefficients[1]), float(beta), math.exp(log_r), kappa,
                         float(norm / math.sqrt(len(loss))))


@dataclass(frozen=True)
class LeaveOneOut:
    """Leave-one-D-out predictions of one law: per left-out D (its unique tokens), predicted and measured mean loss."""

    law: str
    predicted: dict[float, float]
    measured: dict[float, float]

    def errors(self) -> dict[float, float]:
        return {u: self.predicted[u] - self.measured[u] for u in self.predicted}

    @property
    def rmse(self) -> float:
        return math.sqrt(float(np.mean([e**2 for e in self.errors().values()])))

    @property
    def worst(self) -> tuple[float, float]:
        """The left-out U whose prediction is furthest off, and that error."""
        return max(self.errors().items(), key=lambda item: abs(item[1]))


def leave_one_d_out(D, U, loss, law: str) -> LeaveOneOut:
    """Each distinct U left out in turn: the law fitted to the others predicts its mean loss over seeds."""
    D, U, loss = (np.asarray(v, dtype=float) for v in (D, U, loss))
    predicted, measured = {}, {}
    for unique in np.unique(U):
        held = U == unique
        fitted = fit_repetition_law(D[~held], U[~held], loss[~held], law)
        predicted[float(unique)] = float(np.mean(fitted.loss(D[held], U[held])))
        measured[float(unique)] = float(np.mean(loss[held]))
    return LeaveOneOut(law, predicted, measured)
