"""The fine-tuning data law of the seed question: a pretrained model's loss after fine-tuning on D samples.

Lin et al. (2024) found that fine-tuning losses bend: a plateau while D is small (the pretrained
model already knows much of what a few samples teach), a knee D_k, then a power law. Their
*rectified* law L(D) = (A − E)/(1 + (D/D_k)^β) + E describes that; a plain power law fitted before
the knee extrapolates the plateau's shallow slope. ``fit_finetune`` fits the rectified law beside two
plain ones (E + B·D^−β and B·D^−β) and forecasts with ``fit.forecast``'s rule (forms weighted by their
rolling-origin backtest on the fitted data sizes; parameter noise from resampled residuals about the
combined fit; a new run adds the residuals' own scatter).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..errors import UsageError
from .allocation_law import residual_resamples
from .forecast import DEFAULT_LEVEL, Extrapolator, Forecast, Kind, extrapolator, minimum_origin, with_resamples
from .forms import form as form_named

FINETUNE_FORMS = ["rectified", "E+A*x^-g", "A*x^-g"]
FORMAT = 1
# E below this share of the lowest loss is the fit's bound 0, not an estimate.
FLOOR_SHARE = 1e-3
QUANTITY = "fine-tuned loss L(D)"


@dataclass(frozen=True)
class FinetuneLaw:
    """L(D) over fine-tuning data sizes: the forms, their weights, and forecasts at any D."""

    law: Extrapolator
    samples_unit: str = "samples"

    def predict(self, samples: float, kind: Kind = "law", level: float = DEFAULT_LEVEL) -> Forecast:
        """The loss after fine-tuning on ``samples`` (``kind="new run"``: one run's loss, the scatter included)."""
        return self.law.predict(samples, kind, level)

    @property
    def rectified(self) -> dict:
        """The rectified law's parameters and where the fitted data sizes lie relative to its knee."""
        fit = next(f for f in self.law.fits if f.form == "rectified")
        a, e, knee, beta = fit.params
        before = sum(1 for d in self.law.x if d < knee)
        return {"A": a, "E": e, "knee": knee, "beta": beta, "sizes_before_knee": before, "sizes": len(self.law.x)}

    def summary(self) -> str:
        r = self.rectified
        lines = [f"fine-tuning law on {len(self.law.x)} data sizes ({self.law.x[0]:.3g} to {self.law.x[-1]:.3g} {self.samples_unit})"]
        floor = FLOOR_SHARE * min(self.law.y)
        for fit in self.law.fits:
            params = ", ".join(f"{name} = {value:.4g}" if not (name == "E" and value < floor and fit.form != "A*x^-g")
                               else "E at its bound 0 (not identified: this form is the pure power law here)"
                               for name, value in zip(form_named(fit.form).parameters, fit.params))
            kappa = "no backtest" if fit.kappa2 is None else f"backtest error {np.sqrt(fit.kappa2):.2%} per fitted log-range"
            lines.append(f"  {form_named(fit.form).describe('D')}: {params}; weight {fit.weight:.2f} ({kappa})")
        where = ("every fitted size lies before the knee: the power-law regime has not been reached, so forecasts lean on the "
                 "knee's position" if r["sizes_before_knee"] == r["sizes"] else
                 f"{r['sizes_before_knee']} of {r['sizes']} fitted sizes lie before the knee D_k = {r['knee']:.3g}")
        lines.append(f"  {where}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "unit": self.samples_unit, "law": self.law.as_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> FinetuneLaw:
        if data.get("format") != FORMAT:
            raise UsageError(f"this fine-tuning law has format {data.get('format')!r}; this isoflop reads format {FORMAT}: "
                             "refit with isoflop fit --approach finetune --save")
        return cls(Extrapolator.from_dict(data["law"]), data.get("unit", "samples"))


def fit_finetune(samples, loss, resamples: int = 200, seed: int = 0, forms: list[str] | None = None,
                 unit: str = "samples") -> FinetuneLaw:
    """Fit L(D) to fine-tuning data sizes ``samples`` (each > 0, one loss per size: average seeds first) and ``loss``."""
    samples, loss = np.asarray(samples, dtype=float), np.asarray(loss, dtype=float)
    forms = forms or FINETUNE_FORMS
    if samples.shape != loss.shape or samples.ndim != 1:
        raise UsageError("samples and loss must be two 1-D arrays of the same length")
    if not (np.isfinite(samples).all() and (samples > 0).all() and np.isfinite(loss).all() and (loss > 0).all()):
        raise UsageError("samples and loss must be positive and finite (leave out the model before fine-tuning, D = 0)")
    if len(np.unique(samples)) != len(samples):
        raise UsageError("each data size must appear once: average the seeds of a size first")
    if len(samples) < minimum_origin(forms) + 1:
        raise UsageError(f"the fine-tuning law needs at least {minimum_origin(forms) + 1} data sizes (the rectified law has "
                         f"4 parameters, and one more is the least that checks how it extrapolates), got {len(samples)}")
    first = extrapolator(QUANTITY, "D", samples, loss, forms)
    order = np.argsort(samples)
    centre = first(np.asarray(first.x))
    freedom = max(len(samples) - minimum_origin(forms), 1)
    sigma = float(np.sqrt(((loss[order] - centre) ** 2).sum() / freedom))
    method = f"{resamples} resamples of the residuals about the fit (seed {seed}, inflated by √(K/(K − p)))"
    rows = residual_resamples(first, loss[order], resamples, seed)
    law = with_resamples(dataclasses.replace(first, conventions={"D": f"fine-tuning {unit}"}), rows, freedom, method, sigma)
    return FinetuneLaw(law, unit)


@dataclass(frozen=True)
class RectifiedCheck:
    """The rectified law on a sweep's mean losses, and how well it predicts each data size left out."""

    params: tuple[float, float, float, float]  # A, E, knee, β
    rmse: float  # leave-one-out root-mean-square error (nats)
    worst: tuple[float, float]  # (data size, its error: predicted − measured)
    before_knee: int  # data sizes below the knee
    sizes: int


def rectified_leave_one_out(samples, loss) -> RectifiedCheck:
    """Fit the rectified law to (samples, loss) (one loss per size; average seeds first), then leave each size out in
    turn and predict it from the others."""
    samples, loss = np.asarray(samples, dtype=float), np.asarray(loss, dtype=float)
    shape = form_named("rectified")
    needed = len(shape.parameters) + 1
    if len(samples) < needed:
        raise UsageError(f"the rectified law needs {needed} data sizes to be checked by leaving one out, got {len(samples)}")
    try:
        params = shape.fit(samples, loss)
        errors = []
        for left in range(len(samples)):
            kept = np.arange(len(samples)) != left
            errors.append(float(shape(shape.fit(samples[kept], loss[kept]), samples[left]) - loss[left]))
    except (RuntimeError, ValueError) as error:
        raise UsageError(f"the rectified law did not converge ({error})") from None
    worst = int(np.argmax(np.abs(errors)))
    return RectifiedCheck(tuple(params), float(np.sqrt(np.mean(np.square(errors)))), (float(samples[worst]), errors[worst]),
                          int((samples < params[2]).sum()), len(samples))
