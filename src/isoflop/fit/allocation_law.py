"""Approach 2 as a forecasting law: the compute-optimal loss, size and tokens at any budget, and the loss of a
chosen size, each with one interval made by ``fit.forecast``'s rule.

From runs, each budget's parabola of loss in ln N gives its minimum (C, N*, L*) and its curvature c
(loss = L* + c·(ln N − ln N*)²); configuration resamples of the runs (``fit.resampling``) give the
parameter noise. From minima alone (one (C, N*, L*) row per budget, as ladders are often published)
the parameter noise comes from resampled residuals of the frontier about its own fit, and a new run's
noise is unknown.

- L*(C): the forms E + A·C^−γ and A·C^−γ, combined by their rolling-origin backtest;
- N*(C): k·C^a; D*(C): the tokens C buys for N* under the fit's FLOP count (or k·C^b without one);
- L(N, C) for a chosen N: L*(C) + c(C)·(ln N − ln N*(C))², with c(C) = k·C^a fitted across the budgets'
  curvatures (stated: a parabola's curvature in ln N is assumed to follow a power law of C). Its interval
  adds, to L*(C)'s variance, the penalty's variance from N*(C)'s and c(C)'s (delta method).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..config.fit import DEFAULT_TOLERANCE
from ..errors import UsageError
from .budgets import group_budgets
from .flops import FlopCount
from .chinchilla import ChinchillaLaw, refit_weighted
from .forecast import (DEFAULT_LEVEL, Extrapolator, FittedElsewhere, Forecast, Kind, distance, extrapolator, minimum_origin,
                       with_resamples)
from .forms import form as form_named
from .objectives import Objective
from .isoflop_profiles import MIN_SIZES_PER_BUDGET, BudgetMinimum, approach2
from .resampling import PARABOLA_PARAMETERS, residual_freedom, resampled_fits

FRONTIER_FORMS = ["E+A*x^-g", "A*x^-g"]
SIZE_FORMS = ["k*x^a"]
FORMAT = 1  # of the saved block; a later change of keys comes with a reader of this one


@dataclass(frozen=True)
class AllocationLaw:
    """Approach 2's law: per-budget minima and the extrapolators of L*(C), N*(C), D*(C) and the curvature."""

    minima: tuple[BudgetMinimum, ...]
    skipped: tuple[str, ...]
    frontier: Extrapolator
    size: Extrapolator
    tokens: Extrapolator | None  # D*(C) fitted on its own, only where the budgets follow no known FLOP count
    curvature: Extrapolator | None  # None from minima alone
    count: FlopCount | None
    parameters: str  # what N counts
    source: str  # "runs" or "minima"
    window: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def conventions(self) -> dict:
        return {"flops": self.count.description if self.count else "C as given in the data",
                "parameters": self.parameters}

    @property
    def fitted_range(self) -> tuple[float, float]:
        return self.frontier.x[0], self.frontier.x[-1]

    @property
    def params(self) -> dict[str, dict[str, float]]:
        """Each fitted curve's parameters by form: L*(C)'s forms, N*(C) and the curvature c(C)."""
        curves = {"L*(C)": self.frontier, "N*(C)": self.size, "curvature c(C)": self.curvature, "D*(C)": self.tokens}
        return {f"{name} {fit.form}": dict(zip(form_named(fit.form).parameters, fit.params))
                for name, curve in curves.items() if curve is not None for fit in curve.fits}

    def conf_int(self, level: float = DEFAULT_LEVEL) -> dict:
        """Percentile intervals of every curve's parameters over the resamples, with how they were made."""
        curves = {"L*(C)": self.frontier, "N*(C)": self.size, "curvature c(C)": self.curvature, "D*(C)": self.tokens}
        return {"level": level, "method": f"percentile over {self.frontier.resample_method}",
                **{name: curve.conf_int(level) for name, curve in curves.items() if curve is not None}}

    def predict(self, flops: float, kind: Kind = "law", level: float = DEFAULT_LEVEL) -> Forecast:
        """The compute-optimal loss L*(C) at ``flops``; ``kind="new run"``: the loss one run trained at N* will show."""
        return self.frontier.predict(flops, kind, level)

    def optimal_size(self, flops: float, level: float = DEFAULT_LEVEL) -> Forecast:
        """N*(C) with its interval."""
        return self.size.predict(flops, "law", level)

    def optimal_tokens(self, flops: float, level: float = DEFAULT_LEVEL) -> Forecast:
        """D*(C): the tokens ``flops`` buys for N* (and its interval's ends) under the fit's FLOP count."""
        if self.tokens is not None:
            return self.tokens.predict(flops, "law", level)
        size = self.optimal_size(flops, level)
        value = float(self.count.tokens(flops, size.value))
        interval = None if size.interval is None else tuple(sorted(float(self.count.tokens(flops, n)) for n in size.interval))
        return Forecast("compute-optimal tokens D*(C)", "C", flops, value, interval, level, "law",
                        f"the tokens C buys for N* and for its interval's ends under {self.count.description}",
                        self.conventions, size.extrapolation, {}, size.notes)

    def loss_at(self, parameters: float, flops: float, kind: Kind = "law", level: float = DEFAULT_LEVEL) -> Forecast:
        """The loss of a model of ``parameters`` trained with ``flops`` (module docstring for the rule)."""
        if self.curvature is None:
            raise UsageError("the loss at a chosen size needs the budgets' parabolas, which a fit from minima alone lacks; "
                             "fit the runs")
        if not (np.isfinite(parameters) and parameters > 0):
            raise UsageError(f"parameters must be a positive finite number, got {parameters}")
        best = self.predict(flops, kind, level)
        size = self.size.predict(flops)
        curve = self.curvature.predict(flops)
        offset = np.log(parameters) - np.log(size.value)
        value = best.value + curve.value * offset**2
        if best.interval is None or size.interval is None or curve.interval is None:
            return Forecast("loss of a chosen size L(N, C)", "C", flops, value, None, level, kind, best.method,
                            self.conventions, best.extrapolation, {"N": parameters}, best.notes + size.notes)
        t_best = _t_half(best, level)
        sd_best = best.value * np.log(best.interval[1] / best.value) / t_best
        sd_log_n = np.log(size.interval[1] / size.value) / _t_half(size, level)
        sd_log_c = np.log(curve.interval[1] / curve.value) / _t_half(curve, level)
        penalty_sd = np.hypot(2 * curve.value * offset * sd_log_n, curve.value * offset**2 * sd_log_c)
        half = t_best * np.hypot(sd_best, penalty_sd)
        method = (best.method + "; plus the penalty c(C)·(ln N − ln N*)², c(C) a power law of the budgets' curvatures, "
                  "its variance from N*(C)'s and c(C)'s intervals (delta method)")
        return Forecast("loss of a chosen size L(N, C)", "C", flops, float(value), (float(value - half), float(value + half)),
                        level, kind, method, self.conventions, best.extrapolation, {"N": parameters}, best.notes)

    def summary(self) -> str:
        """The law in a few lines: the minima, the forms and their backtest weights, the forecast at the largest budget."""
        lines = [f"approach 2 from {self.source}: {len(self.minima)} budgets with a minimum, N counts {self.parameters}, "
                 f"compute {self.conventions['flops']}"]
        if self.window:
            lines.append(f"  each budget's parabola on the {self.window} sizes around its best run")
        lines += [f"  skipped budget {reason}" for reason in self.skipped]
        for fit in self.frontier.fits:
            kappa = "no backtest" if fit.kappa2 is None else f"backtest error {np.sqrt(fit.kappa2):.2%} per fitted log-range"
            lines.append(f"  L*(C) form {fit.form}: weight {fit.weight:.2f} ({kappa})")
        top = self.fitted_range[1]
        lines.append("  " + self.predict(top).describe())
        lines.append("  " + self.optimal_size(top).describe(".4g"))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "format": FORMAT, "source": self.source, "parameters": self.parameters, "window": self.window,
            "flops": self.count.as_dict() if self.count else None, "skipped": list(self.skipped), "notes": list(self.notes),
            "minima": [{"C": m.flops, "N_opt": m.n_opt, "D_opt": m.d_opt, "loss": m.loss,
                        "sizes_below": m.sizes_below, "sizes_above": m.sizes_above} for m in self.minima],
            "frontier": self.frontier.as_dict(), "size": self.size.as_dict(),
            "tokens": self.tokens.as_dict() if self.tokens else None,
            "curvature": self.curvature.as_dict() if self.curvature else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> AllocationLaw:
        if data.get("format") != FORMAT:
            raise UsageError(f"this forecast block has format {data.get('format')!r}; this isoflop reads format {FORMAT}: "
                             "refit with isoflop fit --save")
        minima = tuple(BudgetMinimum(m["C"], m["N_opt"], m["D_opt"], m["loss"], None, m["sizes_below"], m["sizes_above"])
                       for m in data["minima"])
        optional = {key: Extrapolator.from_dict(data[key]) if data.get(key) else None for key in ("tokens", "curvature")}
        return cls(minima, tuple(data["skipped"]), Extrapolator.from_dict(data["frontier"]),
                   Extrapolator.from_dict(data["size"]), optional["tokens"], optional["curvature"],
                   FlopCount.from_dict(data["flops"]) if data.get("flops") else None, data["parameters"], data["source"],
                   data.get("window"), tuple(data.get("notes", [])))


def _t_half(forecast: Forecast, level: float) -> float:
    """The t quantile the forecast's interval used."""
    return float(stats.t.ppf((1 + level) / 2, forecast.freedom if forecast.freedom else np.inf))


def windowed(N, loss, budgets, window: int | None) -> np.ndarray:
    """Rows kept when each budget's parabola uses the ``window`` sizes nearest (in ln N) its best run."""
    N, loss, budgets = (np.asarray(v, dtype=float) for v in (N, loss, budgets))
    if window is None:
        return np.ones(len(N), dtype=bool)
    if window < MIN_SIZES_PER_BUDGET:
        raise UsageError(f"window must be at least {MIN_SIZES_PER_BUDGET} sizes (a parabola has 3 parameters), got {window}")
    keep = np.zeros(len(N), dtype=bool)
    for budget in np.unique(budgets):
        here = np.flatnonzero(budgets == budget)
        sizes = np.unique(N[here])
        best = N[here][np.argmin(loss[here])]
        nearest = sizes[np.argsort(np.abs(np.log(sizes) - np.log(best)), kind="stable")[:window]]
        keep[here] = np.isin(N[here], nearest)
    return keep


def fit_allocation(N, D, loss, budgets, count: FlopCount | None = None, parameters: str = "not stated",
                   resamples: int = 200, seed: int = 0, window: int | None = None, loss_law: ChinchillaLaw | None = None,
                   objective: Objective = Objective(), fits: list | None = None) -> AllocationLaw:
    """Approach 2 on runs (N, D, loss at grouped ``budgets``), as a forecasting law. ``loss_law``: approach 3's L(N, D)
    fitted on the same runs (with ``objective``) and found identified; it joins L*(C)'s forms with its own backtest
    (refitted on the runs of the k smallest budgets), so the forecast weighs approach 2 against approach 3."""
    N, D, loss, budgets = (np.asarray(v, dtype=float) for v in (N, D, loss, budgets))
    keep = windowed(N, loss, budgets, window)
    N, D, loss, budgets = N[keep], D[keep], loss[keep], budgets[keep]
    estimate = approach2(N, D, loss, budgets, count, bootstrap=0)
    minima = sorted(estimate.minima, key=lambda m: m.flops)
    if len(minima) < 3:
        raise UsageError(f"a forecast needs a minimum at 3 or more budgets to fit L*(C), got {len(minima)}"
                         + (f"; skipped: {', '.join(estimate.skipped)}" if estimate.skipped else ""))
    rows = {"loss": [], "size": [], "tokens": [], "curvature": []}
    if fits is None or window:
        fits = resampled_fits(N, D, loss, budgets, count, resamples, seed)
    for fitted in fits:
        found = {m.flops: m for m in fitted.minima}
        if any(m.flops not in found for m in minima):
            continue  # a budget lost its minimum: its frontier would be over other budgets
        picked = [found[m.flops] for m in minima]
        rows["loss"].append([m.loss for m in picked])
        rows["size"].append([m.n_opt for m in picked])
        rows["tokens"].append([m.d_opt for m in picked])
        rows["curvature"].append([m.parabola[0] for m in picked])
    freedom = residual_freedom(N, budgets)
    method = (f"{len(rows['loss'])} of {resamples} configuration resamples of the runs (seed {seed}) with a minimum at "
              f"every budget")
    sigma = run_noise(N, loss, budgets)
    C = [m.flops for m in minima]
    conventions = {"flops": count.description if count else "C as given in the data", "parameters": parameters}

    def make(quantity, y, forms, key, run_sigma=None):
        return extrapolator(quantity, "C", C, y, forms, rows[key], freedom, method, run_sigma, conventions)

    elsewhere = () if loss_law is None else approach3_form(N, D, loss, budgets, minima, loss_law, objective)
    frontier = extrapolator("compute-optimal loss L*(C)", "C", C, [m.loss for m in minima], FRONTIER_FORMS, rows["loss"],
                            freedom, method, sigma, conventions, elsewhere)
    size = make("compute-optimal size N*(C)", [m.n_opt for m in minima], SIZE_FORMS, "size")
    tokens = None if count else make("compute-optimal tokens D*(C)", [m.d_opt for m in minima], SIZE_FORMS, "tokens")
    curvature = make("curvature of loss in ln N", [m.parabola[0] for m in minima], SIZE_FORMS, "curvature")
    return AllocationLaw(tuple(minima), tuple(estimate.skipped), frontier, size, tokens, curvature, count, parameters,
                         "runs", window)


def fit_ladder(points, resamples: int = 200, seed: int = 0, window: int | None = None,
               budget_tolerance: float = DEFAULT_TOLERANCE) -> AllocationLaw:
    """Approach 2's forecasting law from ``points`` (``Points``: runs of several sizes at each of 3 or more budgets);
    C values within ``budget_tolerance`` (relative) share a budget."""
    budgets, _ = group_budgets(points.budgets(), budget_tolerance)
    return fit_allocation(points.N, points.D, points.loss, budgets, points.budget_count(),
                          points.parameter_count or "not stated", resamples, seed, window)


def approach3_form(N, D, loss, budgets, minima, law: ChinchillaLaw, objective: Objective) -> tuple[FittedElsewhere, ...]:
    """Approach 3 as a form of L*(C): FLOPs per token c·N^p fitted over the runs (C/D against N; exactly 6N under
    Chinchilla's count), its backtest refitted on the runs of the k smallest budgets (from ``law``, as a bootstrap
    refits) on the frontier forms' pairs. Empty when a refit fails (the pairs could not be matched)."""
    slope, intercept = np.polyfit(np.log(N), np.log(budgets / D), 1)
    per_token = (float(np.exp(intercept)), float(slope))
    shape = form_named("approach 3")
    C = np.array([m.flops for m in minima])
    y = np.array([m.loss for m in minima])
    errors = []
    for k in range(minimum_origin(FRONTIER_FORMS), len(C)):
        try:
            refit = refit_weighted(law, N, D, loss, (budgets <= C[k - 1]).astype(float), objective)
        except UsageError:
            return ()
        params = (refit.E, refit.A, refit.B, refit.alpha, refit.beta, *per_token)
        for j in range(k, len(C)):
            errors.append((distance(C[0], C[k - 1], C[j]), float(np.log(y[j] / shape(params, C[j])))))
    samples = tuple((*sample, *per_token) for sample in law.samples)
    return (FittedElsewhere("approach 3", (law.E, law.A, law.B, law.alpha, law.beta, *per_token), samples, errors),)


def run_noise(N, loss, budgets) -> float | None:
    """σ_run: the residual standard deviation of runs about their budgets' parabolas, pooled over budgets on
    Σ(n − 3) degrees of freedom (None without any)."""
    squares, freedom = 0.0, 0
    for budget in np.unique(budgets):
        here = budgets == budget
        if len(np.unique(N[here])) <= PARABOLA_PARAMETERS:
            continue
        x = np.log(N[here])
        squares += float(((loss[here] - np.polyval(np.polyfit(x, loss[here], 2), x)) ** 2).sum())
        freedom += int(here.sum()) - PARABOLA_PARAMETERS
    return float(np.sqrt(squares / freedom)) if freedom else None


def fit_minima(C, N_opt, loss, D_opt=None, count: FlopCount | None = None, parameters: str = "not stated",
               resamples: int = 200, seed: int = 0) -> AllocationLaw:
    """Approach 2's law from one (C, N*, L*) row per budget (and D* where known): the frontier's parameter noise
    from resampled residuals about the combined fit, inflated by √(K/(K − p)); no run-to-run noise."""
    C, N_opt, loss = (np.asarray(v, dtype=float) for v in (C, N_opt, loss))
    if D_opt is None:
        if count is None:
            raise UsageError("minima without a D* column need a FLOP count to turn C and N* into D*; give D or use 6N")
        D_opt = count.tokens(C, N_opt)
    D_opt = np.asarray(D_opt, dtype=float)
    order = np.argsort(C)
    C, N_opt, loss, D_opt = C[order], N_opt[order], loss[order], D_opt[order]
    if len(np.unique(C)) != len(C):
        raise UsageError("minima need one row per budget: two rows share a C; keep the best run of each budget")
    if len(C) < 3:
        raise UsageError(f"a frontier from minima needs at least 3 budgets, got {len(C)}")
    conventions = {"flops": count.description if count else "C as given in the data", "parameters": parameters}
    method = f"{resamples} resamples of the residuals about the fit (seed {seed}, inflated by √(K/(K − p)))"

    def make(quantity, y, forms):
        y = np.asarray(y, dtype=float)
        first = extrapolator(quantity, "C", C, y, forms, conventions=conventions)
        return with_resamples(first, residual_resamples(first, y, resamples, seed), max(len(C) - minimum_origin(forms), 1),
                              method)

    frontier = make("compute-optimal loss L*(C)", loss, FRONTIER_FORMS)
    size = make("compute-optimal size N*(C)", N_opt, SIZE_FORMS)
    tokens = None if count else make("compute-optimal tokens D*(C)", D_opt, SIZE_FORMS)
    minima = tuple(BudgetMinimum(float(c), float(n), float(d), float(l)) for c, n, d, l in zip(C, N_opt, D_opt, loss))
    return AllocationLaw(minima, (), frontier, size, tokens, None, count, parameters, "minima",
                         notes=("fitted from minima alone: no run-to-run noise, so only the law's value has an interval",))


def residual_resamples(fitted: Extrapolator, y: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Rows of y resampled as the combined fit plus residuals drawn with replacement (log space), inflated."""
    centre = fitted(fitted.x)
    residuals = np.log(y) - np.log(centre)
    parameters = max(len(f.params) for f in fitted.fits)
    residuals = (residuals - residuals.mean()) * np.sqrt(len(y) / max(len(y) - parameters, 1))
    rng = np.random.default_rng(seed)
    return centre * np.exp(rng.choice(residuals, size=(resamples, len(y)), replace=True))
