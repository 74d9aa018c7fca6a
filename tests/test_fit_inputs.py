"""A lab's inputs to isoflop fit: one ladder of several (--where), minima alone, both parameter counts, a window,
fine-tuning tables; each ends in a law with its forecast interval or in one line."""

import json

import numpy as np
import pytest

from conftest import run_cli
from helpers import write
from test_forecast import ladder, loss_of

FINETUNE_SIZES = 200 * 2.0 ** np.arange(11)


def ladder_csv(path, budgets=None, **changes):
    frame = ladder(**changes) if budgets is None else ladder(budgets=budgets, **changes)
    rows = [(n, n * 0.8, d, c, loss, 1) for n, d, c, loss in frame[["params", "tokens", "flops", "loss"]].to_numpy()]
    other = ladder(seed=7, floor=0.0)
    rows += [(n, n * 0.8, d, c, loss, 2) for n, d, c, loss in other[["params", "tokens", "flops", "loss"]].to_numpy()]
    return write(path, ["N", "N_nonemb", "D", "C", "loss", "ladder"], rows)


def minima_csv(path, budgets=(1e18, 3e18, 1e19, 3e19, 1e20)):
    rows = []
    for C in budgets:
        N = np.geomspace(1e6, 1e12, 4001)
        losses = loss_of(N, C / (6 * N))
        best = int(np.argmin(losses))
        rows.append((C, N[best], float(losses[best])))
    return write(path, ["C", "N", "loss"], rows)


def finetune_csv(path):
    rows = []
    for model, (plateau, knee) in enumerate(((3.0, 2e4), (2.6, 5e4))):
        loss = 0.8 + (plateau - 0.8) / (1 + (FINETUNE_SIZES / knee) ** 0.5)
        rows += [(model, d, value * (1 + 0.002 * np.sin(i))) for i, (d, value) in enumerate(zip(FINETUNE_SIZES, loss))]
    return write(path, ["model", "samples", "loss"], rows)


def test_where_picks_one_ladder_and_the_forecast_is_saved_and_advised(tmp_path, capsys):
    source = ladder_csv(tmp_path / "ladders.csv")
    law = tmp_path / "law.json"
    code, out, err = run_cli(capsys, "fit", str(source), "--approach", "2", "--where", "ladder=1", "--save", str(law),
                             "--allocation-resamples", "20")
    assert code == 0, err
    assert "forecast of L*(C)" in out and "95% interval for a new run" in out
    saved = json.loads(law.read_text())
    assert saved["points"] == 42 and saved["provenance"]["input"]["where"] == {"ladder": "1"}
    code, out, err = run_cli(capsys, "advise", "--law", str(law), "--flops", "1e21")
    assert code == 0, err
    assert "N* = " in out and "counted as given" not in out and "interval for the law's value" in out
    assert "interval for the loss one run will measure" in out and "rolling-origin backtest" in out
    code, out, err = run_cli(capsys, "predict", "--law", str(law), "--params", "1e9", "--flops", "1e21")
    assert code == 0, err
    assert "loss of a chosen size L(N, C) at C = 1e+21" in out
    code, _, err = run_cli(capsys, "fit", str(source), "--approach", "2", "--allocation-resamples", "40", "--where", "ladder=9")
    assert code == 2 and "no row" in err and "ladder holds 1, 2" in err and len(err.strip().splitlines()) == 1


def test_approach_1_on_a_csv_fits_without_a_flop_factor_crash(tmp_path, capsys):
    source = ladder_csv(tmp_path / "ladders.csv")
    code, out, err = run_cli(capsys, "fit", str(source), "--approach", "1", "--where", "ladder=1")
    assert code == 0, err
    assert "k = C/(N*·D*)" in out and "sizes below" not in out


@pytest.mark.slow  # a second fit of a whole ladder; the default tier keeps the other input forms
def test_both_parameter_counts_of_a_csv_are_fitted_side_by_side(tmp_path, capsys):
    source = ladder_csv(tmp_path / "ladders.csv")
    code, out, err = run_cli(capsys, "fit", str(source), "--approach", "2", "--where", "ladder=1",
                             "--params-columns", "total=N,non-embedding=N_nonemb", "--allocation-resamples", "10")
    assert code == 0, err
    assert "parameter counts: the headline counts total" in out and "non-embedding" in out
    code, _, err = run_cli(capsys, "fit", str(source), "--params-columns", "total=N,bogus=N_nonemb")
    assert code == 2 and "--params-columns" in err


def test_a_window_says_what_it_moved(tmp_path, capsys):
    source = ladder_csv(tmp_path / "ladders.csv")
    code, out, err = run_cli(capsys, "fit", str(source), "--approach", "2", "--where", "ladder=1", "--window", "5",
                             "--allocation-resamples", "10")
    assert code == 0, err
    assert "window: each parabola on the 5 sizes nearest its best run (12 points left out)" in out
    assert "against every size it moves L*(" in out


def test_minima_alone_are_fitted_with_minima_and_say_so_without_it(tmp_path, capsys):
    source = minima_csv(tmp_path / "minima.csv")
    law = tmp_path / "law.json"
    code, out, err = run_cli(capsys, "fit", str(source), "--approach", "2", "--allocation-resamples", "40", "--minima", "--save", str(law))
    assert code == 0, err
    assert "forecast of L*(C)" in out
    code, out, err = run_cli(capsys, "advise", "--law", str(law), "--flops", "1e21")
    assert code == 0, err
    assert "N* = " in out and "a new run" not in out and "no run-to-run noise" in out
    code, _, err = run_cli(capsys, "fit", str(write(tmp_path / "m.csv", ["N", "D", "loss", "C"],
                                                    [(n, c / (6 * n), l, c) for c, n, l in np.loadtxt(source, delimiter=",", skiprows=1)])),
                           "--approach", "2", "--allocation-resamples", "40")
    assert code == 2 and "--minima" in err and "budget-tolerance" not in err


def test_approach_3_on_minima_is_refused_as_unidentified(tmp_path, capsys):
    rows = [(n, c / (6 * n), l) for c, n, l in np.loadtxt(minima_csv(tmp_path / "minima.csv"), delimiter=",", skiprows=1)]
    code, _, err = run_cli(capsys, "fit", str(write(tmp_path / "m.csv", ["N", "D", "loss"], rows)), "--approach", "3",
                           "--starts", "coarse", "--bootstrap", "0")
    assert code == 1 and "α and β are not separately identified" in err


def test_the_fine_tuning_law_is_fitted_per_model_and_predicts_a_data_size(tmp_path, capsys):
    source = finetune_csv(tmp_path / "finetune.csv")
    law = tmp_path / "ft.json"
    code, out, err = run_cli(capsys, "fit", str(source), "--approach", "finetune", "--where", "model=1", "--save", str(law),
                             "--allocation-resamples", "20")
    assert code == 0, err
    assert "rectified law" in out and "knee" in out
    code, out, err = run_cli(capsys, "predict", "--law", str(law), "--samples", "1e6")
    assert code == 0, err
    truth = 0.8 + 1.8 / (1 + (1e6 / 5e4) ** 0.5)
    low, high = (float(v) for v in out.splitlines()[0].split("[")[1].split("]")[0].split(","))
    assert low <= truth <= high
    code, _, err = run_cli(capsys, "fit", str(source), "--approach", "finetune")
    assert code == 2 and "--where" in err
    code, _, err = run_cli(capsys, "advise", "--law", str(law), "--flops", "1e21")
    assert code == 2 and "fine-tuning law" in err


def test_a_law_saved_before_forecasts_still_advises_with_its_interval_labelled(tmp_path, capsys):
    source = ladder_csv(tmp_path / "ladders.csv")
    law = tmp_path / "law.json"
    assert run_cli(capsys, "fit", str(source), "--approach", "2", "--where", "ladder=1", "--save", str(law),
                   "--allocation-resamples", "0")[0] == 0
    old = json.loads(law.read_text())
    del old["forecast"]
    old["frontier"]["bootstrap_samples"] = [[1.7, 300.0, 0.15], [1.6, 310.0, 0.15], [1.8, 290.0, 0.16]]
    law.write_text(json.dumps(old))
    code, out, err = run_cli(capsys, "advise", "--law", str(law), "--flops", "1e21")
    assert code == 0, err
    assert "percentile band of bootstrap resamples of the per-budget minima" in out and "isoflop fit --save" in out


def test_approach_3_leaves_out_budgets_not_runs_when_c_is_measured(tmp_path, capsys):
    frame = ladder()
    jitter = 1 + 0.01 * np.sin(np.arange(len(frame)))
    rows = [(n, d, loss, c * j) for (n, d, c, loss), j in zip(frame[["params", "tokens", "flops", "loss"]].to_numpy(), jitter)]
    source = write(tmp_path / "measured.csv", ["N", "D", "loss", "C"], rows)
    code, out, err = run_cli(capsys, "fit", str(source), "--approach", "3", "--leave-one-out", "--starts", "coarse",
                             "--bootstrap", "0", "--json")
    assert code == 0, err
    assert len(json.loads(out)["leave_one_out"]["refits"]) == 6


@pytest.mark.slow  # a second fit of a whole ladder; the default tier keeps the other input forms
def test_a_skipped_budget_does_not_set_the_fitted_range(tmp_path, capsys):
    frame = ladder()
    smallest = frame["flops"] == frame["flops"].min()
    frame.loc[smallest, "loss"] = frame.loc[smallest, "loss"].to_numpy()[::-1] * 0 + np.linspace(3, 2.9, smallest.sum())
    rows = frame[["params", "tokens", "loss", "flops"]].to_numpy()
    code, out, err = run_cli(capsys, "fit", str(write(tmp_path / "s.csv", ["N", "D", "loss", "C"], rows)), "--approach", "2",
                             "--json", "--allocation-resamples", "0")
    assert code == 0, err
    result = json.loads(out)
    assert result["skipped_budgets"] and result["range"]["C"][0] == 3e18
    code, out, _ = run_cli(capsys, "fit", str(tmp_path / "s.csv"), "--approach", "2", "--allocation-resamples", "0")
    assert "skipped C=1e+18" in out and "neither informs the laws nor sets the fitted range" in out


def test_a_decay_constant_at_its_search_bound_is_reported_as_not_identified():
    from isoflop.cli.fit_text import _describe_constrained

    law = {"E": 1.8, "A": 400.0, "B": 400.0, "alpha": 0.34, "beta": 0.28, "R_D_star": 15.0, "R_N_star": 1e4,
           "repeated_token_value": {}, "intervals": {"R_D_star": [10.0, 20.0], "R_N_star": [9e3, 1e4]}}
    lines = "\n".join(_describe_constrained(law))
    assert "R_D* = 15  [10, 20]" in lines
    assert "R_N*: not identified (the fit put it at its search bound 1e+04" in lines and "R_N* = " not in lines


def test_non_embedding_n_under_6n_names_the_flop_count_not_only_the_c_column(tmp_path, capsys):
    frame = ladder()
    rows = [(n / 8, d, loss, c) for n, d, c, loss in frame[["params", "tokens", "flops", "loss"]].to_numpy()]
    code, _, err = run_cli(capsys, "fit", str(write(tmp_path / "ne.csv", ["N", "D", "loss", "C"], rows)), "--approach", "2", "--allocation-resamples", "40")
    assert code == 2 and "non-embedding" in err and "--flop-convention table" in err


def test_approach_3_whose_e_reaches_the_forecast_is_refused_by_advise_and_predict(tmp_path, capsys):
    law = {"E": 2.9, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28, "intervals": {"E": [2.5, 3.6]},
           "bootstrap_samples": []}
    saved = tmp_path / "law.json"
    saved.write_text(json.dumps({"approach": 3, "law": law, "problems": []}))
    code, _, err = run_cli(capsys, "predict", "--law", str(saved), "--params", "1e10", "--tokens", "1e12")
    assert code == 1 and "extrapolates blind" in err and len(err.strip().splitlines()) == 1
    assert run_cli(capsys, "predict", "--law", str(saved), "--params", "1e10", "--tokens", "1e12", "--force")[0] == 0
    code, _, err = run_cli(capsys, "advise", "--law", str(saved), "--flops", "1e21")
    assert code == 1 and "approach 3's irreducible loss E = 2.9" in err


def test_what_show_csv_writes_is_what_fit_reads(tmp_path, capsys):
    """isoflop show --csv names its columns parameters, tokens, budget_flops, final_val_loss, status: fit reads them
    without --columns, and a failed run's empty loss says how to leave it out."""
    frame = ladder()
    rows = [f"{n:.17g},{d:.17g},{c:.17g},{loss:.17g},completed" for n, d, c, loss in frame[["params", "tokens", "flops", "loss"]].to_numpy()]
    source = tmp_path / "runs.csv"
    source.write_text("parameters,tokens,budget_flops,final_val_loss,status\n" + "\n".join(rows + ["1e6,1e9,6e15,,failed"]) + "\n")
    code, _, err = run_cli(capsys, "fit", str(source), "--approach", "2", "--allocation-resamples", "40")
    assert code == 2 and "--where status=completed" in err
    code, out, err = run_cli(capsys, "fit", str(source), "--approach", "2", "--where", "status=completed",
                             "--allocation-resamples", "10")
    assert code == 0, err
    assert "approach 2 on 42 points" in out


def test_library_errors_name_arguments_and_the_cli_names_flags(tmp_path, capsys):
    from isoflop.errors import ArgumentError
    from isoflop.fit import Points, fit_ladder

    frame = ladder()
    with pytest.raises(ArgumentError, match=r"^budget_tolerance must be at least 0"):
        fit_ladder(Points.from_frame(frame, N="params", D="tokens", C="flops"), budget_tolerance=2)
    jittered = [(n, d, loss, c * (1 + 0.01 * i)) for i, (n, d, c, loss)
                in enumerate(frame[["params", "tokens", "flops", "loss"]].to_numpy())]
    code, _, err = run_cli(capsys, "fit", str(write(tmp_path / "j.csv", ["N", "D", "loss", "C"], jittered)), "--approach",
                           "2", "--budget-tolerance", "0")
    assert code == 2 and "raise --budget-tolerance (e.g. 0.2) or list the budgets with --budgets C1,C2" in err
