"""Scaling-law fits recover known laws from synthetic data."""

import json
import numpy as np
import pytest

from isoflop import UsageError
from isoflop.fit.chinchilla import ChinchillaLaw, fit_chinchilla
from isoflop.fit.constrained import effective_data
from isoflop.fit.checks import frontier_problems
from isoflop.fit.isoflop_profiles import approach1, approach2, fit_frontier

TRUTH = ChinchillaLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
# A coarse grid keeps the tests fast; the CLI uses Hoffmann et al.'s 4,500 starts.
SMALL_GRID = {"a": np.array([0.0, 5.0, 10.0]), "b": np.array([0.0, 5.0, 10.0]), "e": np.array([-1.0, 0.5]),
              "alpha": np.array([0.0, 0.5, 1.0]), "beta": np.array([0.0, 0.5, 1.0])}


def synthetic(points=150, noise=0.003, seed=0):
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(1e6), np.log(1e10), points))
    D = np.exp(rng.uniform(np.log(1e8), np.log(1e12), points))
    return N, D, TRUTH.loss(N, D) * np.exp(rng.normal(0, noise, points))


def test_approach3_recovers_known_parameters_and_intervals_cover_them():
    N, D, loss = synthetic()
    law = fit_chinchilla(N, D, loss, grid=SMALL_GRID, bootstrap=100)
    assert law.alpha == pytest.approx(TRUTH.alpha, abs=0.02)
    assert law.beta == pytest.approx(TRUTH.beta, abs=0.02)
    assert law.E == pytest.approx(TRUTH.E, rel=0.03)
    for name in ("alpha", "beta", "E", "a"):
        low, high = law.intervals[name]
        assert low <= getattr(TRUTH, name) <= high, name


def test_approach3_compute_optimal_split_follows_the_exponents():
    n1, d1 = TRUTH.optimal(1e20)
    n2, d2 = TRUTH.optimal(1e22)
    assert np.log(n2 / n1) / np.log(100) == pytest.approx(TRUTH.a)
    assert 6 * n1 * d1 == pytest.approx(1e20)


def test_approach2_recovers_the_exponent_from_isoflop_profiles():
    budgets = np.geomspace(1e18, 1e21, 5)
    rows = []
    for C in budgets:
        n_opt, _ = TRUTH.optimal(C)
        for n in n_opt * np.geomspace(0.25, 4, 9):
            rows.append((n, C / (6 * n), float(TRUTH.loss(n, C / (6 * n))), C))
    N, D, loss, C = map(np.array, zip(*rows))
    fit = approach2(N, D, loss, C)
    assert fit.n_law.exponent == pytest.approx(TRUTH.a, abs=0.02)
    assert fit.d_law.exponent == pytest.approx(TRUTH.b, abs=0.02)


def test_approach1_envelope_finds_growing_models():
    N, D, loss = synthetic(points=400)
    fit = approach1(N, D, loss)
    # The envelope of noisy runs finds the true exponent (a = beta / (alpha + beta)) to within a few hundredths.
    assert fit.n_law.exponent == pytest.approx(TRUTH.a, abs=0.02)


def test_frontier_recovers_gamma():
    C = np.geomspace(1e15, 1e21, 8)
    fit = fit_frontier(C, 2.0 + 50.0 * C**-0.1, bootstrap=20)
    assert fit.gamma == pytest.approx(0.1, abs=0.01)
    assert fit.E == pytest.approx(2.0, rel=0.05)
    assert not fit.power_law and fit.describe().startswith("L*(C) = 2.0")


def test_a_frontier_that_has_not_levelled_off_is_stated_as_a_pure_power_law():
    C = np.geomspace(1e11, 1e12, 4)
    losses = 66.0 * C**-0.13 * np.array([1.0, 1.004, 0.996, 1.0])
    fit = fit_frontier(C, losses, bootstrap=50)
    assert fit.power_law and fit.E == 0.0 and fit.gamma == pytest.approx(0.13, abs=0.01)
    assert set(fit.intervals) == {"A", "gamma"} and "pure power law" in fit.describe()
    assert frontier_problems(fit, losses) == []  # E = 0 is the form, not a fit stuck on its bound
    assert not fit_frontier(C, losses, bootstrap=0, power_law=False).power_law  # a form can be imposed


def test_effective_data_equals_d_without_repetition():
    assert effective_data(100.0, 200.0, 10.0) == pytest.approx(100.0)
    assert effective_data(200.0, 100.0, 1e9) == pytest.approx(200.0, rel=1e-6)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: fit_chinchilla([1, 2], [1, 2], [1, 2]), "at least 5 points"),
        (lambda: fit_chinchilla([1, 2, 3, 4, -5], [1] * 5, [1] * 5, grid=SMALL_GRID), "positive"),
        (lambda: approach2([1e6, 2e6], [1e9, 1e9], [3.0, 2.9], [1e18, 1e18]), "at least 2 budgets"),
        (lambda: fit_frontier([1e18, 1e19], [3.0, 2.8]), "at least 3 budgets"),
    ],
)
def test_bad_fit_input_is_one_clear_error(call, message):
    with pytest.raises(UsageError, match=message):
        call()


@pytest.mark.parametrize(("seed", "noise"), [(0, 0.003), (1, 0.02)])
@pytest.mark.parametrize("kind", ["huber", pytest.param("huber-likelihood", marks=pytest.mark.slow)])
def test_the_screened_fit_finds_the_optimum_of_l_bfgs_from_every_start(seed, noise, kind):
    from isoflop.fit.chinchilla import _best_fit, _minimise_from, _starts
    from isoflop.fit.objectives import Objective

    N, D, loss = synthetic(points=60, noise=noise, seed=seed)
    logs = (np.log(N), np.log(D), np.log(loss))
    starts = _starts(SMALL_GRID)  # 162 starts: screened down to 48, as the 4,500 of the default grid are
    screened = _best_fit(*logs, starts, Objective(kind))
    every = _minimise_from(starts, *logs, Objective(kind))
    assert screened.value == pytest.approx(every.value, rel=1e-6, abs=1e-9)


def test_designs_that_cannot_identify_a_law_are_warned_about():
    from isoflop.fit.checks import input_warnings
    from isoflop.fit.table import FitTable

    N = np.array([1e6, 1e6, 1e6, 2e6, 2e6, 2e6])
    D = np.array([1e9, 2e9, 4e9, 1e9, 2e9, 4e9])
    table = FitTable(N=N, D=D, loss=2 + 0 * N, C=None, U=None, seed=None)
    warnings = input_warnings(table, {}, parameters=5)
    assert any("N takes 2 value(s)" in w for w in warnings)
    assert any("span less than a decade" in w for w in warnings)
    wide = FitTable(N=np.repeat([1e6, 2e6, 4e6], 3), D=np.tile([1e8, 1e9, 1e10], 3), loss=2 + 0 * np.ones(9), C=None,
                    U=None, seed=None)
    assert not [w for w in input_warnings(wide, {}, parameters=5) if "value(s)" in w or "decade" in w]


def test_an_ill_conditioned_fit_is_warned_about_and_a_well_posed_one_is_not():
    from isoflop.fit.checks import conditioning_warning

    law = ChinchillaLaw(E=1.82, A=482.0, B=2085.0, alpha=0.3478, beta=0.3658)
    N = np.geomspace(1e7, 1e10, 20)
    assert "ill-conditioned" in conditioning_warning(law, N, 20 * N)[0]  # one tokens-per-parameter ratio
    grid_n, grid_d = (v.ravel() for v in np.meshgrid(np.geomspace(1e7, 1e10, 6), np.geomspace(1e9, 1e12, 6)))
    assert conditioning_warning(law, grid_n, grid_d) == []


def test_variable_projection_recovers_a_law_and_its_bootstrap_is_seeded():
    from isoflop.fit.varpro import fit_varpro

    truth = ChinchillaLaw(E=1.82, A=482.0, B=2085.0, alpha=0.3478, beta=0.3658)
    rng = np.random.default_rng(0)
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e10), 60))
    D = np.exp(rng.uniform(np.log(1e9), np.log(1e12), 60))
    exact = fit_varpro(N, D, truth.loss(N, D), bootstrap=0)
    for name in ("E", "A", "B", "alpha", "beta"):
        assert getattr(exact, name) == pytest.approx(getattr(truth, name), rel=1e-3)
    noisy = truth.loss(N, D) * np.exp(rng.normal(0, 0.005, 60))
    first, again = fit_varpro(N, D, noisy, bootstrap=20, seed=3), fit_varpro(N, D, noisy, bootstrap=20, seed=3)
    assert first.intervals == again.intervals and first.intervals["alpha"][0] < truth.alpha < first.intervals["alpha"][1]


def test_isoflop_fit_method_varpro_is_approach_3_only(tmp_path, capsys):
    from conftest import run_cli

    truth = ChinchillaLaw(E=1.82, A=482.0, B=2085.0, alpha=0.3478, beta=0.3658)
    N, D = np.repeat(np.geomspace(1e7, 1e10, 6), 5), np.tile(np.geomspace(1e9, 1e12, 5), 6)
    path = tmp_path / "points.csv"
    path.write_text("N,D,loss\n" + "".join(f"{n},{d},{l}\n" for n, d, l in zip(N, D, truth.loss(N, D))))
    code, out, err = run_cli(capsys, "fit", str(path), "--method", "varpro", "--bootstrap", "10", "--json")
    assert code == 0, err
    assert json.loads(out)["law"]["alpha"] == pytest.approx(0.3478, rel=1e-3)
    code, _, err = run_cli(capsys, "fit", str(path), "--method", "varpro", "--approach", "2")
    assert code == 2 and "--method varpro fits approach 3" in err


def _dies_once(marker: str, value: int) -> int:
    """Kill the worker process the first time any worker gets here (what the OOM killer does), else double."""
    import os

    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return 2 * value


def test_a_fit_pool_whose_worker_dies_computes_the_lost_calls_again_in_a_fresh_pool(tmp_path):
    from isoflop.fit.chinchilla import _in_pool

    assert _in_pool(_dies_once, [(str(tmp_path / "died"), i) for i in range(6)], None, [1] * 6) == [0, 2, 4, 6, 8, 10]
