"""The data-constrained law (both decay terms), published laws by name, predict/advise from them, the hold-out check."""

import json

import numpy as np
import pytest

from conftest import run_cli
from isoflop.fit.advice import advise
from isoflop.fit.chinchilla import ChinchillaLaw
from isoflop.fit.constrained import DataConstrainedLaw, effective_data, fit_constrained, fit_repetition, token_worth
from isoflop.fit.holdout import holdout_largest
from isoflop.fit.laws import LoadedLaw
from isoflop.fit.published import PUBLISHED
from isoflop import UsageError
from helpers import write

DATABLATIONS = PUBLISHED["datablations"].law
SMALL_GRID = {"a": [4.0, 6.0, 8.0], "b": [6.0, 8.0], "e": [0.0, 0.5], "alpha": [0.3, 0.6], "beta": [0.3, 0.6]}


def test_datablations_readme_prediction_to_1e9():
    # The datablations README: scaling_law(6.34e9, 242e9, 25e9) = 2.2256440889984477.
    assert DATABLATIONS.loss(6.34e9, 242e9, 25e9) == pytest.approx(2.2256440889984477, rel=1e-9)


def test_datablations_readme_allocation_to_1_percent():
    # The README: optimal_allocation(1e22, 25e9) → 7.02e9 parameters, 2.373e11 tokens, 9.49 epochs.
    advice = advise(LoadedLaw.of(DATABLATIONS), 1e22, 25e9)
    assert advice.parameters == pytest.approx(7.02e9, rel=0.01)
    assert advice.tokens == pytest.approx(2.373e11, rel=0.01)
    assert advice.epochs == pytest.approx(9.49, rel=0.01)
    assert advice.method.startswith("search over N")
    # Without a cap on unique tokens there is no repetition: the Chinchilla closed form of the same base.
    fresh = advise(LoadedLaw.of(DATABLATIONS), 1e22)
    assert fresh.parameters == pytest.approx(DATABLATIONS.chinchilla.optimal(1e22)[0], rel=1e-6)


def test_published_token_worth():
    # Muennighoff et al.: at R_D* = 15.4 a token seen 2, 4, 8, 16 times is worth 0.98, 0.93, 0.83, 0.66 of a fresh one.
    assert [round(token_worth(e, 15.4), 2) for e in (2, 4, 8, 16)] == [0.98, 0.93, 0.83, 0.66]
    assert effective_data(100.0, 200.0, 10.0) == pytest.approx(100.0)


def synthetic(truth, points=150, noise=0.002, seed=0):
    """Runs of ``truth``: unique data over two decades, sizes from 0.1× to 30× what U can use, up to 60 epochs."""
    rng = np.random.default_rng(seed)
    U = np.exp(rng.uniform(np.log(1e8), np.log(1e10), points))
    N = truth.n_for_tokens(U) * np.exp(rng.uniform(np.log(0.1), np.log(30), points))
    D = U * np.exp(rng.uniform(0, np.log(60), points))
    D[: points // 4] = U[: points // 4]
    return N, D, U, truth.loss(N, D, U) * np.exp(rng.normal(0, noise, points))


# A second seed in the slow tier: the default tier stays under 3 minutes.
@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_joint_fit_recovers_both_decay_constants(seed):
    N, D, U, loss = synthetic(DATABLATIONS, seed=seed)
    law = fit_constrained(N, D, U, loss, bootstrap=30, seed=seed, grid=SMALL_GRID)
    assert law.r_d_star == pytest.approx(DATABLATIONS.r_d_star, rel=0.1)
    assert law.r_n_star == pytest.approx(DATABLATIONS.r_n_star, rel=0.1)
    for name, truth in (("R_D_star", DATABLATIONS.r_d_star), ("R_N_star", DATABLATIONS.r_n_star), ("alpha", DATABLATIONS.alpha)):
        low, high = law.intervals[name]
        assert low * 0.97 <= truth <= high * 1.03, name
    low, high = law.flat_range
    assert low < law.r_d_star < high and not law.pinning


def test_frozen_base_fits_only_the_decays():
    N, D, U, loss = synthetic(DATABLATIONS, seed=3)
    law = fit_constrained(N, D, U, loss, base=DATABLATIONS, base_name="datablations", bootstrap=20)
    assert (law.E, law.alpha) == (DATABLATIONS.E, DATABLATIONS.alpha)
    assert law.base == "frozen: datablations"
    assert law.r_d_star == pytest.approx(DATABLATIONS.r_d_star, rel=0.05)
    assert set(law.intervals) == {"R_D_star", "R_N_star"}


def test_without_excess_parameters_r_n_star_is_not_fitted():
    N, D, U, loss = synthetic(DATABLATIONS, seed=4)
    small = N < DATABLATIONS.n_for_tokens(U)
    law = fit_constrained(N[small], D[small], U[small], loss[small], base=DATABLATIONS, bootstrap=0)
    assert law.r_n_star is None
    assert any("R_N* not fitted" in note for note in law.notes)


@pytest.mark.slow  # ~5 s of bootstrap refits; the scarcity reports of the default tier run the same fit
def test_repetition_fit_of_a_scarcity_sweep_and_an_unpinnable_one():
    rng = np.random.default_rng(0)
    D = np.full(14, 100.0)
    U = np.array([1, 2, 5, 10, 20, 50, 100] * 2, dtype=float)
    loss = 3.0 + 40 / effective_data(D, U, 8.0) ** 0.5 * np.exp(rng.normal(0, 0.003, 14))
    law = fit_repetition(U, D, loss, bootstrap=30)
    low, high = law.intervals["R_D_star"]
    assert low <= 8.0 <= high and high / low < 5
    # Every run repeats its data at most twice: the decay cannot show, and the fit says so.
    flat = fit_repetition([100, 90, 80, 70, 60, 55], [100] * 6, [3.0, 3.01, 3.02, 3.03, 3.045, 3.05], bootstrap=5)
    assert flat.pinning


def test_predict_and_advise_cli_from_published_laws(capsys):
    code, out, _ = run_cli(capsys, "predict", "--law", "datablations", "--params", "6.34e9", "--tokens", "242e9",
                           "--unique-tokens", "25e9", "--json")
    assert code == 0 and json.loads(out)["loss"] == pytest.approx(2.2256440889984477, rel=1e-9)
    code, out, _ = run_cli(capsys, "advise", "--law", "datablations", "--flops", "1e22", "--unique-tokens", "25e9")
    assert code == 0 and "N = 7.03e+09" in out and "9.49 epochs" in out and "search over N" in out
    assert "nan" not in out.lower() and "no interval" in out
    code, out, _ = run_cli(capsys, "predict", "--law", "chinchilla", "--params", "70e9", "--tokens", "1.4e12")
    assert code == 0 and f"{1.69 + 406.4 / 70e9**0.34 + 410.7 / 1.4e12**0.28!r}" in out


@pytest.mark.parametrize("args, message", [
    (("predict", "--law", "gpt5", "--params", "1e9", "--tokens", "1e10"), "unknown law 'gpt5'"),
    (("predict", "--law", "epoch", "--params", "-1", "--tokens", "1e10"), "--params must be a positive finite number"),
    (("predict", "--law", "epoch", "--params", "1e9", "--tokens", "nan"), "--tokens must be a positive finite number"),
    (("predict", "--law", "epoch", "--params", "1e9", "--tokens", "1e10", "--unique-tokens", "2e10"), "exceeds --tokens"),
    (("advise", "--law", "nope.json", "--flops", "1e20"), "does not exist"),
])
def test_bad_law_input_is_one_line(capsys, args, message):
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and out == ""


def test_fit_cli_constrained(capsys, tmp_path):
    N, D, U, loss = synthetic(DATABLATIONS, points=60, seed=5)
    source = write(tmp_path / "runs.csv", ["N", "D", "U", "loss"], zip(N, D, U, loss))
    saved = tmp_path / "law.json"
    code, out, _ = run_cli(capsys, "fit", str(source), "--approach", "constrained", "--base", "datablations",
                           "--bootstrap", "20", "--save", str(saved))
    assert code == 0 and "R_D* = 15" in out and "base frozen: datablations" in out
    code, out, _ = run_cli(capsys, "predict", "--law", str(saved), "--params", "6.34e9", "--tokens", "242e9",
                           "--unique-tokens", "25e9")
    assert code == 0 and "predicted loss 2.2" in out and "[" in out
    no_u = write(tmp_path / "no_u.csv", ["N", "D", "loss"], zip(N, D, loss))
    code, _, err = run_cli(capsys, "fit", str(no_u), "--approach", "constrained")
    assert code == 2 and "needs a U column" in err
    code, _, err = run_cli(capsys, "fit", str(source), "--base", "datablations")
    assert code == 2 and "use it with --approach constrained" in err


def frontier_profiles(law: ChinchillaLaw, budgets, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for C in budgets:
        centre, _ = law.optimal(C)
        for n in centre * np.geomspace(0.25, 4, 7):
            rows.append((n, C / (6 * n), float(law.loss(n, C / (6 * n))) * np.exp(rng.normal(0, noise)), C))
    return [np.array(column) for column in zip(*rows)]


def test_holdout_largest_predicts_a_synthetic_law_within_noise():
    law = PUBLISHED["epoch"].law
    N, D, loss, C = frontier_profiles(law, (1e18, 3e18, 1e19, 3e19, 1e20), noise=0.002)
    check = holdout_largest(N, D, loss, C, resamples=20)
    assert check.budget == 1e20 and check.budgets_fitted == 4
    assert check.predicted_loss == pytest.approx(check.vertex_loss, rel=0.01)
    assert check.predicted_n == pytest.approx(check.vertex_n, rel=0.25)
    assert "Hold-out check" in check.sentence()
    four = C < 1e20
    assert check.loss_interval[0] < check.predicted_loss < check.loss_interval[1]
    assert check.best_run_loss >= check.vertex_loss - 0.01 and check.run_interval is not None
    assert "parabola vertex (fitted, not trained)" in check.sentence() and "a new run's interval" in check.sentence()
    three = holdout_largest(N[four], D[four], loss[four], C[four], resamples=20)
    # 3 smaller budgets allow no backtest of how the frontier extrapolates: no interval beyond them, and it says why.
    assert three.loss_interval is None and "too few smaller budgets" in three.sentence()
    with pytest.raises(Exception, match="at least 3 budgets besides the largest"):
        holdout_largest(N[C < 1e19], D[C < 1e19], loss[C < 1e19], C[C < 1e19], resamples=20)


def test_data_constrained_law_round_trips_through_json():
    law = DataConstrainedLaw(2.0, 400.0, 400.0, 0.3, 0.3, 10.0, 4.0, samples=[(2.0, 400.0, 400.0, 0.3, 0.3, 9.0, float("nan"))])
    again = DataConstrainedLaw.from_dict(json.loads(json.dumps(law.as_dict()).replace("NaN", "null")))
    assert again.loss(1e9, 1e11, 1e10) == law.loss(1e9, 1e11, 1e10)
    assert again.loss_interval(1e9, 1e11, 1e10) is not None


def test_a_frontier_whose_coefficient_is_not_determined_is_unreliable():
    from isoflop.fit.checks import frontier_problems
    from isoflop.fit.isoflop_profiles import Frontier

    loose = Frontier(E=1.17, A=7.79e4, gamma=0.436, intervals={"A": (61.1, 7.67e23)})
    assert any("A's 95% interval" in p and "22 orders of magnitude" in p for p in frontier_problems(loose, [1.65, 1.9]))
    tight = Frontier(E=1.17, A=7.79e4, gamma=0.436, intervals={"A": (5e4, 9e4)})
    assert frontier_problems(tight, [1.65, 1.9]) == []


def five_budget_design():
    """7 sizes around the optimum of each of 5 budgets (C = 6ND), losses exactly on a Chinchilla-shaped law."""
    rows = []
    for C in (1e18, 1e19, 1e20, 1e21, 1e22):
        n_opt = 0.1 * (C / 6) ** 0.5
        rows += [(n, C / (6 * n), C) for n in n_opt * np.geomspace(0.2, 5, 7)]
    N, D, C = (np.array(column) for column in zip(*rows))
    return N, D, C, 1.7 + 400 / N**0.34 + 400 / D**0.28


def test_leave_one_budget_out_moves_an_exact_law_by_nothing_and_names_the_worst_budget():
    from isoflop.fit.leave_one_out import leave_one_budget_out
    from isoflop.fit.table import FitTable

    N, D, C, loss = five_budget_design()
    exact = FitTable(N=N, D=D, loss=loss, C=C, U=None, seed=None)
    from isoflop.fit.chinchilla import fit_chinchilla

    law = fit_chinchilla(N, D, exact.loss, bootstrap=0)
    approach3 = leave_one_budget_out(exact, 3, C, law=law)
    assert len(approach3.refits) == 5 and approach3.target == 1e22
    assert np.abs(approach3.changes("loss")).max() < 1e-3  # an exact law is the same without any one budget
    noisy = FitTable(N=N, D=D, loss=exact.loss * np.where(C == 1e19, 1.03, 1.0), C=C, U=None, seed=None)
    approach2 = leave_one_budget_out(noisy, 2, C).as_dict()
    assert len(approach2["refits"]) == 5 and approach2["summary"]["loss"]["worst_change"] is not None
    with pytest.raises(UsageError, match="at least 4 budgets"):
        leave_one_budget_out(exact.subset(C < 1e20), 2, C[C < 1e20])


@pytest.mark.parametrize("flops", [1e19, 5.76e23, 1e26])
def test_the_allocation_agrees_three_ways_closed_form_numeric_minimum_and_advise(flops, capsys):
    from scipy.optimize import minimize_scalar

    law = PUBLISHED["chinchilla"].law
    closed_n, closed_d = (float(v) for v in law.optimal(flops))
    along_budget = minimize_scalar(lambda log_n: law.loss(np.exp(log_n), flops / (6 * np.exp(log_n))),
                                   bounds=(np.log(closed_n) - 5, np.log(closed_n) + 5), method="bounded",
                                   options={"xatol": 1e-12})
    numeric_n = float(np.exp(along_budget.x))
    code, out, _ = run_cli(capsys, "advise", "--flops", repr(flops), "--law", "chinchilla", "--json")
    advised = json.loads(out)
    assert code == 0
    assert numeric_n == pytest.approx(closed_n, rel=1e-6) and advised["N"] == pytest.approx(closed_n, rel=1e-6)
    assert advised["D"] == pytest.approx(closed_d, rel=1e-6) and advised["N"] * advised["D"] * 6 == pytest.approx(flops)


@pytest.mark.slow  # the study tests of the slow tier run the panel too: the default tier stays under 3 minutes
def test_the_robustness_panel_of_an_exact_law_barely_moves_and_names_every_variant():
    from isoflop.fit.robustness import describe_panel, robustness_panel
    from isoflop.fit.table import FitTable

    N, D, C, loss = five_budget_design()
    tables = {"total": FitTable(N=N, D=D, loss=loss, C=C, U=None, seed=None, parameter_count="total"),
              "non-embedding": FitTable(N=N * 0.9, D=D, loss=loss, C=C, U=None, seed=None, parameter_count="non-embedding")}
    panel = robustness_panel(tables, C)
    names = [v["name"] for v in panel["variants"]]
    assert len(names) == 10 and not panel["missing"] and panel["target_C"] == 1e23
    approach3 = [v for v in panel["variants"] if v["name"].startswith("approach 3") and "non-embedding" not in v["name"]]
    assert max(v["a"] for v in approach3) - min(v["a"] for v in approach3) < 1e-3  # exact data: choices do not matter
    assert approach3[0]["a"] == pytest.approx(0.28 / 0.62, abs=1e-3)
    assert any("spread: a" in line for line in describe_panel(panel))


@pytest.mark.slow  # ~6 s of simulated studies; the default tier has the paired intervals' coverage simulation
def test_approach_2s_configuration_intervals_cover_the_truth_in_a_deterministic_simulation():
    """40 simulated studies (4 budgets × 5 sizes, noise 0.02 nats): the studentized 95 % intervals of a, b and L* at
    the largest budget from resampled runs cover the noise-free answer in at least 85 % of them. benchmarks/coverage.py
    measures the same on a study's own design, against the minima bootstrap."""
    from isoflop.fit.isoflop_profiles import approach2, fit_frontier
    from isoflop.fit.resampling import allocation_intervals

    rows = []
    for C in (1e18, 1e19, 1e20, 1e21):
        n_opt = 0.1 * (C / 6) ** 0.5
        rows += [(n, C / (6 * n), C) for n in n_opt * np.geomspace(0.15, 6.5, 5)]
    N, D, C = (np.array(column) for column in zip(*rows))
    truth = 1.7 + 400 / N**0.34 + 400 / D**0.28
    exact = approach2(N, D, truth, C, bootstrap=0)
    frontier = fit_frontier([m.flops for m in exact.minima], [m.loss for m in exact.minima], bootstrap=0)
    rng = np.random.default_rng(2)
    covered = {"a": 0, "b": 0, "L*": 0}
    replications = 40
    for replication in range(replications):
        found = allocation_intervals(N, D, truth + rng.normal(0, 0.02, len(truth)), C, resamples=30, seed=replication,
                                     power_law=frontier.power_law)
        covered["a"] += found.a[0] <= exact.n_law.exponent <= found.a[1]
        covered["b"] += found.b[0] <= exact.d_law.exponent <= found.b[1]
        covered["L*"] += found.loss_at_largest[0] <= frontier(1e21) <= found.loss_at_largest[1]
    assert min(covered.values()) / replications >= 0.85, covered
