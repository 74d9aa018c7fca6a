"""One forecast interval, at any budget or data size: parameter noise, the law's form, and extrapolation.

A law fitted on K budgets (or data sizes) forecasts a quantity y (a loss, a model size) at a new x.
Three things make that forecast uncertain, and the interval counts each:

1. **Noise in the fitted points**: resamples of the fit (configuration resamples of the runs for an
   isoFLOP ladder) refitted, each form separately; s_f = the standard deviation of ln ŷ_f over them.
2. **The form**: several forms fit the same points (the frontier with and without an irreducible loss
   E; for fine-tuning, the rectified law and plain power laws) and part where they extrapolate.
3. **Extrapolation**: how far forecasts of this kind miss, measured on the law's *own* points by a
   rolling-origin backtest.

The rule (stated before any backtest or coverage number was seen, 2026-12-07):

- Backtest: for every origin k from ``minimum_origin`` (the largest form's parameter count) to K − 1,
  each form is fitted on the k smallest x and forecasts every larger one, j. Its error in log space
  e = ln(y_j / ŷ_j) is divided by the extrapolation distance h = ln(x_j / x_k) / ln(x_k / x_1): how far
  beyond the fitted range, in units of the fitted log-range (a slope error δ moves ln ŷ by δ·Δln x, and δ
  shrinks as 1/range). κ_f² = the mean of (e/h)² over all pairs.
- Weights: w_f ∝ 1/κ_f² (equal when there is no pair).
- Centre: ln ŷ = Σ_f w_f ln ŷ_f, each form fitted on all K points.
- Variance of ln ŷ: v = Σ_f w_f [s_f² + κ_f²·h² + (ln ŷ_f − ln ŷ)²], h the target's distance beyond the
  full fitted range (0 inside it): the variance of a mixture of the forms with probabilities w_f.
- Interval: ln ŷ ± t·√v, t Student's 97.5 % quantile (for a 95 % level) on the Welch–Satterthwaite
  degrees of freedom of the two parts: the resample part on the fit's residual degrees of freedom, the
  extrapolation and form part on the number of backtest origins.
- Two kinds: ``law`` (the law's value, e.g. the compute-optimal loss L*(C)) and ``new run`` (the loss one
  new run will measure: v gains (σ_run/ŷ)², σ_run the run-to-run noise the fit's residuals show).

With no backtest pair (K below ``minimum_origin`` + 1) there is no interval beyond the fitted range:
nothing measured how this law extrapolates.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import stats

from ..errors import UsageError
from .forms import form as form_named

Kind = Literal["law", "new run"]
KINDS = ("law", "new run")
DEFAULT_LEVEL = 0.95
# The smallest κ² a weight divides by: a form whose backtest forecasts were exact (to float precision).
KAPPA2_FLOOR = 1e-12


@dataclass(frozen=True)
class Forecast:
    """A forecast of one quantity at one point, with its interval, its kind and how both were made."""

    quantity: str  # e.g. "compute-optimal loss L*(C)"
    variable: str  # what the forecast is at: "C" or "D"
    at: float
    value: float
    interval: tuple[float, float] | None
    level: float
    kind: str  # "law" or "new run"
    method: str  # how the interval was made, in words
    conventions: dict = field(default_factory=dict)  # FLOP count, parameter count
    extrapolation: float | None = 0.0  # distance beyond the fitted range, in fitted log-ranges (0 inside; None: unknown)
    forms: dict = field(default_factory=dict)  # each form's own value and weight
    notes: tuple[str, ...] = ()
    freedom: float | None = None  # Student t's degrees of freedom behind the interval (None: no t interval)

    @property
    def width(self) -> float | None:
        """The interval's width relative to the value (None without an interval)."""
        return None if self.interval is None else (self.interval[1] - self.interval[0]) / self.value

    def covers(self, value: float) -> bool | None:
        return None if self.interval is None else bool(self.interval[0] <= value <= self.interval[1])

    def as_dict(self) -> dict:
        return {"quantity": self.quantity, self.variable: self.at, "value": self.value,
                "interval": list(self.interval) if self.interval else None, "level": self.level, "kind": self.kind,
                "method": self.method, "conventions": self.conventions, "extrapolation": self.extrapolation,
                "forms": self.forms, "notes": list(self.notes), "degrees_of_freedom": self.freedom}

    def describe(self, spec: str = ".4g") -> str:
        """The forecast in one line: value, interval with level and kind, extrapolation distance."""
        interval = (f"[{self.interval[0]:{spec}}, {self.interval[1]:{spec}}]" if self.interval
                    else "(no interval: " + (self.notes[0] if self.notes else "none could be made") + ")")
        where = ("" if self.extrapolation is None else "; inside the fitted range" if self.extrapolation == 0
                 else f"; {self.extrapolation:.2f} fitted log-ranges beyond the data")
        what = self.quantity if self.kind == "law" else f"{self.quantity}, one new run"
        return (f"{what} at {self.variable} = {self.at:.3g}: {self.value:{spec}} {interval}, "
                f"{self.level:.0%} interval for {'the law' if self.kind == 'law' else 'a new run'}{where}")


@dataclass(frozen=True)
class FormFit:
    """One form fitted on every point, its parameter resamples and its rolling-origin backtest."""

    form: str
    params: tuple[float, ...]
    samples: tuple[tuple[float, ...], ...]  # the form refitted on each usable resample
    kappa2: float | None  # mean (e/h)² of its backtest; None without a backtest pair
    weight: float

    def log_spread(self, x: float) -> float:
        """s_f: the standard deviation of ln ŷ over the resamples (0 with fewer than 2)."""
        if len(self.samples) < 2:
            return 0.0
        shape = form_named(self.form)
        with np.errstate(all="ignore"):
            values = np.array([float(shape(sample, x)) for sample in self.samples])
        values = values[np.isfinite(values) & (values > 0)]
        return float(np.std(np.log(values), ddof=1)) if len(values) >= 2 else 0.0

    def as_dict(self) -> dict:
        return {"form": self.form, "params": list(self.params), "samples": [list(s) for s in self.samples],
                "kappa2": self.kappa2, "weight": self.weight}

    @classmethod
    def from_dict(cls, data: dict) -> FormFit:
        return cls(data["form"], tuple(data["params"]), tuple(tuple(s) for s in data["samples"]), data["kappa2"],
                   data["weight"])


@dataclass(frozen=True)
class Extrapolator:
    """A quantity fitted over x by one or more forms, forecast anywhere with one interval (module docstring)."""

    quantity: str
    variable: str
    x: tuple[float, ...]  # the fitted points, increasing
    y: tuple[float, ...]
    fits: tuple[FormFit, ...]
    origins: int  # rolling origins of the backtest
    pairs: int  # (origin, target) pairs of the backtest
    resample_freedom: int  # degrees of freedom behind the resample spread
    resample_method: str  # words: how the resamples were drawn
    run_sigma: float | None = None  # run-to-run noise in y (the "new run" kind); None: not known
    conventions: dict = field(default_factory=dict)

    def forms_at(self, x: float) -> dict[str, float]:
        return {fit.form: float(form_named(fit.form)(fit.params, x)) for fit in self.fits}

    def __call__(self, x) -> np.ndarray:
        """The combined centre at each x (no interval): for plots and point forecasts."""
        x = np.atleast_1d(np.asarray(x, dtype=float))
        logs = sum(fit.weight * np.log(form_named(fit.form)(fit.params, x)) for fit in self.fits)
        return np.exp(logs)

    def distance(self, x: float) -> float:
        """How far ``x`` lies beyond the fitted points, in units of their log-range (0 inside)."""
        return distance(self.x[0], self.x[-1], x)

    def predict(self, x: float, kind: Kind = "law", level: float = DEFAULT_LEVEL) -> Forecast:
        """The forecast at ``x`` with its interval (see the module docstring for the rule)."""
        if kind not in KINDS:
            raise UsageError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if not 0 < level < 1:
            raise UsageError(f"level must lie between 0 and 1, got {level}")
        if not (np.isfinite(x) and x > 0):
            raise UsageError(f"{self.variable} must be a positive finite number, got {x}")
        values = self.forms_at(x)
        logs = {name: np.log(value) for name, value in values.items() if value > 0 and np.isfinite(value)}
        if len(logs) < len(values):
            raise UsageError(f"at {self.variable} = {x:.3g} the law gives no finite positive {self.quantity}; "
                             "ask for a point nearer the fitted range")
        centre = sum(fit.weight * logs[fit.form] for fit in self.fits)
        h = self.distance(x)
        notes: list[str] = []
        resample_part = sum(fit.weight * fit.log_spread(x) ** 2 for fit in self.fits)
        if h > 0 and self.pairs == 0:
            interval = None
            notes.append(f"{len(self.x)} points allow no rolling-origin backtest, so nothing measured how this law "
                         "extrapolates; add points")
            freedom = 0.0
        else:
            other_part = sum(fit.weight * ((fit.kappa2 or 0.0) * h**2 + (logs[fit.form] - centre) ** 2) for fit in self.fits)
            if kind == "new run":
                if self.run_sigma is None:
                    raise UsageError(f"a new run's interval needs the run-to-run noise, which this fit of {self.quantity} "
                                     "does not know (fitted from minima only); ask for kind='law'")
                other_part += (self.run_sigma / np.exp(centre)) ** 2
            freedom = _welch(resample_part, self.resample_freedom, other_part, max(self.origins, 1))
            half = float(stats.t.ppf((1 + level) / 2, freedom) * np.sqrt(resample_part + other_part))
            interval = (float(np.exp(centre - half)), float(np.exp(centre + half)))
        method = self._method(h, freedom, kind)
        forms = {fit.form: {"value": values[fit.form], "weight": fit.weight} for fit in self.fits}
        return Forecast(self.quantity, self.variable, float(x), float(np.exp(centre)), interval, level, kind, method,
                        self.conventions, h, forms, tuple(notes), freedom if interval else None)

    def _method(self, h: float, freedom: float, kind: str) -> str:
        forms = " and ".join(form_named(fit.form).describe(self.variable) for fit in self.fits)
        backtest = (f"a rolling-origin backtest on its own {len(self.x)} points ({self.origins} origins, {self.pairs} "
                    "forecasts) scaling the error with the extrapolation distance" if self.pairs else "no backtest")
        combined = f"forms {forms}, weighted by their backtest errors, spread included" if len(self.fits) > 1 else f"form {forms}"
        noise = "; plus the run-to-run noise of one run" if kind == "new run" else ""
        return (f"{combined}; {self.resample_method}; {backtest}{noise}; Student t on {freedom:.1f} degrees of freedom"
                if freedom else f"{combined}; {self.resample_method}; {backtest}")

    def conf_int(self, level: float = DEFAULT_LEVEL) -> dict[str, dict]:
        """Each form's parameters with percentile intervals over its resamples (None with fewer than 2)."""
        out = {}
        tail = (1 - level) / 2 * 100
        for fit in self.fits:
            names = form_named(fit.form).parameters
            columns = np.array(fit.samples) if len(fit.samples) >= 2 else None
            out[fit.form] = {name: (value, None if columns is None else tuple(np.percentile(columns[:, i], [tail, 100 - tail])))
                             for i, (name, value) in enumerate(zip(names, fit.params))}
        return out

    def as_dict(self) -> dict:
        return {"quantity": self.quantity, "variable": self.variable, "x": list(self.x), "y": list(self.y),
                "fits": [fit.as_dict() for fit in self.fits], "origins": self.origins, "pairs": self.pairs,
                "resample_freedom": self.resample_freedom, "resample_method": self.resample_method,
                "run_sigma": self.run_sigma, "conventions": self.conventions}

    @classmethod
    def from_dict(cls, data: dict) -> Extrapolator:
        return cls(data["quantity"], data["variable"], tuple(data["x"]), tuple(data["y"]),
                   tuple(FormFit.from_dict(f) for f in data["fits"]), data["origins"], data["pairs"],
                   data["resample_freedom"], data["resample_method"], data.get("run_sigma"), data.get("conventions", {}))


def bootstrap_conf_int(estimates: dict[str, float], samples, level: float = DEFAULT_LEVEL) -> dict:
    """Each parameter of ``estimates`` with the percentile interval of its column in ``samples`` (resampled fits, in
    the same order), and how the intervals were made."""
    rows = np.array([list(sample)[:len(estimates)] for sample in samples], dtype=float)
    tail = (1 - level) / 2 * 100
    out: dict = {"level": level, "method": f"percentile over {len(rows)} bootstrap refits of the points"}
    for i, (name, value) in enumerate(estimates.items()):
        column = rows[:, i][np.isfinite(rows[:, i])] if len(rows) else np.array([])
        out[name] = (value, tuple(float(v) for v in np.percentile(column, [tail, 100 - tail])) if len(column) >= 2 else None)
    return out


def distance(low: float, high: float, x: float) -> float:
    """How far ``x`` lies beyond [low, high], in units of ln(high/low) (0 inside)."""
    span = np.log(high / low)
    if span <= 0:
        return 0.0 if low <= x <= high else float("inf")
    if x > high:
        return float(np.log(x / high) / span)
    if x < low:
        return float(np.log(low / x) / span)
    return 0.0


def _welch(v1: float, df1: float, v2: float, df2: float) -> float:
    """Welch–Satterthwaite degrees of freedom of v1 + v2."""
    if v1 + v2 <= 0:
        return float(max(df1, df2, 1))
    denominator = (v1**2 / max(df1, 1) if v1 > 0 else 0.0) + (v2**2 / max(df2, 1) if v2 > 0 else 0.0)
    return float(max((v1 + v2) ** 2 / denominator, 1.0))


def minimum_origin(forms: list[str]) -> int:
    """The fewest points a backtest origin holds: the largest parameter count among the forms."""
    return max(len(form_named(name).parameters) for name in forms)


def backtest(x, y, forms: list[str]) -> tuple[dict[str, list[tuple[float, float]]], int]:
    """The rolling-origin backtest: per form, (h, e) for every origin k ≥ ``minimum_origin`` and every larger
    point j (e = ln(y_j / ŷ_j), h the distance beyond the k fitted points); and the number of origins."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    errors: dict[str, list[tuple[float, float]]] = {name: [] for name in forms}
    origins = 0
    for k in range(minimum_origin(forms), len(x)):
        fitted = {}
        for name in forms:
            try:
                fitted[name] = form_named(name).fit(x[:k], y[:k])
            except (RuntimeError, ValueError):
                break
        if len(fitted) < len(forms):
            continue  # every form is judged on the same pairs
        origins += 1
        for j in range(k, len(x)):
            h = distance(x[0], x[k - 1], x[j])
            for name in forms:
                with np.errstate(all="ignore"):
                    predicted = float(form_named(name)(fitted[name], x[j]))
                error = np.log(y[j] / predicted) if predicted > 0 and np.isfinite(predicted) else np.inf
                errors[name].append((h, float(error)))
    return errors, origins


@dataclass(frozen=True)
class FittedElsewhere:
    """A form fitted by the caller on other data than (x, y) (approach 3 on runs), with its own backtest errors on the
    same (origin, target) pairs as ``backtest`` makes, in its order, and its parameter resamples."""

    form: str
    params: tuple[float, ...]
    samples: tuple[tuple[float, ...], ...]
    errors: list[tuple[float, float]]


def extrapolator(quantity: str, variable: str, x, y, forms: list[str], resampled_y=(), resample_freedom: int = 0,
                 resample_method: str = "no resamples", run_sigma: float | None = None,
                 conventions: dict | None = None, elsewhere: tuple[FittedElsewhere, ...] = ()) -> Extrapolator:
    """Fit every form on (x, y) (x increasing, distinct), refit it on each row of ``resampled_y`` (the same x), run
    the backtest and weigh the forms, with any ``elsewhere`` (module docstring)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    order = np.argsort(x)
    x, y = x[order], y[order]
    if len(x) < minimum_origin(forms):
        raise UsageError(f"{quantity} needs at least {minimum_origin(forms)} points to fit "
                         f"{' and '.join(forms)}, got {len(x)}")
    errors, origins = backtest(x, y, forms)
    for other in elsewhere:
        if len(other.errors) != len(next(iter(errors.values()))):
            raise ValueError(f"{other.form}'s backtest has {len(other.errors)} pairs, the forms' {len(errors[forms[0]])}")
        errors[other.form] = other.errors
    kappa2 = {}
    for name, pairs in errors.items():
        scaled = [(e / h) ** 2 for h, e in pairs if h > 0]
        kappa2[name] = float(np.mean(scaled)) if scaled else None
    pairs = len(next(iter(errors.values())))
    if all(k is not None for k in kappa2.values()) and pairs:
        inverse = {name: 1 / max(value, KAPPA2_FLOOR) for name, value in kappa2.items()}
        total = sum(inverse.values())
        weights = ({name: value / total for name, value in inverse.items()} if total > 0
                   else {name: 1 / len(kappa2) for name in kappa2})  # every form's backtest failed alike
    else:
        weights = {name: 1 / len(kappa2) for name in kappa2}
    fits = []
    for name in forms:
        shape = form_named(name)
        try:
            params = shape.fit(x, y)
        except (RuntimeError, ValueError) as error:
            raise UsageError(f"{quantity}: the form {shape.describe(variable)} did not converge ({error}); add points") from None
        fits.append(FormFit(name, params, (), kappa2[name], weights[name]))
    fitted = Extrapolator(quantity, variable, tuple(x), tuple(y), tuple(fits), origins, pairs, resample_freedom,
                          resample_method, run_sigma, conventions or {})
    fitted = with_resamples(fitted, [np.asarray(row, dtype=float)[order] for row in resampled_y])
    joined = tuple(FormFit(other.form, tuple(other.params), other.samples, kappa2[other.form], weights[other.form])
                   for other in elsewhere)
    return dataclasses.replace(fitted, fits=fitted.fits + joined)


def with_resamples(fitted: Extrapolator, rows, resample_freedom: int | None = None, resample_method: str | None = None,
                   run_sigma: float | None = None) -> Extrapolator:
    """``fitted`` with every form refitted on each row of y (the same x, increasing), from the full fit's optimum as a
    bootstrap refits; the other arguments replace the fitted law's where given."""
    fits = []
    for fit in fitted.fits:
        shape = form_named(fit.form)
        samples = []
        for row in rows:
            try:
                samples.append(shape.fit(np.asarray(fitted.x), np.asarray(row, dtype=float), start=fit.params))
            except (RuntimeError, ValueError):
                continue
        fits.append(dataclasses.replace(fit, samples=tuple(samples)))
    changes = {"fits": tuple(fits)}
    for name, value in (("resample_freedom", resample_freedom), ("resample_method", resample_method), ("run_sigma", run_sigma)):
        if value is not None:
            changes[name] = value
    return dataclasses.replace(fitted, **changes)
