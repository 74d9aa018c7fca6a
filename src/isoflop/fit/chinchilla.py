"""Approach 3: L(N, D) = E + A/N^α + B/D^β, fitted as Hoffmann et al. (2022) and Besiroglu et al. (2024).

The fit minimises an objective (``fit.objectives``; by default the Huber loss, δ = 1e-3) of
log-space residuals

    r = LSE(a − α·log N, b − β·log D, e) − log L,   with A = exp(a), B = exp(b), E = exp(e),

*summed* over points (a mean shrinks the gradient and L-BFGS stops early), in float64, by
L-BFGS from every point of a grid of initialisations; the best optimum wins. Bootstrap
intervals refit resampled points (whole seeds at a time where seeds repeat) from a seed, so
they are reproducible; the law records how many starts and resamples converged.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from ..models.counts import TRAIN_FLOPS_PER_PARAM_TOKEN
from ..errors import UsageError, first_line
from ..pools import one_blas_thread, quiet_worker, stop_now
from ..progress import progress as progress_bar
from .draws import weights as draw_weights
from .objectives import Objective, evaluate, evaluate_many
from .powerlaw import percentile_interval

# Hoffmann et al.'s grid of starts: 6 × 6 × 5 × 5 × 5 = 4,500 initialisations.
DEFAULT_GRID = {
    "a": np.arange(0.0, 30.0, 5.0),
    "b": np.arange(0.0, 30.0, 5.0),
    "e": np.arange(-1.0, 1.5, 0.5),
    "alpha": np.arange(0.0, 2.5, 0.5),
    "beta": np.arange(0.0, 2.5, 0.5),
}
# Named grids of starts: Hoffmann et al.'s, and every third value of each (2 × 2 × 2 × 2 × 2 = 32 starts) for quick
# fits of small studies (and tests).
START_GRIDS = {"hoffmann": DEFAULT_GRID, "coarse": {name: values[::3] for name, values in DEFAULT_GRID.items()}}
MIN_POINTS = 5
LBFGS_OPTIONS = {"maxiter": 300, "gtol": 1e-10, "ftol": 1e-12}
# A grid of starts is screened all at once (Adam steps of size SCREEN_RATE, SCREEN_STAGES) and its
# SCREEN_KEEP best positions polished by L-BFGS-B, split over the machine's cores in chunks of
# START_CHUNK when at least PARALLEL_STARTS; bootstraps of PARALLEL_RESAMPLES or more too.
SCREEN_STAGES = ((60, 480), (140, 48))  # (Adam steps, starts kept after them)
SCREEN_RATE = 0.05
SCREEN_KEEP = 48
PARALLEL_STARTS = 48
START_CHUNK = 12
PARALLEL_RESAMPLES = 50
RESAMPLE_CHUNK = 25
PARAMETERS = ("E", "A", "B", "alpha", "beta")


@dataclass(frozen=True)
class ChinchillaLaw:
    """L(N, D) = E + A / N^alpha + B / D^beta (Chinchilla's approach 3), with its fit's diagnostics."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    objective: float = 0.0
    sigma: float | None = None  # the fitted residual scale (huber-likelihood only)
    convergence: dict = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    samples: list[tuple[float, float, float, float, float]] = field(default_factory=list)  # bootstrap (E, A, B, α, β)

    def loss(self, N, D):
        N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):  # a resample's runaway law: inf or NaN, which its checks refuse
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
        scaled = np.asarray(flops, dtype=float) / TRAIN_FLOPS_PER_PARAM_TOKEN
        n_opt = G * scaled**self.a
        return n_opt, scaled / n_opt

    def as_dict(self) -> dict:
        out = {name: getattr(self, name) for name in PARAMETERS}
        out.update({"a": self.a, "b": self.b, "objective": self.objective, "sigma": self.sigma,
                    "convergence": self.convergence})
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

    def loss_interval(self, N, D) -> tuple[float, float] | None:
        """95% interval of the predicted loss over the bootstrap fits; None without samples."""
        if not self.samples:
            return None
        return percentile_interval([ChinchillaLaw(*s).loss(N, D) for s in self.samples])

    @property
    def params(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in PARAMETERS}

    def conf_int(self, level: float = 0.95) -> dict:
        """Each parameter with its percentile interval over the bootstrap refits, and how they were made."""
        from .forecast import bootstrap_conf_int

        return bootstrap_conf_int(self.params, self.samples, level)

    def predict(self, N: float, D: float):
        """The loss of N parameters trained on D tokens as a ``Forecast`` (kind: the law's value), with the
        bootstrap's percentile interval. It is not the rolling-origin interval of approach 2's forecasts: the
        caller compares it with approach 2 where both are fitted (the robustness panel)."""
        from .forecast import Forecast

        resamples = len(self.samples)
        return Forecast("loss L(N, D)", "D", float(D), float(self.loss(N, D)), self.loss_interval(N, D), 0.95, "law",
                        f"percentile band of {resamples} bootstrap refits of the points" if resamples else "no bootstrap",
                        {"N": float(N)}, extrapolation=None)

    def summary(self) -> str:
        """The law and its intervals, one parameter a line."""
        lines = ["L(N, D) = E + A/N^alpha + B/D^beta"]
        for name in PARAMETERS:
            interval = self.intervals.get(name)
            lines.append(f"  {name:>5} = {getattr(self, name):.4g}" + (f"  [{interval[0]:.4g}, {interval[1]:.4g}]" if interval else ""))
        return "\n".join(lines)


def _starts(grid) -> np.ndarray:
    return np.array(list(itertools.product(grid["a"], grid["b"], grid["e"], grid["alpha"], grid["beta"])))


@dataclass(frozen=True)
class _Best:
    theta: np.ndarray | None
    value: float
    converged: int  # starts whose L-BFGS run reported convergence
    best_converged: bool


def _minimise_from(starts, log_n, log_d, log_l, objective: Objective) -> _Best:
    best, converged = _Best(None, np.inf, 0, False), 0
    for start in starts:
        result = minimize(evaluate, objective.with_scale(start, log_n, log_d, log_l), args=(log_n, log_d, log_l, objective),
                          jac=True, method="L-BFGS-B", options=LBFGS_OPTIONS, bounds=objective.bounds)
        converged += bool(result.success)
        if np.isfinite(result.fun) and result.fun < best.value:
            best = _Best(result.x, float(result.fun), 0, bool(result.success))
    return _Best(best.theta, best.value, converged, best.best_converged)


def screen(starts, log_n, log_d, log_l, objective: Objective) -> np.ndarray:
    """Every start at once: Adam steps on the vectorised objective (float64), in two stages (all starts, then the
    best tenth), and the SCREEN_KEEP lowest positions.

    One step over all starts costs what one L-BFGS iteration from each would; L-BFGS-B then polishes only the
    survivors, from where the screen left them."""
    thetas = np.array([objective.with_scale(start, log_n, log_d, log_l) for start in starts], dtype=float)
    for steps, keep in SCREEN_STAGES:
        thetas = _adam(thetas, log_n, log_d, log_l, objective, steps, SCREEN_RATE)
        values, _ = evaluate_many(thetas, log_n, log_d, log_l, objective)
        thetas = thetas[np.argsort(np.nan_to_num(values, nan=np.inf))[: max(keep, SCREEN_KEEP)]]
    return thetas[:SCREEN_KEEP]


def _adam(thetas, log_n, log_d, log_l, objective, steps: int, rate: float) -> np.ndarray:
    """``steps`` Adam steps of size ``rate`` on every row of ``thetas`` at once."""
    thetas = thetas.copy()
    first, second = np.zeros_like(thetas), np.zeros_like(thetas)
    beta1, beta2 = 0.9, 0.999
    for step in range(1, steps + 1):
        _, gradients = evaluate_many(thetas, log_n, log_d, log_l, objective)
        gradients = np.nan_to_num(gradients, nan=0.0, posinf=0.0, neginf=0.0)
        first = beta1 * first + (1 - beta1) * gradients
        second = beta2 * second + (1 - beta2) * gradients**2
        thetas -= rate * (first / (1 - beta1**step)) / (np.sqrt(second / (1 - beta2**step)) + 1e-12)
        if objective.bounds:
            thetas[:, 5] = np.clip(thetas[:, 5], *objective.bounds[5])
    return thetas


def _best_fit(log_n, log_d, log_l, starts, objective: Objective, progress=None) -> _Best:
    """The best optimum over all starts: a grid is screened all at once, its survivors polished by L-BFGS-B
    (shared between processes, in chunks, for progress)."""
    if len(starts) > 2 * SCREEN_KEEP:
        total = len(starts)
        starts = screen(starts, log_n, log_d, log_l, objective)
        if progress is not None:
            progress.update(total - len(starts))
    if len(starts) >= PARALLEL_STARTS and (os.cpu_count() or 1) > 1:
        chunks = np.array_split(starts, max(1, len(starts) // START_CHUNK))
        parts = _in_pool(_minimise_from, [(chunk, log_n, log_d, log_l, objective) for chunk in chunks], progress,
                         [len(chunk) for chunk in chunks])
    else:
        parts = [_minimise_from(starts, log_n, log_d, log_l, objective)]
        if progress is not None:
            progress.update(len(starts))
    found = [part for part in parts if part.theta is not None]
    if not found:
        raise UsageError("the L(N, D) fit did not converge from any start; check the data for outliers")
    best = min(found, key=lambda part: part.value)
    return _Best(best.theta, best.value, sum(part.converged for part in parts), best.best_converged)


POOL_ATTEMPTS = 3  # a pool whose worker died (killed, out of memory) is started again this many times in all


def _in_pool(function, arguments: list[tuple], progress, sizes: list[int]) -> list:
    """``function(*args)`` for each args on every core, in order, advancing ``progress`` as each finishes.

    Each call is a pure function of its arguments, so when a worker dies the results that arrived are kept and the
    rest are computed again in a fresh pool: the same numbers as an undisturbed fit."""
    results: dict[int, object] = {}
    for attempt in range(1, POOL_ATTEMPTS + 1):
        todo = [i for i in range(len(arguments)) if i not in results]
        pool = ProcessPoolExecutor(max_workers=os.cpu_count() or 1, initializer=quiet_worker, initargs=(os.getpid(),))
        try:
            futures = {i: pool.submit(function, *arguments[i]) for i in todo}
            for i in todo:
                results[i] = futures[i].result()
                if progress is not None:
                    progress.update(sizes[i])
        except BrokenProcessPool as error:
            stop_now(pool)
            if attempt == POOL_ATTEMPTS:
                raise UsageError(f"a fit worker process died {POOL_ATTEMPTS} times ({first_line(error)}); check the "
                                 "machine's free memory, then run the fit again") from None
            continue
        except BaseException:
            stop_now(pool)  # Ctrl-C or SIGTERM: not after the workers' share of the work
            raise
        pool.shutdown()
        break
    return [results[i] for i in range(len(arguments))]


def _law(theta, value, objective: Objective) -> ChinchillaLaw:
    a, b, e, alpha, beta = (float(t) for t in theta[:5])
    with np.errstate(over="ignore"):  # a runaway start's parameters overflow to inf, which its checks refuse
        sigma = float(np.exp(theta[5])) if objective.scale_fitted else None
        return ChinchillaLaw(E=np.exp(e), A=np.exp(a), B=np.exp(b), alpha=alpha, beta=beta, objective=value,
                             sigma=sigma)


def _polish(start, log_n, log_d, log_l, objective, weights) -> _Best:
    """L-BFGS-B from ``start`` on the points weighted by ``weights`` (a resample)."""
    result = minimize(evaluate, start, args=(log_n, log_d, log_l, objective, weights), jac=True, method="L-BFGS-B",
                      options=LBFGS_OPTIONS, bounds=objective.bounds)
    return _Best(result.x if np.isfinite(result.fun) else None, float(result.fun), int(result.success), bool(result.success))


def _polish_all(arguments: list[tuple]) -> list[_Best]:
    return [_polish(*args) for args in arguments]


def fit_loss_law(points, bootstrap: int = 100, seed: int = 0, starts: str = "hoffmann",
                 objective: Objective = Objective()) -> ChinchillaLaw:
    """Approach 3's L(N, D) from ``points`` (``Points``), seeds resampled whole where the points carry them."""
    return fit_chinchilla(points.N, points.D, points.loss, groups=points.seed, grid=START_GRIDS[starts],
                          bootstrap=bootstrap, objective=objective, seed=seed)


def fit_chinchilla(
    N, D, loss, groups=None, grid=None, bootstrap: int = 100, objective: Objective = Objective(), seed: int = 0,
    progress: bool = False,
) -> ChinchillaLaw:
    """Fit L(N, D); ``groups`` (e.g. the seed of each point) are resampled whole in the bootstrap, from ``seed``.

    With ``progress``, a bar (starts, then resamples) appears on stderr once the fit has run for a second."""
    N, D, loss = (np.asarray(v, dtype=float) for v in (N, D, loss))
    if len(N) < max(MIN_POINTS, objective.parameters):
        raise UsageError(f"approach 3 needs at least {max(MIN_POINTS, objective.parameters)} points (N, D, loss), got {len(N)}")
    if (N <= 0).any() or (D <= 0).any() or (loss <= 0).any():
        raise UsageError("N, D and loss must all be positive for a scaling-law fit")
    log_n, log_d, log_l = np.log(N), np.log(D), np.log(loss)
    starts = _starts(grid or DEFAULT_GRID)
    with one_blas_thread(), progress_bar(total=len(starts) + bootstrap, unit="fits", desc="starts, then resamples",
                                         delay=1.0, enabled=progress, leave=False) as bar:
        best = _best_fit(log_n, log_d, log_l, starts, objective, bar)
        law = _law(best.theta, best.value, objective)
        polished = min(len(starts), SCREEN_KEEP) if len(starts) > 2 * SCREEN_KEEP else len(starts)
        convergence = {"starts": len(starts), "polished_starts": polished, "converged_starts": best.converged,
                       "best_converged": best.best_converged}
        if bootstrap <= 0:
            return dataclasses.replace(law, convergence=convergence)
        # Every resample (a weighting of the points) starts L-BFGS-B from the full fit: its optimum moves little.
        arguments = [(best.theta, log_n, log_d, log_l, objective, row) for row in draw_weights(len(N), bootstrap, seed, groups)]
        if bootstrap >= PARALLEL_RESAMPLES and (os.cpu_count() or 1) > 1:
            chunks = [arguments[i : i + RESAMPLE_CHUNK] for i in range(0, bootstrap, RESAMPLE_CHUNK)]
            refits = [r for part in _in_pool(_polish_all, [(c,) for c in chunks], bar, [len(c) for c in chunks]) for r in part]
        else:
            refits = []
            for args in arguments:
                refits.append(_polish(*args))
                bar.update(1)
    fitted = [_law(refit.theta, refit.value, objective) for refit in refits if refit.theta is not None]
    samples = {name: [getattr(f, name) for f in fitted] for name in (*PARAMETERS, "a", "b")}
    intervals = {name: percentile_interval(values) for name, values in samples.items()}
    convergence |= {"resamples": bootstrap, "converged_resamples": sum(r.best_converged for r in refits), "seed": seed}
    return dataclasses.replace(law, intervals=intervals, convergence=convergence,
                               samples=[tuple(float(getattr(f, name)) for name in PARAMETERS) for f in fitted])


def refit_weighted(law: ChinchillaLaw, N, D, loss, weights, objective: Objective = Objective()) -> ChinchillaLaw:
    """``law`` refitted with each point counted ``weights`` times (0: left out), by L-BFGS-B from ``law`` itself, as
    every bootstrap resample is: a few points more or less move the optimum little."""
    log_n, log_d, log_l = (np.log(np.asarray(v, dtype=float)) for v in (N, D, loss))
    start = objective.with_scale(np.log([law.A, law.B, law.E]).tolist() + [law.alpha, law.beta], log_n, log_d, log_l)
    with one_blas_thread():
        refit = _polish(np.asarray(start, dtype=float), log_n, log_d, log_l, objective, np.asarray(weights, dtype=float))
    if refit.theta is None:
        raise UsageError("the refit did not converge")
    return _law(refit.theta, refit.value, objective)
