import json
import math
import shlex

import numpy as np
import pytest

from conftest import run_cli, write_corpus
from test_report import CHROMIUM, overflow
from isoflop import UsageError, build_config, run_study
from isoflop.data.prepare import bits_per_byte, bytes_per_token
from isoflop.fit.points import fit_table_from
from isoflop.models.families import scratch_facts
from isoflop.models.specs import LADDER
from isoflop.results.exports import read_export
from isoflop.results.store import Store
from isoflop.studies.isoflops import plan
from isoflop.tokenization.resolve import load_tokenizer


def tiny_config(corpus, output, **changes):
    train, valid = corpus
    settings = dict(
        budgets=(3e9, 1e10), model_sizes=("25k", "50k", "100k"), train_data=str(train), validation_data=str(valid),
        seq_len=32, batch_size=4, eval_samples=4, evals_per_run=3, min_steps=5, output=str(output),
        executor="inprocess",  # no worker start-up: tests/test_processes.py and test_execution.py cover the workers
    )
    settings.update(changes)
    return build_config(overrides=settings, kind="isoflops")


def plan_for(config, vocab_size=257):
    return plan(config, vocab_size, lambda spec: scratch_facts("gpt2", LADDER[spec.split(":")[1]], vocab_size))


@pytest.fixture
def big_corpus(tmp_path):
    return write_corpus(tmp_path / "train.txt", 400), write_corpus(tmp_path / "valid.txt", 8)


def test_plan_gives_each_size_the_tokens_its_budget_allows_and_skips_the_too_big(corpus, tmp_path):
    config = tiny_config(corpus, tmp_path / "o", min_steps=40, bracket=0)  # the full grid: every pair planned or noted
    planned = plan_for(config)
    for run in planned.runs:
        assert run.spec.passes * 32 * run.flops_per_token == pytest.approx(run.budget_flops, rel=0.02)
    assert any("100k at C=3e+09" in note for note in planned.notes)
    small = [r for r in planned.runs if r.grid["size"] == "25k"]
    assert small[1].spec.steps > small[0].spec.steps
    assert all(r.spec.optimizer.warmup_fraction == 0.05 and r.spec.eval_steps[-1] == r.spec.steps for r in planned.runs)


def test_unique_token_cap_makes_runs_repeat_data(corpus, tmp_path):
    planned = plan_for(tiny_config(corpus, tmp_path / "o", unique_tokens=32 * 10))
    assert all(r.spec.unique_samples == 10 for r in planned.runs)


def test_size_learning_rates_reach_their_runs(corpus, tmp_path):
    planned = plan_for(tiny_config(corpus, tmp_path / "o", size_learning_rates={"25k": 1e-2}))
    rates = {r.grid["size"]: r.spec.optimizer.learning_rate for r in planned.runs}
    assert rates["25k"] == 1e-2 and rates["50k"] == 3e-3


def test_byte_tokenizer_counts_one_token_per_byte():
    tokenizer = load_tokenizer("bytes")
    ids = tokenizer("héllo\n")["input_ids"]
    assert len(ids) == len("héllo\n".encode()) and len(tokenizer) == 257
    assert bytes_per_token([ids], tokenizer) == 1.0
    assert bits_per_byte(math.log(2), 1.0) == 1.0


def test_isoflops_study_end_to_end_and_resume(big_corpus, tmp_path):
    config = tiny_config(big_corpus, tmp_path / "out", budgets=(3e9,), model_sizes=("25k", "50k"), fit_bootstrap=0,
                         fit_starts="coarse")
    outcome = run_study(config, echo=lambda line: None, progress=False)
    assert outcome.trained == 2 and not outcome.failed
    with Store(tmp_path / "out") as store:
        records = store.records()
    assert all(r.bits_per_byte > 0 and r.budget_flops == 3e9 and r.flop_convention == "full" for r in records)
    assert all(len(r.evaluated()) >= 3 and r.evaluated()[-1].step == len(r.metrics) for r in records)
    assert {r.grid["size"] for r in records} == {"25k", "50k"}
    assert "isoFLOP" in (tmp_path / "out" / "summary.md").read_text()
    assert len(fit_table_from(str(tmp_path / "out"), study=("isoflops", records))[0].N) == len(records)
    assert run_study(config, echo=lambda line: None, progress=False).trained == 0
    # The round trip: each way isoflop show --csv exports the folder fits as the folder does, points for points.
    with Store(tmp_path / "out") as store:
        for name, options in (("runs", {}), ("steps", {"per_step": True}),
                              ("evaluated", {"per_step": True, "evaluated_only": True})):
            store.export_csv(tmp_path / f"{name}.csv", **options)
            study = read_export(tmp_path / f"{name}.csv")
            assert study[0] == "isoflops" and [r.key for r in study[1]] == [r.key for r in records]
            for curves in (False, True) if options else (False,):
                for count in ("total", "non-embedding"):
                    folder = fit_table_from(str(tmp_path / "out"), curves=curves, count=count, study=("isoflops", records))[0]
                    table = fit_table_from(str(tmp_path / f"{name}.csv"), curves=curves, count=count, study=study)[0]
                    for column in ("N", "D", "loss", "C", "U"):
                        assert getattr(table, column) == pytest.approx(getattr(folder, column), rel=1e-12), (name, column)
                    assert table.flop_count == folder.flop_count
    assert sum(1 for _ in open(tmp_path / "evaluated.csv")) == 1 + sum(len(r.evaluated()) for r in records)
    with pytest.raises(UsageError, match="export with isoflop show FOLDER --csv FILE --per-step"):
        fit_table_from(str(tmp_path / "runs.csv"), curves=True, study=read_export(tmp_path / "runs.csv"))


@pytest.mark.slow
def test_isoflops_study_with_fits_and_plots(big_corpus, tmp_path):
    outcome = run_study(tiny_config(big_corpus, tmp_path / "out", fit_starts="coarse"), echo=lambda line: None,
                        progress=False)
    assert not outcome.failed
    assert (tmp_path / "out" / "isoflop_profiles.png").exists() and (tmp_path / "out" / "report.html").exists()
    if CHROMIUM is not None:  # .ci/run installs it
        assert overflow(tmp_path / "out" / "report.html", tmp_path) == []  # fits a 1280-px window


def test_batched_engine_runs_the_isoflop_schedule(big_corpus, tmp_path):
    config = tiny_config(big_corpus, tmp_path / "out", budgets=(3e9,), model_sizes=("25k",), seeds=(1, 2), engine="batched",
                         fit_bootstrap=0)
    outcome = run_study(config, echo=lambda line: None, progress=False)
    assert outcome.engine == "batched" and outcome.trained == 2 and not outcome.failed
    with Store(tmp_path / "out") as store:
        assert {(r.engine, r.pack_runs) for r in store.records()} == {("batched", 2)}


def test_isoflops_bad_input(big_corpus, tmp_path):
    with pytest.raises(UsageError, match="unknown ladder size"):
        tiny_config(big_corpus, tmp_path / "o", model_sizes=("7b",))
    with pytest.raises(UsageError, match="positive number of FLOPs"):
        tiny_config(big_corpus, tmp_path / "o", budgets=(-1.0,))
    with pytest.raises(UsageError, match="too big for every budget"):
        run_study(tiny_config(big_corpus, tmp_path / "o", budgets=(1e3,)), progress=False)
    with pytest.raises(UsageError, match="set --unique-tokens"):
        run_study(tiny_config(big_corpus, tmp_path / "o", budgets=(1e12,)), progress=False)
    assert not (tmp_path / "o").exists()


def write_isoflop_csv(path, law_exponent=0.5):
    rows = ["N,D,loss,C"]
    for C in (1e18, 1e19, 1e20, 1e21):
        n_opt = 0.1 * (C / 6) ** law_exponent
        for n in n_opt * np.geomspace(0.2, 5, 7):
            d = C / (6 * n)
            rows.append(f"{n},{d},{1.7 + 400 / n**0.34 + 400 / d**0.28},{C}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_fit_cli_approach_2_json_and_advise(capsys, tmp_path):
    csv = write_isoflop_csv(tmp_path / "points.csv")
    code, out, _ = run_cli(capsys, "fit", str(csv), "--approach", "2", "--json", "--bootstrap", "50")
    result = json.loads(out)
    assert code == 0 and result["a"] == pytest.approx(0.28 / 0.62, abs=0.03) and "frontier" in result

    saved = tmp_path / "law.json"
    law = {"law": {"E": 1.7, "A": 400, "B": 400, "alpha": 0.34, "beta": 0.28, "bootstrap_samples": []},
           "range": {"N": [1e6, 1e9], "D": [1e8, 1e11], "C": [1e18, 1e21]}}
    saved.write_text(json.dumps(law))
    code, out, _ = run_cli(capsys, "advise", "--flops", "3e12", "--fit", str(saved), "--json")
    advice = json.loads(out)
    assert code == 0 and advice["N"] < 1e6
    assert any("outside the range" in note for note in advice["notes"])
    code, out, _ = run_cli(capsys, "advise", "--flops", "1e20", "--unique-tokens", "1e9", "--fit", str(saved), "--json")
    # With no data-constrained fit repeats are worthless: the optimum uses the unique tokens exactly once.
    assert json.loads(out)["epochs"] == pytest.approx(1, rel=1e-6)


@pytest.mark.parametrize(
    ("content", "message"),
    [("N,D\n1,2\n", "lacks column"), ("N,D,loss\n1,2,x\n", "non-number"), ("N,D,loss\n1,2,-3\n", "positive")],
)
def test_fit_cli_bad_csv_is_one_line(capsys, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, _, err = run_cli(capsys, "fit", str(path))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_the_report_states_each_sizes_rate_when_they_differ():
    from isoflop.report.isoflops import _setup

    assert "lr per size 0.4k 0.06, 0.8k 0.06" in _setup(build_config(kind="isoflops"), [])
    assert "lr 0.003 with" in _setup(build_config(kind="isoflops", overrides={"size_learning_rates": {}}), [])
    ruled = _setup(build_config(kind="isoflops", overrides={"lr_rule": "power", "beta2_rule": "half-life"}), [])
    assert "lr by the power rule, beta2 by the half-life rule (each run's values in its config" in ruled


@pytest.mark.slow
def test_the_report_and_isoflop_fit_give_the_same_laws_under_both_parameter_counts(tmp_path, capsys):
    from isoflop.fit.api import without_nan
    from isoflop.fit.points import PARAMETER_COUNTS, table_from_records
    from isoflop.report.isoflops import fit_settings, study_fits
    from helpers import synthetic_study

    # Four budgets, and unique tokens capped so that the larger budgets repeat data: approach 3 fits L(N, D) on the
    # points that do not repeat, the data-constrained law on all of them, in the report as in isoflop fit.
    settings, _, _, records = synthetic_study(tmp_path, budgets=(3e8, 1e9, 3e9, 1e10), fit_bootstrap=4,
                                              fit_allocation_resamples=40, unique_tokens=16 * 2000, leave_one_out=True,
                                              robustness=True)
    assert any(r.tokens > r.unique_tokens for r in records) and any(r.tokens <= r.unique_tokens for r in records)
    config = build_config(overrides=settings, kind="isoflops")
    fits = study_fits({count: table_from_records(records, count=count) for count in PARAMETER_COUNTS}, config)
    summary = (tmp_path / "out" / "summary.md").read_text()
    for approach in (2, 3):
        # The command the report states for each law is the one that reproduces it.
        command = fit_settings(config, approach).command(str(tmp_path / "out"))
        assert f"`{command}`" in summary
        # --force: an unreliable law (here approach 3's, whose leave-one-budget-out spread exceeds the interval its 4
        # resamples give) must be unreliable for the same reasons in both.
        code, out, err = run_cli(capsys, *shlex.split(command)[1:], "--json", "--force")
        assert code == 0, err
        cli, report = json.loads(out), without_nan(fits[approach].result)
        assert cli["parameters"] == "total" and cli["other_count"]["parameters"] == "non-embedding"
        for key in ("law", "constrained", "N_opt", "D_opt", "minima", "frontier", "holdout", "leave_one_out",
                    "other_count", "embedding_shares", "problems"):
            assert cli.get(key) == report.get(key), (approach, key)
    assert "constrained" in fits[3].result and fits[3].result["points_used"]["law"] < len(records)
    assert fits[2].result["leave_one_out"]["refits"] and fits[3].result["leave_one_out"]["refits"]
    assert "Parameter counts" in summary and "non-embedding N" in summary and "Leave-one-budget-out" in summary
    assert "## Robustness" in summary and (tmp_path / "out" / "robustness.png").exists()


@pytest.mark.slow
def test_a_folder_fit_states_both_counts_each_sizes_embedding_share_and_the_flop_factor(tmp_path, capsys):
    from helpers import synthetic_study

    synthetic_study(tmp_path, budgets=(3e8, 1e9, 3e9, 1e10))
    code, out, err = run_cli(capsys, "fit", str(tmp_path / "out"), "--approach", "2", "--leave-one-out", "--starts",
                             "coarse", "--allocation-resamples", "40")
    assert code == 0, err
    assert "N as total parameters" in out and "parameter counts: the headline counts total" in out
    assert "embedding share of each trained size" in out and "k = C/(N*·D*) = " in out
    assert "warning: embeddings are over 25%" in out  # the byte vocabulary's embeddings dominate the small sizes
    assert "leave-one-budget-out (approach 2)" in out and "worst change" in out
    code, out, _ = run_cli(capsys, "fit", str(tmp_path / "out"), "--approach", "2", "--params", "non-embedding",
                           "--json", "--starts", "coarse", "--allocation-resamples", "40")
    result = json.loads(out)
    assert result["parameters"] == "non-embedding" and result["other_count"]["parameters"] == "total"
    assert result["a"] != result["other_count"]["a"]


def test_a_saved_approach_2_law_keeps_its_frontier_samples_and_advise_gives_the_interval(capsys, tmp_path):
    csv = write_isoflop_csv(tmp_path / "points.csv")
    saved = tmp_path / "law.json"
    code, _, err = run_cli(capsys, "fit", str(csv), "--approach", "2", "--save", str(saved), "--json")
    assert code == 0, err
    assert json.loads(saved.read_text())["frontier"]["bootstrap_samples"]
    code, out, _ = run_cli(capsys, "advise", "--flops", "1e20", "--law", str(saved))
    assert code == 0 and "no interval" not in out and "interval for the law's value" in out and "[" in out


def test_the_plan_says_how_much_data_its_largest_run_reads_and_whether_it_repeats(tmp_path):
    from isoflop.studies.dry_run import dry_run

    base = dict(output=str(tmp_path / "out"), budgets=(1e11,), model_sizes=("2k", "6k"), bracket=0)
    fresh = [line for line in dry_run(build_config(kind="isoflops", overrides=base)) if line.startswith("data: ")]
    assert fresh == ["data: the largest run (2k at C=1e+11 seed=1) reads 1,492,992 tokens, none twice: the training "
                     "data must hold 1,492,992 tokens (checked when it is prepared)"]
    capped = [line for line in dry_run(build_config(kind="isoflops", overrides=base | {"unique_tokens": 100_000}))
              if line.startswith("data: ")]
    assert capped == ["data: the largest run (2k at C=1e+11 seed=1) reads 1,492,992 tokens, 14.9 epochs over 99,968 "
                      "distinct ones: it repeats data"]
