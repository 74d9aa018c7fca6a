"""The scarcity study through the one runner: plan, data, engine, store, report."""

import pytest

from conftest import write_corpus
from isoflop import UsageError, build_config, run_study
from isoflop.results.store import Store
from isoflop.studies.dry_run import dry_run
from isoflop.studies.scarcity import plan
from helpers import InterruptedEngine


def small_config(corpus, output, **changes):
    train, valid = corpus
    settings = dict(
        model="scratch:tiny", train_data=str(train), validation_data=str(valid), seq_len=16, budget_passes=4,
        unique_samples=(1, 2, 4), eval_samples=2, output=str(output), executor="inprocess",  # no worker start-up
        seeds=(1,), fit_bootstrap=20,
    )
    settings.update(changes)
    return build_config(overrides=settings)


def quiet(config):
    return run_study(config, echo=lambda line: None, progress=False)


def test_plan_is_one_run_per_d_and_seed_with_stable_keys(corpus, tmp_path):
    from isoflop.models.families import scratch_facts
    from isoflop.models.specs import SCRATCH_SIZES

    config = small_config(corpus, tmp_path / "o", seeds=(1, 2))
    facts = lambda spec: scratch_facts("gpt2", SCRATCH_SIZES["tiny"], 50257)  # noqa: E731
    planned = plan(config, 50257, facts)
    assert [(r.spec.unique_samples, r.spec.seed) for r in planned.runs] == [(1, 1), (1, 2), (2, 1), (2, 2), (4, 1), (4, 2)]
    assert len({r.spec.key for r in planned.runs}) == 6
    assert [r.spec.key for r in plan(config, 50257, facts).runs] == [r.spec.key for r in planned.runs]
    assert all(r.flop_convention == "full" and r.spec.steps == 4 for r in planned.runs)


def test_study_writes_runs_plots_summary_and_html(corpus, tmp_path):
    outcome = quiet(small_config(corpus, tmp_path / "out", seeds=(1, 2)))
    assert (outcome.trained, outcome.skipped, outcome.failed, outcome.engine) == (6, 0, [], "fast")  # auto, on a CPU
    names = {path.name for path in outcome.files}
    assert names == {"summary.md", "report.html", "loss_vs_unique_samples.png", "validation_curves.png"}
    assert all(path.exists() for path in outcome.files) and (tmp_path / "out" / "validation_curves.svg").exists()
    with Store(tmp_path / "out", create=False) as store:
        records = store.records()
    assert len(records) == 6 and all(len(r.metrics) == 4 for r in records)
    record = records[0]
    assert record.config["unique_samples"] == record.unique_samples and record.grid == {"unique_samples": 1}
    assert "torch" in record.versions and record.data_fingerprint
    assert (record.epochs, record.engine, record.precision, record.flop_convention, record.pack_runs) == (4.0, "fast", "fp32", "full", 1)
    assert record.versions["head_kernel"].startswith("C (")  # which head-loss kernel computed the numbers
    assert record.train_flops == pytest.approx(record.flops_per_token * 4 * 16)
    assert len({r.key for r in records}) == 6
    summary = (tmp_path / "out" / "summary.md").read_text()
    # Per-D numbers: the mean over the two seeds with their range.
    d1 = sorted(r.final_val_loss for r in records if r.unique_samples == 1)
    assert f"| 1 | 4 | {(d1[0] + d1[1]) / 2:.3f} [{d1[0]:.3f}, {d1[1]:.3f}] |" in summary
    assert any("D=1 (4 epochs)" in line for line in outcome.answer)


def test_interrupted_study_resumes_with_only_the_missing_runs(corpus, tmp_path):
    config = small_config(corpus, tmp_path / "out", engine="reference")
    with pytest.raises(KeyboardInterrupt):
        run_study(config, echo=lambda line: None, progress=False, engine=InterruptedEngine(config.engine))
    with Store(tmp_path / "out", create=False) as store:
        assert len(store.completed_keys()) == 1
    # The dry run sees what the study will skip, and leaves the folder as it was.
    before = sorted(p.name for p in (tmp_path / "out").iterdir())
    lines = dry_run(config)
    assert "3 run(s) planned, 1 stored, 2 to train: 8 optimizer steps" in lines[-1]
    assert [line.split()[-1] for line in lines[4:7]].count("stored") == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == before
    outcome = quiet(config)
    assert (outcome.trained, outcome.skipped) == (2, 1)
    assert quiet(config).trained == 0


def test_a_study_resolves_its_engine_plans_and_prepares_its_data_once(corpus, tmp_path, monkeypatch):
    import dataclasses

    import isoflop.studies.runner as runner

    calls = {"plan": 0, "data": 0, "engine": 0}
    kind, prepare, select = runner.STUDIES["scarcity"], runner.prepare_data, runner.select_engine

    def counted(name, function):
        def call(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return call

    monkeypatch.setitem(runner.STUDIES, "scarcity", dataclasses.replace(kind, plan=counted("plan", kind.plan)))
    monkeypatch.setattr(runner, "prepare_data", counted("data", prepare))
    monkeypatch.setattr(runner, "select_engine", counted("engine", select))
    outcome = quiet(small_config(corpus, tmp_path / "out", engine="auto"))
    assert outcome.trained == 3 and outcome.engine == "fast"
    assert calls == {"plan": 1, "data": 1, "engine": 1}


def test_same_config_same_seed_same_numbers_in_a_new_folder(corpus, tmp_path):
    first = quiet(small_config(corpus, tmp_path / "a", unique_samples=(2,)))
    second = quiet(small_config(corpus, tmp_path / "b", unique_samples=(2,)))
    with Store(first.folder) as a, Store(second.folder) as b:
        assert a.records()[0].metrics == b.records()[0].metrics
        assert a.records()[0].key == b.records()[0].key


def test_grid_change_adds_runs_but_other_changes_are_refused(corpus, tmp_path):
    quiet(small_config(corpus, tmp_path / "out", unique_samples=(1,)))
    assert quiet(small_config(corpus, tmp_path / "out", unique_samples=(1, 2))).trained == 1
    with pytest.raises(UsageError, match="different scarcity study.*learning_rate"):
        quiet(small_config(corpus, tmp_path / "out", learning_rate=5e-4))
    with Store(tmp_path / "out") as store:
        assert len(store.records()) == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"unique_samples": (1, 5000), "budget_passes": 5000}, "needs 5000 unique training samples"),
        ({"unique_samples": (1, 5000)}, "D = 5000 exceeds the .* samples a budget of"),
        ({"eval_samples": 500}, "validation data has .* chunks"),
        ({"seq_len": 900}, "no full 900-token chunk"),
        ({"seq_len": 2048}, "exceeds the context"),
        ({"budget_passes": 0}, "budget_passes"),
        ({"budget_passes": 5, "batch_size": 2}, "not a whole number of steps"),
        ({"model": "distilgpt2"}, "unreachable.*--model PATH"),
        ({"model": "scratch:huge"}, "unknown model size"),
        ({"train_data": "missing.txt"}, "neither a file nor a folder"),
        ({"validation_data": None}, "needs --validation-data"),
        ({"unique_samples": (0, 2)}, "positive number of samples"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"precision": "bf16", "engine": "batched"}, "needs a CUDA GPU"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(corpus, tmp_path, changes, message):
    with pytest.raises(UsageError, match=message):
        quiet(small_config(corpus, tmp_path / "out", **changes))
    assert not (tmp_path / "out").exists()


def test_output_that_is_a_file_is_refused(corpus, tmp_path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        quiet(small_config(corpus, tmp_path / "taken"))
    with pytest.raises(UsageError, match="cannot be created"):
        quiet(small_config(corpus, tmp_path / "taken" / "below"))


def test_empty_training_file_is_refused(corpus, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(UsageError, match="is empty"):
        quiet(small_config((empty, corpus[1]), tmp_path / "out"))


def test_pretrained_local_checkpoint_study(corpus, tmp_path, pretrained_folder):
    outcome = quiet(small_config(corpus, tmp_path / "out", model=str(pretrained_folder), unique_samples=(2,)))
    assert outcome.trained == 1 and not outcome.failed


def test_failed_run_is_recorded_with_its_reason_and_the_study_goes_on(corpus, tmp_path):
    outcome = quiet(small_config(corpus, tmp_path / "out", learning_rate=1e30, unique_samples=(1, 2)))
    assert len(outcome.failed) == 2 and outcome.completed == 0
    with Store(tmp_path / "out") as store:
        assert {(r.status, "at step" in r.error) for r in store.records()} == {("failed", True)}
    assert "Failed runs" in (tmp_path / "out" / "summary.md").read_text()
    assert {path.name for path in outcome.files} == {"summary.md", "report.html"}  # no plot without a completed run


def test_packed_chunking_runs(tmp_path):
    rows = write_corpus(tmp_path / "t.txt", 6, words_per_row=1), write_corpus(tmp_path / "v.txt", 4, words_per_row=1)
    outcome = quiet(small_config(rows, tmp_path / "out", chunking="packed", seq_len=32, unique_samples=(2,)))
    assert outcome.trained == 1


def test_batched_engine_study_records_its_engine_and_pack_and_saves_models(corpus, tmp_path):
    outcome = quiet(small_config(corpus, tmp_path / "out", engine="batched", save_models=True))
    assert outcome.trained == 3 and not outcome.failed and outcome.engine == "batched"
    with Store(tmp_path / "out") as store:
        records = store.records()
    assert {(r.engine, r.precision, r.pack_runs) for r in records} == {("batched", "fp32", 3)}
    assert all((tmp_path / "out" / "models" / r.key / "config.json").exists() for r in records)


def test_auto_takes_the_first_engine_that_supports_the_study(corpus, tmp_path):
    assert quiet(small_config(corpus, tmp_path / "out", engine="auto", unique_samples=(1,))).engine == "fast"


def test_data_replaced_under_a_study_is_refused_then_superseded_on_request(corpus, tmp_path):
    train, valid = corpus
    quiet(small_config(corpus, tmp_path / "out", unique_samples=(1,)))
    train.write_text(train.read_text().replace("fox", "cat"), encoding="utf-8")
    with pytest.raises(UsageError, match="data differ from what 1 stored run.*D=1 seed=1.*--force-new-data"):
        quiet(small_config(corpus, tmp_path / "out", unique_samples=(1, 2)))
    with Store(tmp_path / "out") as store:
        assert len(store.records()) == 1  # nothing trained on the new text beside the old run
    said = []
    outcome = run_study(small_config(corpus, tmp_path / "out", unique_samples=(1, 2)), echo=said.append,
                        progress=False, force_new_data=True)
    assert outcome.trained == 2 and any("moved to" in line for line in said)
    assert len(list((tmp_path / "out" / "superseded").glob("results-*.sqlite"))) == 1
    with Store(tmp_path / "out") as store:
        assert len(store.records()) == 2  # the report holds the new study only


def test_data_too_short_for_the_stored_runs_is_refused_before_anything_moves(corpus, tmp_path):
    train, valid = corpus
    quiet(small_config(corpus, tmp_path / "out", unique_samples=(4,)))
    train.write_text(train.read_text().splitlines(keepends=True)[0], encoding="utf-8")  # one row: fewer samples
    with pytest.raises(UsageError, match="no longer hold the 4 samples"):
        run_study(small_config(corpus, tmp_path / "out", unique_samples=(1,)), echo=lambda line: None,
                  progress=False, force_new_data=True)
    assert not (tmp_path / "out" / "superseded").exists()
    with Store(tmp_path / "out") as store:
        assert len(store.records()) == 1


def test_a_growing_grid_is_not_a_data_change(corpus, tmp_path):
    quiet(small_config(corpus, tmp_path / "out", unique_samples=(1,)))
    assert quiet(small_config(corpus, tmp_path / "out", unique_samples=(1, 4))).trained == 1


@pytest.mark.slow
def test_the_offline_default_study_end_to_end(tmp_path):
    # The default's protocol at one seed and its two extreme D (all 21 runs take 3 minutes more of CI; seeds and D
    # are planned alike, and benchmarks/readme_replay.py runs the whole default as the README prints it).
    outcome = quiet(build_config(overrides={"output": str(tmp_path / "default"), "seeds": (1,), "unique_samples": (1, 100)}))
    assert outcome.trained == 2 and not outcome.failed
    assert any("+" in line and "D=1 (100 epochs)" in line for line in outcome.answer)
    assert any(line.startswith("Barely learned") and "before training" in line for line in outcome.answer)


def test_the_report_gives_each_cost_its_interval_and_says_what_the_numbers_are_read_against(corpus, tmp_path):
    config = small_config(corpus, tmp_path / "out", seeds=(1, 2, 3), unique_samples=(1, 2, 4))
    outcome = quiet(config)
    answer = "\n".join(outcome.answer)
    assert "(mean of 3 seeds)" in answer and "95% t-intervals of each cost over 3 seeds, paired by seed" in answer
    line = next(line for line in outcome.answer if line.startswith("D=1 ("))
    assert line.count("[") == 1 and "%, +" in line or "within the seed spread" in line
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "× the training budget; C counts training only" in summary
    assert f"validation data `{config.data.validation_data}`" in summary
    assert "## Laws of repeated data" in summary and "| fitted to | law |" in summary
    assert summary.count("leave-one-D-out rms") == 1 and "penalised" in summary
    assert "rectified fine-tuning law of Lin et al. (2024)" in summary and "needs 5 data sizes" in summary
    with Store(tmp_path / "out", create=False) as store:
        assert all(r.initial_val_loss is not None and r.initial_val_loss > 0 for r in store.records())


def test_plot_titles_are_wrapped_to_their_figure():
    from isoflop.report.plots import TITLE_WIDTH, fitted_title

    title = fitted_title("scratch:tiny on /a/very/long/local/path/" + "x" * 120 + "/train.txt: C=100 passes of 64 tokens")
    assert len(title.splitlines()) > 1 and all(len(line) <= TITLE_WIDTH for line in title.splitlines())


def test_a_study_of_one_d_says_there_is_nothing_to_compare(corpus, tmp_path):
    train, valid = corpus
    config = build_config(overrides=dict(train_data=str(train), validation_data=str(valid), tokenizer="bytes", seq_len=16,
                                         budget_passes=4, unique_samples=(2,), eval_samples=2, seeds=(1,),
                                         output=str(tmp_path / "out")))
    outcome = run_study(config, echo=lambda line: None, progress=False)
    assert len(outcome.answer) == 1 and outcome.answer[0].startswith("Nothing to compare yet: the study holds one D (D=2")


@pytest.mark.slow  # four short trainings of the calibration: the default tier stays under 3 minutes
def test_a_dry_run_estimates_the_wall_time_from_a_short_calibration_and_writes_nothing(corpus, tmp_path):
    train, valid = corpus
    config = build_config(overrides=dict(train_data=str(train), validation_data=str(valid), tokenizer="bytes", seq_len=16,
                                         budget_passes=40, unique_samples=(1, 4), eval_samples=2, seeds=(1,),
                                         output=str(tmp_path / "out")))
    line = dry_run(config, estimate=True)[-1]
    assert line.startswith("estimate: about ") and "calibrated by training 1 model shape(s) for 3 and 9 steps" in line
    assert "an estimate" in line and not (tmp_path / "out").exists()
