"""The monotone and the penalised laws of repeated data: recovery of a known law, and leave-one-D-out."""

import numpy as np
import pytest

from isoflop import UsageError
from isoflop.fit.repetition import RepetitionLaw, fit_repetition_law, leave_one_d_out

TOKENS = 6400.0
UNIQUE = np.array([64.0, 128, 320, 640, 1280, 3200, 6400])


def sweep(law: RepetitionLaw, seeds: int = 3, noise: float = 0.0):
    generator = np.random.default_rng(7)
    U = np.repeat(UNIQUE, seeds)
    D = np.full_like(U, TOKENS)
    return D, U, law.loss(D, U) + noise * generator.standard_normal(len(U))


PENALISED = RepetitionLaw("penalised", E=2.0, B=60.0, beta=0.4, r_d_star=5.0, kappa=0.3, residual=0.0)


def test_the_penalised_law_recovers_its_own_parameters_from_exact_points():
    fitted = fit_repetition_law(*sweep(PENALISED), "penalised")
    assert fitted.residual < 1e-6
    D, U, loss = sweep(PENALISED)
    assert np.max(np.abs(fitted.loss(D, U) - loss)) < 1e-6
    assert fitted.kappa == pytest.approx(0.3, rel=1e-2)


def test_the_penalty_lets_the_loss_turn_upward_as_repetitions_grow():
    # At fixed U, more tokens (more repetitions): the monotone law never rises, the penalised one does.
    U = np.full(50, 64.0)
    D = np.geomspace(64, 64 * 1000, 50)
    monotone = RepetitionLaw("monotone", 2.0, 60.0, 0.4, 5.0, 0.0, 0.0).loss(D, U)
    assert np.all(np.diff(monotone) <= 1e-12)
    assert np.diff(PENALISED.loss(D, U))[-1] > 0


def test_leave_one_d_out_prefers_the_law_that_generated_the_sweep():
    D, U, loss = sweep(PENALISED, noise=0.01)
    penalised = leave_one_d_out(D, U, loss, "penalised")
    monotone = leave_one_d_out(D, U, loss, "monotone")
    assert set(penalised.errors()) == set(UNIQUE) and penalised.rmse < monotone.rmse
    unique, worst = monotone.worst
    assert abs(worst) == max(abs(e) for e in monotone.errors().values()) and unique in UNIQUE


def test_too_few_values_of_d_are_refused():
    with pytest.raises(UsageError, match="at least 3 values of D"):
        fit_repetition_law([TOKENS] * 4, [64, 64, 128, 128], [9.0, 9.1, 8.0, 8.1], "monotone")


def test_the_report_sets_the_rectified_law_beside_the_repetition_laws_and_says_which_describes_the_sweep():
    from helpers import record

    from isoflop.fit.forms import form
    from isoflop.report.repetition import _rectified

    sizes = (1, 2, 5, 10, 20, 50, 100)
    losses = form("rectified")((10.7, 7.0, 8.0, 1.8), np.array(sizes, dtype=float))
    done = [record(key=f"k{d}", unique_samples=d, final_val_loss=float(loss)) for d, loss in zip(sizes, losses)]
    text = _rectified(done, {"monotone": 0.52, "penalised": 0.55})[0].text
    assert "it describes this sweep better than both laws above" in text and "D_k = 8 samples" in text
    assert "3 of 7 values of D lie before its knee" in text
