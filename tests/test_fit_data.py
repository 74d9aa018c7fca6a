"""Fitting the data users have: budget grouping, objectives, column aliases and formats, provenance, seeds, warnings."""

import hashlib
import json
import sys

import numpy as np
import pytest

from conftest import run_cli
from helpers import write
from isoflop.fit.api import run_fit
from isoflop.config.fit import FitConfig
from isoflop.fit.settings import FitSettings
from isoflop.fit.chinchilla import ChinchillaLaw, fit_chinchilla
from isoflop.fit.objectives import Objective, evaluate
from isoflop.fit.table import FitTable

# Epoch AI's replication of Chinchilla (Besiroglu et al. 2024), as the shape of the synthetic data.
EPOCH = ChinchillaLaw(E=1.82, A=482.0, B=2085.0, alpha=0.3478, beta=0.3658)
GRID = {"a": np.array([4.0, 6.0, 8.0]), "b": np.array([6.0, 8.0]), "e": np.array([0.0, 0.5]),
        "alpha": np.array([0.2, 0.5, 1.0]), "beta": np.array([0.2, 0.5, 1.0])}
BUDGETS = (1e18, 1e19, 1e20, 1e21)


def profiles(noise=0.0, jitter=0.0, seed=0, law=EPOCH, sizes=7):
    """isoFLOP profiles of ``law`` at BUDGETS (C = 6ND), log-loss noise, C values jittered so they never repeat."""
    rng = np.random.default_rng(seed)
    rows = []
    for C in BUDGETS:
        centre, _ = law.optimal(C)
        for n in centre * np.geomspace(0.25, 4, sizes):
            d = C / (6 * n)
            loss = float(law.loss(n, d)) * np.exp(rng.laplace(0, noise) if noise else 0.0)
            rows.append((n, d, loss, C * (1 + rng.uniform(-jitter, jitter))))
    return [np.array(column) for column in zip(*rows)]


def test_approach_2_groups_never_repeating_budgets_and_says_how_many_points_each_got(tmp_path, capsys):
    N, D, loss, C = profiles(jitter=0.02)
    assert len(np.unique(C)) == len(C)
    points = write(tmp_path / "p.csv", ["N", "D", "loss", "C"], zip(N, D, loss, C))
    code, out, err = run_cli(capsys, "fit", str(points), "--approach", "2", "--allocation-resamples", "40", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert [g["points"] for g in result["budget_groups"]] == [7, 7, 7, 7]
    assert result["a"] == pytest.approx(EPOCH.a, abs=0.03)
    code, out, err = run_cli(capsys, "fit", str(points), "--approach", "2", "--allocation-resamples", "40", "--budgets", ",".join(map(str, BUDGETS)), "--json")
    assert code == 0 and [g["C"] for g in json.loads(out)["budget_groups"]] == list(BUDGETS)
    code, _, err = run_cli(capsys, "fit", str(points), "--approach", "2", "--allocation-resamples", "40", "--budget-tolerance", "0")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "the C values barely repeat (28 points fall into 28" in err
    code, _, err = run_cli(capsys, "fit", str(points), "--approach", "2", "--allocation-resamples", "40", "--budgets", "1e18,1e19")
    assert code == 2 and "lie more than 5% from every budget listed" in err


@pytest.mark.parametrize("kind", ["huber", pytest.param("huber-likelihood", marks=pytest.mark.slow), "l1", "least-squares"])
def test_each_objective_recovers_a_known_law(kind):
    N, D, loss, _ = profiles(noise=0.002, sizes=9)
    law = fit_chinchilla(N, D, loss, grid=GRID, bootstrap=0, objective=Objective(kind))
    assert law.alpha == pytest.approx(EPOCH.alpha, abs=0.03) and law.beta == pytest.approx(EPOCH.beta, abs=0.03)
    assert law.E == pytest.approx(EPOCH.E, rel=0.03)
    assert (law.sigma is not None) == (kind == "huber-likelihood")


@pytest.mark.slow
def test_the_likelihood_and_the_huber_fit_differ_as_epochs_two_estimates_do():
    """On Laplace-noisy Epoch-shaped data both recover the law, to different estimates (Epoch: β 0.3658 vs 0.3672)."""
    N, D, loss, _ = profiles(noise=0.01, seed=3, sizes=9)
    huber = fit_chinchilla(N, D, loss, grid=GRID, bootstrap=0, objective=Objective("huber"))
    likelihood = fit_chinchilla(N, D, loss, grid=GRID, bootstrap=0, objective=Objective("huber-likelihood"))
    for law in (huber, likelihood):
        assert law.beta == pytest.approx(EPOCH.beta, abs=0.05)
    assert huber.beta != likelihood.beta
    # The likelihood's scale is the maximum-likelihood one: its derivative vanishes at the optimum.
    theta = np.array([np.log(likelihood.A), np.log(likelihood.B), np.log(likelihood.E), likelihood.alpha,
                      likelihood.beta, np.log(likelihood.sigma)])
    _, gradient = evaluate(theta, np.log(N), np.log(D), np.log(loss), Objective("huber-likelihood"))
    assert abs(gradient[5]) < 1e-3 * len(N)


def test_aliases_tsv_bom_padded_headers_and_a_mapping_are_read(tmp_path, capsys):
    N, D, loss, C = profiles()
    tsv = write(tmp_path / "p.tsv", ["  Params ", "Training_Tokens", " VAL_LOSS", "FLOPs"], zip(N, D, loss, C), "\t", bom=True)
    code, out, err = run_cli(capsys, "fit", str(tsv), "--approach", "2", "--allocation-resamples", "40", "--json")
    assert code == 0, err
    assert json.loads(out)["provenance"]["input"]["columns"] == {"N": "Params", "D": "Training_Tokens", "loss": "VAL_LOSS", "C": "FLOPs"}
    mapped = write(tmp_path / "m.csv", ["size", "toks", "l", "c"], zip(N, D, loss, C))
    code, out, err = run_cli(capsys, "fit", str(mapped), "--approach", "2", "--allocation-resamples", "40", "--columns", "N=size,D=toks,loss=l,C=c")
    assert code == 0, err
    code, _, err = run_cli(capsys, "fit", str(mapped), "--approach", "2", "--allocation-resamples", "40")
    assert code == 2 and "lacks column(s) N, D, loss (its columns: size, toks, l, c)" in err and "--columns" in err
    both = write(tmp_path / "b.csv", ["N", "params", "D", "loss"], zip(N, N, D, loss))
    code, _, err = run_cli(capsys, "fit", str(both), "--approach", "2", "--allocation-resamples", "40")
    assert code == 2 and "several columns for N (N, params)" in err


def test_a_law_file_carries_its_provenance_and_a_seed_makes_intervals_repeat(tmp_path, capsys):
    N, D, loss, C = profiles(noise=0.005)
    points = write(tmp_path / "p.csv", ["N", "D", "loss", "C"], zip(N, D, loss, C))
    table = FitTable(N=N, D=D, loss=loss, C=C, U=None, seed=None)
    source = {"sha256": hashlib.sha256(points.read_bytes()).hexdigest(), "rows": len(N)}
    first = run_fit(table, FitSettings(config=FitConfig(fit_bootstrap=8, fit_seed=7), grid=GRID), source)
    again = run_fit(table, FitSettings(config=FitConfig(fit_bootstrap=8, fit_seed=7), grid=GRID), source)
    other = run_fit(table, FitSettings(config=FitConfig(fit_bootstrap=8, fit_seed=8), grid=GRID), source)
    assert first["law"]["intervals"] == again["law"]["intervals"] != other["law"]["intervals"]
    provenance = first["provenance"]
    assert provenance["isoflop"] and provenance["input"] == source
    settings = provenance["settings"]
    assert settings["objective"]["kind"] == "huber" and settings["objective"]["delta"] == 1e-3
    assert settings["bootstrap"] == 8 and settings["seed"] == 7 and settings["start_grid"]["alpha"] == [0.2, 0.5, 1.0]
    assert settings["optimizer"]["method"] == "L-BFGS-B"
    convergence = first["law"]["convergence"]
    assert convergence["starts"] == 108 and 0 < convergence["converged_starts"] <= 108
    assert convergence["resamples"] == 8 and convergence["seed"] == 7
    assert first["points_used"] == {"law": len(N)}


def test_warnings_a_statistician_would_give(tmp_path, capsys):
    N, D, loss, C = profiles()
    rows = list(zip(N, D, loss, C))
    points = write(tmp_path / "p.csv", ["N", "D", "loss", "C"], rows + rows[:3])
    code, out, _ = run_cli(capsys, "fit", str(points), "--approach", "2", "--allocation-resamples", "40")
    assert code == 0 and "warning: 3 duplicate row(s)" in out and "--dedupe" in out
    code, out, _ = run_cli(capsys, "fit", str(points), "--approach", "2", "--allocation-resamples", "40", "--dedupe", "--json")
    assert json.loads(out)["points"] == len(N) and not json.loads(out)["warnings"]

    five = FitTable(N=N[:5], D=D[:5], loss=loss[:5], C=C[:5], U=None, seed=None)
    warnings = run_fit(five, FitSettings(config=FitConfig(fit_bootstrap=0), grid=GRID))["warnings"]
    assert any("5 points for 5 parameters" in w for w in warnings)
    assert any("one compute budget" in w for w in warnings)

    steep = ChinchillaLaw(E=1.8, A=400.0, B=2000.0, alpha=0.7, beta=0.35)
    N, D, loss, C = profiles(noise=0.01, law=steep)
    narrow = {**GRID, "alpha": np.array([0.1, 0.3])}
    warnings = run_fit(FitTable(N=N, D=D, loss=loss, C=C, U=None, seed=None), FitSettings(config=FitConfig(fit_bootstrap=10), grid=narrow))["warnings"]
    assert any("α's interval reaches the edge of the grid of starts (0.3)" in w for w in warnings)


@pytest.mark.slow
def test_a_fit_longer_than_a_second_shows_its_progress(tmp_path, capsys, monkeypatch):
    N, D, loss, C = profiles(noise=0.01, sizes=15)
    points = write(tmp_path / "p.csv", ["N", "D", "loss", "C"], zip(N, D, loss, C))
    code, _, err = run_cli(capsys, "fit", str(points), "--bootstrap", "200")
    assert code == 0 and "\r" not in err  # stderr is not a terminal here: no bar frames
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal: the bar
    code, out, err = run_cli(capsys, "fit", str(points), "--bootstrap", "200")
    assert code == 0 and "starts, then resamples" in err and "/4700 [" in err  # a bar with its ETA
    assert "4500 starts screened" in out and "of 200 bootstrap resamples converged (seed 0)" in out
