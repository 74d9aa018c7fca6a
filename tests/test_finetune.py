"""The rectified fine-tuning law: recovery of a known law, its forecast interval, leave-one-out, refusals."""

import numpy as np
import pytest

from isoflop.errors import UsageError
from isoflop.fit import FinetuneLaw, fit_finetune
from isoflop.fit.finetune import rectified_leave_one_out
from isoflop.fit.forms import form

SIZES = 200 * 2.0 ** np.arange(12)
TRUTH = (3.0, 1.0, 3e4, 0.6)  # A, E, knee, β


def sweep(noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    return form("rectified")(TRUTH, SIZES) * np.exp(rng.normal(0, noise, len(SIZES)))


def test_the_rectified_law_recovers_its_parameters_and_wins_the_backtest():
    law = fit_finetune(SIZES, sweep(), resamples=20)
    rectified = next(f for f in law.law.fits if f.form == "rectified")
    assert rectified.params == pytest.approx(TRUTH, rel=1e-3)
    assert rectified.weight > 0.9
    assert law.rectified["sizes_before_knee"] == 8 and "8 of 12 fitted sizes lie before the knee" in law.summary()


@pytest.mark.slow  # the rectified law refitted on 40 resamples; the default tier keeps the recovery test above
def test_a_forecast_beyond_the_sizes_covers_the_truth_and_round_trips():
    law = fit_finetune(SIZES[:9], sweep(noise=0.003)[:9], resamples=40)
    for size in SIZES[9:]:
        forecast = law.predict(size, "new run")
        assert forecast.covers(float(form("rectified")(TRUTH, size)))
        assert forecast.extrapolation > 0 and forecast.variable == "D"
    again = FinetuneLaw.from_dict(law.to_dict())
    assert again.predict(1e6).as_dict() == law.predict(1e6).as_dict()


def test_leave_one_out_and_refusals():
    check = rectified_leave_one_out(SIZES, sweep())
    assert check.rmse < 1e-3 and check.before_knee == 8
    with pytest.raises(UsageError, match="at least 5 data sizes"):
        fit_finetune(SIZES[:4], sweep()[:4])
    with pytest.raises(UsageError, match="D = 0"):
        fit_finetune(np.r_[0.0, SIZES], np.r_[3.0, sweep()])
    with pytest.raises(UsageError, match="once"):
        fit_finetune(np.r_[SIZES, SIZES[:1]], np.r_[sweep(), sweep()[:1]])
