"""The data-constrained law of Muennighoff et al. (2023), both of its decay terms.

With U unique tokens seen for D total tokens, the repetitions beyond the first epoch are
R_D = D/U − 1 and the effective data is

    D' = U + U·R_D*·(1 − exp(−R_D / R_D*)).

A model larger than what U tokens can use, U_N = min(N, N_opt(U)) with N_opt the base law's
compute-optimal size for U tokens, has R_N = N/U_N − 1 excess parameters and is worth

    N' = U_N + U_N·R_N*·(1 − exp(−R_N / R_N*)).

The loss is the Chinchilla form E + A/N'^α + B/D'^β. When no run has excess parameters, R_N*
is not identified and not fitted: N' = N (``r_n_star`` None). The objective is flat along a
ridge in R_D*, so besides the bootstrap interval the fit profiles the objective over R_D*.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from ..errors import ArgumentError, UsageError
from ..pools import one_blas_thread
from .chinchilla import ChinchillaLaw, fit_chinchilla
from .draws import weights as draw_weights
from .objectives import Objective, evaluate_inputs
from .powerlaw import percentile_interval

EPOCHS_REPORTED = (2, 4, 8, 16)
R_D_STARTS = (1.0, 5.0, 15.0, 50.0, 200.0)
R_N_STARTS = (1.0, 5.0, 25.0)
LOG_R_BOUNDS = (math.log(0.05), math.log(1e4))
THETA_INDEX = {"A": 0, "B": 1, "E": 2, "alpha": 3, "beta": 4, "R_D_star": 5, "R_N_star": 6}  # θ = (a, b, e, α, β, …)
PROFILE_POINTS = 29  # R_D* from 0.1 to 1e4, evenly in log
# A profile point lies in the near-flat range when its objective is within an F-test of the best:
# objective ≤ best·(1 + F_95(1, n − p) / (n − p)), with F_95(1, ·) ≈ 3.84.
F_95 = 3.84


@dataclass(frozen=True)
class DataConstrainedLaw:
    """Muennighoff et al. 2023: the Chinchilla law over effective data and parameters when data repeat."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    r_d_star: float
    r_n_star: float | None = None
    base: str = "fitted jointly"
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    samples: list[tuple] = field(default_factory=list)  # bootstrap (E, A, B, α, β, R_D*, R_N* or nan)
    profile: list[tuple[float, float]] = field(default_factory=list)  # (R_D*, best objective with R_D* fixed)
    flat_range: tuple[float, float] | None = None
    notes: list[str] = field(default_factory=list)
    pinning: list[str] = field(default_factory=list)  # why the runs do not pin R_D* down; empty when they do

    @property
    def chinchilla(self) -> ChinchillaLaw:
        return ChinchillaLaw(self.E, self.A, self.B, self.alpha, self.beta)

    def n_for_tokens(self, tokens):
        """N_opt(U): the base law's compute-optimal size for ``tokens`` tokens under C = 6ND."""
        with np.errstate(invalid="ignore"):  # a law with a negative coefficient has none: NaN, which its checks refuse
            G = np.float64(self.alpha * self.A / (self.beta * self.B)) ** (1 / (self.alpha + self.beta))
            return (np.asarray(tokens, dtype=float) * G) ** (self.beta / self.alpha) * G

    def effective_parameters(self, N, U):
        N = np.asarray(N, dtype=float)
        if self.r_n_star is None:
            return N
        used = np.minimum(N, self.n_for_tokens(U))
        return _decayed(used, np.maximum(N / used - 1.0, 0.0), self.r_n_star)

    def loss(self, N, D, U=None):
        """Predicted loss of N parameters trained on D tokens of which U are unique (U = D: no repetition)."""
        D = np.asarray(D, dtype=float)
        U = D if U is None else np.minimum(np.asarray(U, dtype=float), D)
        return self.E + self.A / self.effective_parameters(N, U) ** self.alpha + self.B / effective_data(D, U, self.r_d_star) ** self.beta

    def loss_interval(self, N, D, U=None) -> tuple[float, float] | None:
        """95% interval of the predicted loss over the bootstrap fits; None without samples."""
        if not self.samples:
            return None
        laws = [DataConstrainedLaw(*s[:6], None if not np.isfinite(s[6]) else s[6]) for s in self.samples]
        return percentile_interval([law.loss(N, D, U) for law in laws])

    def as_dict(self) -> dict:
        return {
            "E": self.E, "A": self.A, "B": self.B, "alpha": self.alpha, "beta": self.beta,
            "R_D_star": self.r_d_star, "R_N_star": self.r_n_star, "base": self.base,
            "intervals": {k: list(v) for k, v in self.intervals.items()},
            "R_D_star_interval": list(self.intervals["R_D_star"]) if "R_D_star" in self.intervals else None,
            "profile": [{"R_D_star": r, "objective": v} for r, v in self.profile],
            "R_D_star_flat_range": list(self.flat_range) if self.flat_range else None,
            "repeated_token_value": {
                str(k): {"value": v, "interval": list(i) if i else None} for k, (v, i) in self.token_values().items()
            },
            "bootstrap_samples": [list(s) for s in self.samples],
            "notes": self.notes,
            "R_D_star_not_pinned": self.pinning,
        }

    @classmethod
    def from_dict(cls, data: dict) -> DataConstrainedLaw:
        return cls(
            **{name: float(data[name]) for name in ("E", "A", "B", "alpha", "beta")},
            r_d_star=float(data["R_D_star"]),
            r_n_star=None if data.get("R_N_star") is None else float(data["R_N_star"]),
            base=str(data.get("base", "fitted jointly")),
            intervals={k: tuple(v) for k, v in data.get("intervals", {}).items()},
            samples=[tuple(float("nan") if x is None else x for x in s) for s in data.get("bootstrap_samples", [])],
        )

    @property
    def params(self) -> dict[str, float | None]:
        return {"E": self.E, "A": self.A, "B": self.B, "alpha": self.alpha, "beta": self.beta, "R_D_star": self.r_d_star,
                "R_N_star": self.r_n_star}

    def conf_int(self, level: float = 0.95) -> dict:
        """Each parameter with its percentile interval over the bootstrap refits, and how they were made."""
        from .forecast import bootstrap_conf_int

        return bootstrap_conf_int(self.params, self.samples, level)

    def predict(self, N: float, D: float, U: float | None = None):
        """The loss of N parameters trained on D tokens, U of them unique, as a ``Forecast`` (the law's value) with the
        bootstrap's percentile interval."""
        from .forecast import Forecast

        return Forecast("loss L(N, D, U)", "D", float(D), float(self.loss(N, D, U)), self.loss_interval(N, D, U), 0.95,
                        "law", f"percentile band of {len(self.samples)} bootstrap refits of the points" if self.samples
                        else "no bootstrap", {"N": float(N), "U": float(D if U is None else U)}, extrapolation=None)

    def summary(self) -> str:
        """The law, its decay constants and a repeated token's worth, one quantity a line."""
        lines = [f"L(N, D, U) = E + A/N'^alpha + B/D'^beta, D' = U(1 + R_D*(1 - e^(-R_D/R_D*))) (base: {self.base})"]
        for name, value in self.params.items():
            interval = self.intervals.get(name)
            shown = "not fitted" if value is None else f"{value:.4g}"
            lines.append(f"  {name:>8} = {shown}" + (f"  [{interval[0]:.4g}, {interval[1]:.4g}]" if interval else ""))
        lines += [f"  at {epochs} epochs a token is worth {value:.2f} of a fresh one"
                  for epochs, (value, _) in self.token_values().items()]
        return "\n".join(lines)

    def token_values(self) -> dict[int, tuple[float, tuple[float, float] | None]]:
        """Epochs → (worth of a token relative to a fresh one, 95% interval or None)."""
        interval = self.intervals.get("R_D_star")
        return {
            epochs: (token_worth(epochs, self.r_d_star),
                     tuple(token_worth(epochs, r) for r in interval) if interval else None)
            for epochs in EPOCHS_REPORTED
        }


def _decayed(unique, repeats, r_star):
    return unique + unique * r_star * (1.0 - np.exp(-repeats / r_star))


def _log_decayed(unique, repeats, r_star):
    """log of ``_decayed`` and its derivative by log R*."""
    decay = np.exp(-repeats / r_star)
    value = _decayed(unique, repeats, r_star)
    return np.log(value), unique * r_star * ((1 - decay) - repeats / r_star * decay) / value


def effective_data(D, U, r_star):
    """D' of Muennighoff et al.: unique tokens plus the decaying value of their repetitions."""
    D, U = np.asarray(D, dtype=float), np.asarray(U, dtype=float)
    return _decayed(np.minimum(D, U), np.maximum(D / U - 1.0, 0.0), r_star)


def token_worth(epochs: float, r_star: float) -> float:
    """D'/D for a run that sees its data ``epochs`` times: the average worth of its tokens relative to fresh
    ones (Muennighoff et al. report 0.98, 0.93, 0.83, 0.66 at 2, 4, 8, 16 epochs for R_D* = 15.4)."""
    return float(effective_data(epochs, 1.0, r_star) / epochs)


class _Problem:
    """The joint objective over θ = (a, b, e, α, β, log R_D*[, log R_N*]), some entries frozen."""

    def __init__(self, N, D, U, loss, objective: Objective, with_rn: bool, frozen: dict[int, float]):
        self.N, self.D, self.U, self.log_l = N, D, U, np.log(loss)
        self.log_n, self.log_u = np.log(N), np.log(U)
        self.unique, self.repeats = np.minimum(D, U), np.maximum(D / U - 1.0, 0.0)
        self.objective, self.with_rn, self.frozen = objective, with_rn, frozen
        self.size = 7 if with_rn else 6
        self.free = [i for i in range(self.size) if i not in frozen]

    def full(self, free_values) -> np.ndarray:
        theta = np.empty(self.size)
        theta[self.free] = free_values
        for i, v in self.frozen.items():
            theta[i] = v
        return theta

    def law(self, theta) -> DataConstrainedLaw:
        a, b, e, alpha, beta, log_rd = theta[:6]
        return DataConstrainedLaw(math.exp(e), math.exp(a), math.exp(b), alpha, beta, math.exp(log_rd),
                                  math.exp(theta[6]) if self.with_rn else None)

    def value(self, free_values, weights=None) -> tuple[float, np.ndarray]:
        """The objective and its gradient by the free parameters."""
        theta = self.full(free_values)
        if not np.all(np.isfinite(theta)) or theta[3] <= 0 or theta[4] <= 0:
            return 1e30, np.zeros(len(self.free))
        a, b, e, alpha, beta, rho_d = theta[:6]
        gradient = np.zeros(self.size)
        with np.errstate(all="ignore"):
            log_d, dlogd_drho = _log_decayed(self.unique, self.repeats, math.exp(rho_d))
            if self.with_rn:
                ratio, log_g = beta / alpha, (math.log(alpha) - math.log(beta) + a - b) / (alpha + beta)
                log_opt = (1 + ratio) * log_g + ratio * self.log_u
                excess = self.log_n > log_opt
                log_used = np.where(excess, log_opt, self.log_n)
                log_n, dlogn_drho = _log_decayed(np.exp(log_used), np.exp(self.log_n - log_used) - 1.0, math.exp(theta[6]))
                # log N' moves with log N_opt(U) where N_opt caps N, and log N_opt with a, b, α, β through G.
                decay = np.exp(-(np.exp(self.log_n - log_used) - 1.0) / math.exp(theta[6]))
                dlogn_dopt = np.where(excess, np.exp(log_used - log_n) * (1 + math.exp(theta[6]) * (1 - decay))
                                      - decay * np.exp(self.log_n - log_n), 0.0)
                dopt = np.stack([
                    np.full_like(self.log_u, (1 + ratio) / (alpha + beta)),
                    np.full_like(self.log_u, -(1 + ratio) / (alpha + beta)),
                    (1 + ratio) * (1 / alpha - log_g) / (alpha + beta) - beta / alpha**2 * (log_g + self.log_u),
                    (1 + ratio) * (-1 / beta - log_g) / (alpha + beta) + (log_g + self.log_u) / alpha,
                ])
            else:
                log_n = self.log_n
            value, base_gradient, g_n, g_d = evaluate_inputs(theta[:5], log_n, log_d, self.log_l, self.objective, weights)
        if not (np.isfinite(value) and np.all(np.isfinite(base_gradient))):
            return 1e30, np.zeros(len(self.free))
        gradient[:5] = base_gradient
        gradient[5] = (g_d * dlogd_drho).sum()
        if self.with_rn:
            gradient[6] = (g_n * dlogn_drho).sum()
            gradient[[0, 1, 3, 4]] += (dopt * (g_n * dlogn_dopt)).sum(axis=1)
        return float(value), gradient[self.free]

    def bounds(self):
        per = [(None, None)] * 3 + [(1e-3, 3.0)] * 2 + [LOG_R_BOUNDS] * 2
        return [per[i] for i in self.free]

    def minimise(self, start_free, weights=None):
        return minimize(self.value, start_free, args=(weights,), jac=True, method="L-BFGS-B", bounds=self.bounds(),
                        options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-10})


def fit_constrained(N, D, U, loss, base: DataConstrainedLaw | ChinchillaLaw | None = None, base_name: str | None = None,
                    bootstrap: int = 100, seed: int = 0, grid=None, objective: Objective = Objective()) -> DataConstrainedLaw:
    """Fit R_D* (and R_N* where runs have excess parameters): jointly with E, A, B, α, β from the runs that do
    not repeat data, or on a frozen ``base`` law (``base_name`` says which)."""
    with one_blas_thread():
        return _fit_constrained(N, D, U, loss, base, base_name, bootstrap, seed, grid, objective)


def _fit_constrained(N, D, U, loss, base, base_name, bootstrap, seed, grid, objective) -> DataConstrainedLaw:
    N, D, U, loss = _checked(N, D, U, loss)
    if objective.scale_fitted:
        raise ArgumentError("the data-constrained fit takes {} huber, l1 or least-squares (no fitted scale)", "objective")
    U = np.minimum(U, D)
    repeats = D > U * (1 + 1e-9)
    if not repeats.any():
        raise UsageError("no run repeats data (D > U), so R_D* cannot be fitted; add runs with fewer unique tokens")
    if base is None:
        fresh = ~repeats if (~repeats).sum() >= 5 else np.ones(len(N), dtype=bool)
        start_law = fit_chinchilla(N[fresh], np.minimum(D, U)[fresh], loss[fresh], bootstrap=0, grid=grid, objective=objective)
        description = "fitted jointly"
    else:
        start_law = base.chinchilla if isinstance(base, DataConstrainedLaw) else base
        description = f"frozen: {base_name or 'the given law'}"
    base_theta = [math.log(start_law.A), math.log(start_law.B), math.log(start_law.E), start_law.alpha, start_law.beta]
    probe = DataConstrainedLaw(start_law.E, start_law.A, start_law.B, start_law.alpha, start_law.beta, 1.0, 1.0)
    with_rn = bool((N > probe.n_for_tokens(U) * (1 + 1e-9)).any())
    frozen = {i: v for i, v in enumerate(base_theta)} if base is not None else {}
    problem = _Problem(N, D, U, loss, objective, with_rn, frozen)
    if len(N) < len(problem.free) + 1:
        raise UsageError(f"the data-constrained fit has {len(problem.free)} free parameters but only {len(N)} points; add runs")
    best = None
    for rd in R_D_STARTS:
        for rn in R_N_STARTS if with_rn else (None,):
            start = problem.full(np.zeros(len(problem.free)))
            start[:5] = base_theta
            start[5] = math.log(rd)
            if with_rn:
                start[6] = math.log(rn)
            result = problem.minimise(start[problem.free])
            if np.isfinite(result.fun) and result.fun < 1e30 and (best is None or result.fun < best.fun):
                best = result
    if best is None:
        raise UsageError("the data-constrained fit did not converge; check that the points are losses of runs that repeat data")
    theta = problem.full(best.x)
    law = problem.law(theta)
    samples, intervals, notes = _bootstrap(problem, best.x, len(N), bootstrap, seed)
    profile, flat = _profile(problem, best.x, best.fun, len(N))
    if not with_rn:
        notes.append("R_N* not fitted: no run has more parameters than its unique data can use (N ≤ N_opt(U)), "
                     "so excess parameters count fully")
    return DataConstrainedLaw(law.E, law.A, law.B, law.alpha, law.beta, law.r_d_star, law.r_n_star, description,
                              intervals, samples, profile, flat, notes, _pinning_notes(law.r_d_star, intervals.get("R_D_star"), flat))


def _checked(N, D, U, loss):
    arrays = [np.asarray(v, dtype=float) for v in (N, D, U, loss)]
    if any(not np.all(np.isfinite(a)) or (a <= 0).any() for a in arrays):
        raise UsageError("N, D, U and loss must all be positive finite numbers for the data-constrained fit")
    return arrays


def _bootstrap(problem: _Problem, optimum, points: int, bootstrap: int, seed: int):
    samples, converged = [], 0
    for weights in draw_weights(points, bootstrap, seed):
        result = problem.minimise(optimum, weights)
        converged += bool(result.success)
        law = problem.law(problem.full(result.x))
        samples.append((law.E, law.A, law.B, law.alpha, law.beta, law.r_d_star,
                        law.r_n_star if law.r_n_star is not None else float("nan")))
    intervals = {}
    notes = [f"{converged} of {bootstrap} bootstrap refits converged (each from the full-data optimum)"] if bootstrap else []
    if len(samples) >= 2:
        names = ("E", "A", "B", "alpha", "beta", "R_D_star", "R_N_star")
        for i, name in enumerate(names):
            if THETA_INDEX[name] in problem.frozen:
                continue
            column = np.array([s[i] for s in samples])
            if np.all(np.isfinite(column)):
                intervals[name] = percentile_interval(column)
    return samples, intervals, notes


def _profile(problem: _Problem, optimum, best_value: float, points: int):
    """The best objective with R_D* held at each of a grid of values, warm-started along the grid."""
    if 5 in problem.frozen:
        return [], None
    position = problem.free.index(5)
    profile = [(float(math.exp(optimum[position])), best_value)]
    start = np.delete(np.asarray(optimum, dtype=float), position)
    for log_rd in np.linspace(math.log(0.1), math.log(1e4), PROFILE_POINTS):
        sub = _Problem(problem.N, problem.D, problem.U, np.exp(problem.log_l), problem.objective, problem.with_rn,
                       {**problem.frozen, 5: float(log_rd)})
        if not sub.free:
            profile.append((float(math.exp(log_rd)), sub.value(start)[0]))
            continue
        result = sub.minimise(start)
        profile.append((float(math.exp(log_rd)), float(result.fun)))
        if result.fun < 1e30:
            start = result.x
    profile.sort()
    dof = max(points - len(problem.free), 1)
    threshold = best_value * (1 + F_95 / dof)
    # The range is bracketed by the first grid values outside it (or the grid's ends).
    inside = [i for i, (_, v) in enumerate(profile) if v <= threshold]
    low, high = max(min(inside) - 1, 0), min(max(inside) + 1, len(profile) - 1)
    return profile, (profile[low][0], profile[high][0])


def _pinning_notes(r_star: float, interval, flat) -> list[str]:
    notes = []
    low, high = (math.exp(v) for v in LOG_R_BOUNDS)
    if not low * 1.01 < r_star < high * 0.99:
        notes.append(f"R_D* = {r_star:.3g} lies on the edge of its range ({low:g} to {high:g}): the runs do not constrain it")
    if flat is not None and (flat[1] / flat[0] > 10 or flat[1] >= 1e4 * 0.99):
        notes.append(f"the objective stays within the noise for R_D* from {flat[0]:.3g} to {flat[1]:.3g}"
                     + (" (and beyond: repeated data is then as good as fresh)" if flat[1] >= 1e4 * 0.99 else "")
                     + "; more seeds or more values of D would narrow it")
    if interval is not None and interval[1] / max(interval[0], 1e-300) > 100:
        notes.append(f"its bootstrap interval [{interval[0]:.3g}, {interval[1]:.3g}] spans more than two orders of magnitude")
    return notes


def fit_repetition(U, D, loss, bootstrap: int = 200, seed: int = 0) -> DataConstrainedLaw:
    """One model on one corpus, D total tokens of which U unique (a scarcity sweep): loss = E' + B/D'^β, the
    model's own term folded into E'. Only R_D* (with B, β, E') is fitted; N-side fields are placeholders."""
    N, D, U, loss = _checked(np.ones(len(np.atleast_1d(D))), D, U, loss)
    U = np.minimum(U, D)
    if not (D > U * (1 + 1e-9)).any():
        raise UsageError("no run repeats data, so the decay of repeated tokens cannot be fitted")
    # a = −50, α = 1: the N term vanishes (e^−50) and E' = E stands for everything that does not depend on D.
    frozen = {0: -50.0, 3: 1.0}
    problem = _Problem(N, D, U, loss, Objective(), False, frozen)
    if len(N) <= len(problem.free):
        raise UsageError(f"fitting how repeated data decays takes more than {len(problem.free)} runs, got {len(N)}; "
                         "add values of D or seeds")
    with one_blas_thread():
        best = None
        for e_scale, b, beta, rd in itertools.product((0.5, 0.9), (0.0, 5.0), (0.2, 0.6), R_D_STARTS):
            start = problem.full(np.zeros(len(problem.free)))
            start[[1, 2, 4, 5]] = b, math.log(e_scale * loss.min()), beta, math.log(rd)
            result = problem.minimise(start[problem.free])
            if result.fun < 1e30 and (best is None or result.fun < best.fun):
                best = result
        if best is None:
            raise UsageError("the fit of how repeated data decays did not converge")
        law = problem.law(problem.full(best.x))
        samples, intervals, notes = _bootstrap(problem, best.x, len(N), bootstrap, seed)
        profile, flat = _profile(problem, best.x, best.fun, len(N))
    return DataConstrainedLaw(law.E, 0.0, law.B, law.alpha, law.beta, law.r_d_star, None, "one model (E' = E + A/N^α)",
                              {k: v for k, v in intervals.items() if k in ("E", "B", "beta", "R_D_star")}, samples, profile,
                              flat, notes, _pinning_notes(law.r_d_star, intervals.get("R_D_star"), flat))
