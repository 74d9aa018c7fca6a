"""Grid axes over numeric settings (--grid FIELD=V1,V2): planning, run keys, reuse, and the reports' answers."""

import math

import pytest

from isoflop import build_config, run_study
from isoflop.config.studies import ScarcityConfig
from isoflop.engines.base import RunResult
from isoflop.models.families import scratch_facts
from isoflop.models.specs import SCRATCH_SIZES
from isoflop.results.store import Store
from isoflop.studies.scarcity import plan
from helpers import SIZES, InterruptedEngine, SyntheticEngine, synthetic_study


def facts(spec):
    return scratch_facts("gpt2", SCRATCH_SIZES["tiny"], 50257)


def scarcity(corpus, output, **changes):
    train, valid = corpus
    settings = dict(train_data=str(train), validation_data=str(valid), tokenizer="bytes", seq_len=16, budget_passes=4,
                    unique_samples=(1, 4),
                    eval_samples=2, seeds=(1, 2), executor="inprocess", fit_bootstrap=20, output=str(output)) | changes
    return build_config(overrides=settings)


def quiet(config, **kwargs):
    return run_study(config, echo=lambda line: None, progress=False, **kwargs)


def test_every_combination_of_the_axes_times_d_and_seed_is_one_run(corpus, tmp_path):
    config = scarcity(corpus, tmp_path, grid={"weight_decay": (0.1, 0.0), "dropout": (0.0, 0.2)})
    runs = plan(config, 257, facts).runs
    assert len(runs) == 2 * 2 * 2 * 2 and len({r.spec.key for r in runs}) == 16
    combos = {(r.spec.optimizer.weight_decay, r.spec.dropout) for r in runs}
    assert combos == {(0.0, 0.0), (0.0, 0.2), (0.1, 0.0), (0.1, 0.2)}
    assert "weight_decay=0.1" in runs[-1].spec.label and runs[-1].grid["weight_decay"] == 0.1


def test_the_baseline_point_keeps_the_keys_of_the_study_without_axes(corpus, tmp_path):
    without = {r.spec.key for r in plan(scarcity(corpus, tmp_path), 257, facts).runs}
    with_axis = plan(scarcity(corpus, tmp_path, grid={"weight_decay": (0.0, 1.0)}), 257, facts).runs
    assert {r.spec.key for r in with_axis if r.spec.optimizer.weight_decay == 0.0} == without
    # An integer setting keeps its integer value in keys: batch_size=1 from an axis is the study's batch_size 1.
    batches = plan(scarcity(corpus, tmp_path, grid={"batch_size": (1, 2)}), 257, facts).runs
    assert {r.spec.key for r in batches if r.spec.optimizer.batch_size == 1} == without
    assert {r.spec.steps for r in batches} == {4, 2}


def test_an_axis_may_come_from_a_config_file(corpus, tmp_path):
    (tmp_path / "study.yaml").write_text("grid:\n  weight_decay: [0, 0.1]\n  learning_rate: [0.001, 0.01]\n")
    config = build_config(config_file=tmp_path / "study.yaml")
    assert config.grid == {"learning_rate": (0.001, 0.01), "weight_decay": (0.0, 0.1)}
    assert len(config.settings()) == 4


def test_a_warmup_steps_axis_replaces_the_warmup_fraction_and_a_rate_axis_the_per_size_rates():
    point = build_config(kind="isoflops", overrides={"grid": {"warmup_steps": (10,)}}).settings()[0].config
    assert (point.optimizer.warmup_steps, point.optimizer.warmup_fraction) == (10, 0.0)
    rate = build_config(kind="isoflops", overrides={"grid": {"learning_rate": (5e-3,)}}).settings()[0].config
    assert rate.size_learning_rates == {} and rate.learning_rate_of("0.4k") == 5e-3


def test_the_baseline_is_the_studys_own_value_or_the_axis_smallest():
    assert ScarcityConfig(grid={"weight_decay": (1.0, 0.0)}).baseline_setting() == {"weight_decay": 0.0}
    assert ScarcityConfig(grid={"weight_decay": (0.5, 1.0)}).baseline_setting() == {"weight_decay": 0.5}
    assert ScarcityConfig(weight_decay=1.0, grid={"weight_decay": (0.0, 1.0)}).baseline_setting() == {"weight_decay": 1.0}


@pytest.mark.slow
def test_adding_axis_values_reuses_the_stored_runs_and_the_report_answers_per_setting(corpus, tmp_path):
    out = tmp_path / "out"
    assert quiet(scarcity(corpus, out, seeds=(1,))).trained == 2
    outcome = quiet(scarcity(corpus, out, grid={"weight_decay": (0.0, 1.0)}))
    assert (outcome.trained, outcome.skipped) == (6, 2)  # the baseline's seed-1 runs were stored already
    outcome = quiet(scarcity(corpus, out, grid={"weight_decay": (0.0, 0.5, 1.0)}))
    assert (outcome.trained, outcome.skipped) == (4, 8)
    answer = "\n".join(outcome.answer)
    assert "What the axes buy back (against the baseline weight_decay=0; gains paired by seed):" in answer
    assert "D=1: " in answer and ("gap recovered" in answer or "no setting differs from the baseline" in answer)
    assert (out / "loss_by_setting.png").exists()
    summary = (out / "summary.md").read_text()
    assert "## What the axes buy back" in summary and "| D | baseline loss | best other setting |" in summary
    assert "Grid axes: weight_decay ∈ {0, 0.5, 1}" in summary
    assert "| D | seed | epochs | axes |" in summary and "| weight_decay=0.5 |" in summary  # the runs table
    with Store(out, create=False) as store:
        assert len(store.records()) == 12
    # Back without the axis: the report answers from the baseline's runs alone, the others stay stored.
    outcome = quiet(scarcity(corpus, out))
    assert outcome.trained == 0 and "What the axes buy back" not in "\n".join(outcome.answer)
    with Store(out, create=False) as store:
        baseline = [r for r in store.records() if r.config["weight_decay"] == 0.0 and r.unique_samples == 4]
    reference = next(line for line in outcome.answer if line.startswith("Compared with"))
    assert f"{sum(r.final_val_loss for r in baseline) / 2:.3f} (mean of 2 seeds)" in reference


class RateSensitive(SyntheticEngine):
    """The synthetic law plus a penalty for leaving the rate 1e-2 that grows with the model's size."""

    def train(self, pack, data, on_step):
        for result, run in zip(super().train(pack, data, on_step), pack.runs):
            rung = SIZES.index(run.model.split(":")[1])
            penalty = abs(math.log10(run.optimizer.learning_rate) + 2) * 0.2 * rung
            yield RunResult(**{**result.__dict__, "val_loss": [v + penalty for v in result.val_loss]})


def test_an_isoflop_study_over_learning_rates_fits_each_pair_at_its_best_rate(tmp_path):
    settings, outcome, _, records = synthetic_study(tmp_path, bracket=0, grid={"learning_rate": (1e-3, 1e-2)},
                                                    budgets=(3e8, 3e9), model_sizes=SIZES[:5])
    assert len(records) == 2 * len({(r.budget_flops, r.grid["size"]) for r in records})
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "## Best setting per budget and size" in summary
    assert "| C | size | learning_rate=0.001 | learning_rate=0.01 | best |" in summary
    assert outcome.answer[0].startswith("In short: ")
    assert outcome.answer[1].startswith("Fitted on each (budget, size)'s best setting over the axes (learning_rate)")


@pytest.mark.slow
def test_each_point_of_an_axis_brackets_its_own_minima(tmp_path):
    _, _, _, records = synthetic_study(tmp_path, RateSensitive, grid={"learning_rate": (1e-3, 1e-2)})
    by_rate = {rate: {(r.budget_flops, r.grid["size"]) for r in records if r.config["learning_rate"] == rate}
               for rate in (1e-3, 1e-2)}
    assert by_rate[1e-3] != by_rate[1e-2]  # the rates' minima lie at other sizes, so each brackets its own


@pytest.mark.slow  # resume is checked in the default tier without an axis; this adds the axis's keys
def test_an_interrupted_study_with_an_axis_resumes_with_only_the_missing_runs(corpus, tmp_path):
    config = scarcity(corpus, tmp_path / "out", engine="reference", seeds=(1,), grid={"weight_decay": (0.0, 0.5)})
    with pytest.raises(KeyboardInterrupt):
        run_study(config, echo=lambda line: None, progress=False, engine=InterruptedEngine(config.engine))
    with Store(tmp_path / "out", create=False) as store:
        assert len(store.completed_keys()) == 1
    assert (quiet(config).trained, quiet(config).trained) == (3, 0)


# With an axis in the slow tier: the default tier stays under 3 minutes.
@pytest.mark.parametrize("grid", [pytest.param({"weight_decay": (0.0, 0.1)}, marks=pytest.mark.slow), {}])
def test_one_seed_says_no_spread_can_be_given(corpus, tmp_path, grid):
    outcome = quiet(scarcity(corpus, tmp_path / "one", seeds=(1,), grid=grid))
    assert any("One seed per D: no spread can be given" in line for line in outcome.answer)
    assert not any("[" in line for line in outcome.answer if line.startswith("D=1 ("))
    if grid:  # the axis answer and figure, with one seed (the slow tier checks them with two)
        assert "What the axes buy back (against the baseline weight_decay=0; gains paired by seed):" in outcome.answer
        assert any(line.startswith("D=1: ") for line in outcome.answer)
        assert (tmp_path / "one" / "loss_by_setting.png").exists()
