"""Laws convert compute with the FLOP count they were fitted on, and degenerate fits are never shown as answers."""

import json

import numpy as np
import pytest

from conftest import run_cli
from isoflop.fit.advice import advise, advise_allocation
from isoflop.fit.api import run_fit
from isoflop.config.fit import FitConfig
from isoflop.fit.settings import FitSettings
from isoflop.fit.chinchilla import ChinchillaLaw
from isoflop.fit.checks import chinchilla_problems
from isoflop.fit.flops import FlopCount, knots_to_count
from isoflop.fit.laws import LoadedLaw
from isoflop.fit.table import FitTable
from isoflop.models.counts import flops_per_token
from isoflop.models.families import scratch_facts
from isoflop.models.specs import LADDER

VOCAB, SEQ_LEN = 50257, 64
LAW = ChinchillaLaw(E=1.5, A=40.0, B=400.0, alpha=0.35, beta=0.3)
GRID = {"a": np.array([0.0, 5.0]), "b": np.array([0.0, 5.0]), "e": np.array([-1.0, 0.5]),
        "alpha": np.array([0.0, 0.5, 1.0]), "beta": np.array([0.0, 0.5, 1.0])}


SIZES = {name: size for name, size in LADDER.items() if name not in ("0.4k", "0.8k", "2k", "3k", "6k")}


def ladder_count() -> FlopCount:
    """The isoFLOP study's own FLOP count (full convention) for its ladder of model sizes from 12k up (below, a
    GPT-2 vocabulary's head is most of the count and N*(C) bends away from a power law)."""
    sizes, per_token = [], []
    for size in SIZES.values():
        facts = scratch_facts("gpt2", size, VOCAB)
        sizes.append(facts.parameters.non_embedding)
        per_token.append(flops_per_token(facts, SEQ_LEN, "full"))
    return knots_to_count("full", sizes, per_token)


def test_the_full_count_is_exact_at_every_trained_size_and_grows_with_n():
    count = ladder_count()
    for size in SIZES.values():
        facts = scratch_facts("gpt2", size, VOCAB)
        exact = flops_per_token(facts, SEQ_LEN, "full")
        assert count.per_token_at(facts.parameters.non_embedding) == pytest.approx(exact, rel=1e-12)
    between = np.geomspace(1e3, 1e9, 50)
    assert (np.diff(count.per_token_at(between)) > 0).all()
    # Small models with a large vocabulary spend most FLOPs on the head: far more than 6N.
    assert count.per_token_at(1e5) > 10 * 6e5


@pytest.mark.parametrize("flops", [3e11, 1e12, 3e13, 1e15])
def test_advice_spends_the_budget_under_the_laws_own_count(flops):
    count = ladder_count()
    advice = advise(LoadedLaw.of(LAW, count), flops)
    assert count.flops(advice.parameters, advice.tokens) == pytest.approx(flops, rel=1e-9)
    # It is the optimum under that count: no other split of the same budget predicts a lower loss.
    others = advice.parameters * np.geomspace(0.5, 2, 41)
    assert LAW.loss(others, count.tokens(flops, others)).min() >= advice.loss - 1e-12
    # The 6N closed form would have spent a different budget: the bug this guards against.
    n6, d6 = LAW.optimal(flops)
    assert abs(count.flops(n6, d6) / flops - 1) > 0.5


def test_under_6n_the_advice_is_the_closed_form():
    advice = advise(LoadedLaw.of(LAW), 1e20)
    assert (advice.parameters, advice.tokens) == pytest.approx(LAW.optimal(1e20), rel=1e-12)
    assert advice.method.startswith("closed form")


def profiles(count: FlopCount, budgets=(1e12, 3e12, 1e13, 3e13)):
    """isoFLOP profiles of LAW: around each budget's optimum, sizes on both sides, D = what C buys."""
    rows = []
    for flops in budgets:
        centre = advise(LoadedLaw.of(LAW, count), flops).parameters
        for n in centre * np.geomspace(1 / 8, 8, 9):
            d = float(count.tokens(flops, n))
            rows.append((n, d, float(LAW.loss(n, d)), flops))
    return map(np.array, zip(*rows))


def test_study_fit_and_advice_agree_at_a_trained_budget(tmp_path, capsys):
    count = ladder_count()
    N, D, loss, C = profiles(count)
    table = FitTable(N=N, D=D, loss=loss, C=C, U=None, seed=None, flop_count=count)
    fit = run_fit(table, FitSettings(approach=2))
    assert fit["problems"] == [] and fit["flops"]["convention"] == "full"
    minimum = next(m for m in fit["minima"] if m["C"] == 3e12)
    advice = advise_allocation(fit, 3e12, FlopCount.from_dict(fit["flops"]))
    assert advice.parameters == pytest.approx(minimum["N_opt"], rel=0.05)
    assert advice.tokens == pytest.approx(minimum["D_opt"], rel=0.05)
    assert advice.loss == pytest.approx(minimum["loss"], rel=0.01)
    assert count.flops(advice.parameters, advice.tokens) == pytest.approx(3e12, rel=1e-9)

    # The same through the CLI, from a CSV whose C column carries that count ('table' convention).
    csv = tmp_path / "points.csv"
    csv.write_text("N,D,loss,C\n" + "".join(f"{n:.17g},{d:.17g},{l:.17g},{c:.17g}\n" for n, d, l, c in zip(N, D, loss, C)))
    saved = tmp_path / "law.json"
    code, out, err = run_cli(capsys, "fit", str(csv), "--approach", "2", "--allocation-resamples", "40", "--flop-convention", "table", "--save", str(saved))
    assert code == 0, err
    assert "C = D × FLOPs per token read from the data" in out
    code, out, err = run_cli(capsys, "advise", "--flops", "3e12", "--fit", str(saved), "--json")
    assert code == 0, err
    cli = json.loads(out)
    assert cli["N"] == pytest.approx(advice.parameters, rel=1e-6)
    assert count.flops(cli["N"], cli["D"]) == pytest.approx(3e12, rel=0.01)


def test_a_law_without_e_is_flagged():
    rng = np.random.default_rng(0)
    N = np.exp(rng.uniform(np.log(1e4), np.log(1e6), 60))
    D = np.exp(rng.uniform(np.log(1e6), np.log(1e8), 60))
    no_floor = ChinchillaLaw(E=1e-300, A=40.0, B=400.0, alpha=0.35, beta=0.3)
    problems = chinchilla_problems(no_floor, N, D, no_floor.loss(N, D), GRID)
    assert any("E ≈ 0" in p for p in problems)
    wide = ChinchillaLaw(E=1.5, A=40.0, B=400.0, alpha=0.35, beta=0.3, intervals={"A": (1e-3, 4.8e38)})
    assert any("A's 95% interval" in p and "42 orders" in p for p in chinchilla_problems(wide, N, D, [2.0], GRID))
    assert chinchilla_problems(LAW, N, D, LAW.loss(N, D), GRID) == []


def test_a_law_of_points_flat_in_n_is_flagged():
    rng = np.random.default_rng(1)
    N = np.repeat(np.geomspace(1e4, 1e6, 7), 3)
    C = np.tile([1e12, 1e13, 1e14], 7)
    D = C / (6 * N)
    table = FitTable(N=N, D=D, loss=2.0 + 50 / D**0.3 + rng.normal(0, 1e-4, len(N)), C=C, U=None, seed=None)
    problems = run_fit(table, FitSettings(approach=3, config=FitConfig(fit_bootstrap=0), grid=GRID))["problems"]
    assert any("loss does not fall with N" in p for p in problems)


def shrinking(tmp_path):
    """isoFLOP profiles whose minimum moves to smaller models as compute grows."""
    rows = []
    for flops, centre in ((1e12, 1e6), (1e13, 3e5), (1e14, 1e5)):
        for n in centre * np.geomspace(1 / 4, 4, 7):
            rows.append((n, flops / (6 * n), 2 + (np.log(n / centre)) ** 2 / 10, flops))
    path = tmp_path / "shrinking.csv"
    path.write_text("N,D,loss,C\n" + "".join(",".join(f"{v:.17g}" for v in row) + "\n" for row in rows))
    return path


def test_cli_refuses_a_degenerate_fit_and_force_shows_it_marked(tmp_path, capsys):
    points, saved = shrinking(tmp_path), tmp_path / "law.json"
    code, out, err = run_cli(capsys, "fit", str(points), "--approach", "2", "--allocation-resamples", "40", "--save", str(saved))
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("error: no reliable law from these points (N* ∝ C^-0.5") and "negative exponent" in err
    assert not saved.exists()
    code, out, err = run_cli(capsys, "fit", str(points), "--approach", "2", "--allocation-resamples", "40", "--save", str(saved), "--force")
    assert code == 0 and out.startswith("UNRELIABLE, shown because of --force")
    assert json.loads(saved.read_text())["problems"]
    code, out, err = run_cli(capsys, "advise", "--flops", "1e13", "--fit", str(saved))
    assert code == 1 and "was saved as unreliable" in err and "--force" in err
    code, out, err = run_cli(capsys, "advise", "--flops", "1e13", "--fit", str(saved), "--force")
    assert code == 0 and "UNRELIABLE law" in out


def test_flop_convention_input_is_checked(tmp_path, capsys):
    points = tmp_path / "nc.csv"
    points.write_text("N,D,loss\n1,2,3\n")
    code, _, err = run_cli(capsys, "fit", str(points), "--flop-convention", "table")
    assert code == 2 and "has no C column for the 'table' FLOP convention" in err
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"approach": 3, "law": LAW.as_dict()}))
    code, out, _ = run_cli(capsys, "advise", "--flops", "1e20", "--fit", str(old))
    assert code == 0 and "closed form" in out  # a file saved before conventions were recorded assumed 6N
