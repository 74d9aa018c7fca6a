"""Warmup-stable-decay: the schedule as the Trainer gives it, the stream order, and the isoFLOP study's trunks: every
budget's run of a size branches from one constant-rate trunk, with the numbers of a run trained alone."""

import dataclasses
import signal
import subprocess

import pytest

from conftest import engine, make_data, make_run, train, write_corpus
from helpers import assert_equivalent, command, completed_runs, until
from isoflop import UsageError, build_config, run_study
from isoflop.data.order import stream_order, stream_span, stream_unique
from isoflop.engines.base import Pack
from isoflop.results.store import Store
from isoflop.training.schedule import lr_factor
from isoflop.training.trunks import keep_furthest_states


@pytest.mark.parametrize("shape", ["1-sqrt", "linear"])
@pytest.mark.parametrize("steps, warmup, cooldown", [(20, 3, 4), (10, 0, 10), (7, 5, 4), (30, 2, 1)])
def test_the_wsd_schedule_is_the_trainers(steps, warmup, cooldown, shape):
    from transformers.optimization import _get_wsd_scheduler_lambda

    theirs = [_get_wsd_scheduler_lambda(step, num_warmup_steps=warmup, num_stable_steps=steps - warmup - cooldown,
                                        num_decay_steps=cooldown, warmup_type="linear", decay_type=shape,
                                        min_lr_ratio=0.0, num_cycles=0.5) for step in range(steps)]
    ours = [lr_factor(step, steps, warmup, "wsd", cooldown, shape) for step in range(steps)]
    assert ours == pytest.approx(theirs, abs=1e-15)


def test_cooldown_settings_belong_to_wsd_and_leave_other_keys_alone(tmp_path):
    with pytest.raises(UsageError, match="--cooldown-fraction applies to --schedule wsd only"):
        build_config(overrides={"cooldown_fraction": 0.3, "output": str(tmp_path)}, kind="scarcity")
    cosine = build_config(overrides={"output": str(tmp_path)}, kind="isoflops")
    assert not {"cooldown_fraction", "cooldown_shape"} & set(cosine.identity())  # cosine runs keep their keys
    wsd = build_config(overrides={"output": str(tmp_path)}, kind="isoflops", preset="wsd")
    assert (wsd.identity()["cooldown_fraction"], wsd.identity()["cooldown_shape"]) == (0.2, "1-sqrt")
    with pytest.raises(UsageError, match="give --warmup-steps N instead of --warmup-fraction"):
        build_config(overrides={"schedule": "wsd", "output": str(tmp_path)}, kind="isoflops")


def test_the_stream_is_one_order_per_seed_that_runs_read_a_prefix_of():
    long, short = stream_order(5000, 3), stream_order(1500, 3)
    assert long[:1500] == short and len(set(long)) == 5000 == stream_unique(5000)
    assert max(long) < stream_span(5000) <= 2 * 5000 and stream_span(100) == 1024
    capped = stream_order(5000, 3, pool=3000)
    assert capped[:2000] == stream_order(2000, 3, pool=3000) and set(capped) == set(range(3000))
    assert stream_order(1500, 4) != short


def wsd_run(key, steps, dropout=0.1, **settings):
    run = make_run(key, 8, 1, steps, dropout=dropout, eval_steps=tuple(sorted(set(range(3, steps + 1, 3)) | {steps})),
                   schedule="wsd", warmup_steps=2, cooldown_fraction=0.25, **settings)
    return dataclasses.replace(run, order="stream", pool=8, trunk="t")


@pytest.fixture
def data():
    from isoflop.tokenization.resolve import load_tokenizer

    return make_data(load_tokenizer("bytes"))  # a small vocabulary: these tests are about the steps, not the head


def test_fast_and_reference_agree_on_wsd_runs(data):
    runs = [dataclasses.replace(wsd_run(key, steps, dropout=0.0), trunk=None) for key, steps in (("a", 8), ("b", 12))]
    assert_equivalent(train(engine("reference"), runs, data)[0], train(engine("fast"), runs, data)[0])


@pytest.mark.slow  # the batched engine is checked against the reference in the default tier; wsd is one schedule more
def test_the_batched_engine_follows_the_wsd_schedule_as_the_fast_one_does(data):
    runs = [dataclasses.replace(wsd_run(key, 10, dropout=0.0), seed=seed, trunk=None) for key, seed in (("a", 1), ("b", 2))]
    assert_equivalent(train(engine("fast"), runs, data)[0], train(engine("batched"), runs, data)[0])


def branched(runs, data, folder):
    return {r.key: r for r in engine("fast").train(Pack(tuple(runs), trunk_dir=folder), data, lambda steps: None)}


def test_branched_runs_equal_runs_trained_alone_step_by_step(data, tmp_path):
    runs = [wsd_run("a", 12), wsd_run("b", 20), wsd_run("c", 30)]
    got = branched(runs, data, tmp_path)
    for run in runs:
        alone = train(engine("fast"), [dataclasses.replace(run, trunk=None)], data)[0][run.key]
        ours = got[run.key]
        assert ours.train_loss == alone.train_loss and ours.learning_rate == alone.learning_rate  # to the bit
        assert (ours.eval_steps, ours.val_loss, ours.initial_val_loss) == (alone.eval_steps, alone.val_loss,
                                                                             alone.initial_val_loss)
    # The trunk to the last branch step (22), and each run's cooldown: 22 + 3 + 5 + 8 of the 62 steps.
    assert [got[key].trained_steps for key in "abc"] == [12, 6 + 5, 7 + 8]
    assert sorted(path.name for path in (tmp_path / "t").iterdir()) == ["15.pt", "22.pt", "9.pt"]  # each branch point
    keep_furthest_states(tmp_path)  # as the study does when it ends
    assert [path.name for path in (tmp_path / "t").iterdir()] == ["22.pt"]


def test_a_trunk_resumes_from_its_last_branch_point_and_a_budget_added_later_goes_back(data, tmp_path):
    runs = [wsd_run("a", 12), wsd_run("b", 20), wsd_run("c", 30)]
    whole = branched(runs, data, tmp_path / "whole")
    pack = engine("fast").train(Pack(tuple(runs), trunk_dir=tmp_path / "cut"), data, lambda steps: None)
    next(pack)
    pack.close()  # stopped after its first result, as by a kill during the next run's trunk segment
    assert [path.name for path in (tmp_path / "cut" / "t").iterdir()] == ["9.pt"]
    resumed = branched(runs[1:], data, tmp_path / "cut")
    assert resumed["b"].trained_steps == 6 + 5  # from the saved branch point: nothing stored is computed again
    for key in "bc":
        assert resumed[key].train_loss == whole[key].train_loss and resumed[key].val_loss == whole[key].val_loss
    keep_furthest_states(tmp_path / "cut")
    middle = wsd_run("m", 16)  # branches at 12, before the one state kept (22): the trunk starts over
    alone = train(engine("fast"), [dataclasses.replace(middle, trunk=None)], data)[0]["m"]
    later = branched([middle], data, tmp_path / "cut")["m"]
    assert later.train_loss == alone.train_loss and later.trained_steps == 16


def test_a_trunk_that_diverges_fails_every_run_it_would_have_branched(data, tmp_path):
    runs = [wsd_run(key, steps, learning_rate=1e30) for key, steps in (("a", 12), ("b", 20))]
    results = branched(runs, data, tmp_path)
    assert all(r.status == "failed" and "at step" in r.error for r in results.values())


def test_a_trunk_state_of_other_data_is_never_resumed(data, tmp_path):
    runs = [wsd_run("a", 12), wsd_run("b", 20)]
    branched(runs, data, tmp_path)
    other = dataclasses.replace(data, train_chunks=[list(reversed(chunk)) for chunk in data.train_chunks])
    alone = train(engine("fast"), [dataclasses.replace(runs[1], trunk=None)], other)[0]["b"]
    again = branched(runs[1:], other, tmp_path)["b"]
    assert again.train_loss == alone.train_loss and again.trained_steps == 20


def wsd_study(corpus, output, **changes):
    train_file, valid = corpus
    return dict(train_data=str(train_file), validation_data=str(valid), budgets=(3e9, 6e9, 1e10), model_sizes=("25k",),
                seq_len=32, batch_size=4, eval_samples=4, evals_per_run=3, min_steps=5, bracket=0, fit_bootstrap=0,
                schedule="wsd", warmup_steps=2, output=str(output)) | changes


@pytest.fixture
def long_corpus(tmp_path):
    return write_corpus(tmp_path / "train.txt", 400), write_corpus(tmp_path / "valid.txt", 8)


def test_a_wsd_isoflop_study_counts_each_run_as_its_budget_and_reports_what_it_computed(long_corpus, tmp_path):
    outcome = run_study(build_config(overrides=wsd_study(long_corpus, tmp_path / "out"), kind="isoflops"),
                        echo=lambda line: None, progress=False)
    assert outcome.trained == 3 and not outcome.failed
    with Store(tmp_path / "out") as store:
        records = sorted(store.records(), key=lambda r: r.budget_flops)
    assert {(r.schedule, bool(r.annealed)) for r in records} == {("wsd", True)}
    for record in records:
        assert record.train_flops == pytest.approx(record.budget_flops, rel=0.02)  # the training it stands for
    assert records[0].trained_flops == records[0].train_flops and records[2].trained_flops < records[2].train_flops
    ratio = sum(r.trained_flops for r in records) / sum(r.train_flops for r in records)
    assert 0.55 < ratio < 0.7  # one trunk to 80 % of the longest run, three cooldowns of 20 %
    saving = next(line for line in outcome.answer if "were computed" in line)
    assert f"{ratio:.2f}×" in saving and f"({1 - ratio:.0%} saved)" in saving
    assert [path.name for path in (tmp_path / "out" / "trunks").iterdir()]  # kept for budgets added later


def test_approach_1_refuses_wsd_curves(long_corpus, tmp_path):
    from isoflop.fit.points import table_from_records
    from helpers import record

    run = record(kind="isoflops", schedule="wsd")
    with pytest.raises(UsageError, match="not annealed"):
        table_from_records([run], curves=True)
    with pytest.raises(UsageError, match="mix annealed and unannealed"):
        table_from_records([run, record(key="k2", kind="isoflops", annealed=False)])


@pytest.mark.slow
def test_sigkill_of_a_wsd_study_loses_at_most_the_segment_in_progress(long_corpus, tmp_path):
    killed = wsd_study(long_corpus, tmp_path / "killed", budgets=(3e9, 6e9, 1e10, 1.5e10))
    study = subprocess.Popen(command(killed, "isoflops"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    until(lambda: completed_runs(tmp_path / "killed"))  # one run stored, the trunk going on to the next
    study.send_signal(signal.SIGKILL)
    study.wait(timeout=60)
    kept = completed_runs(tmp_path / "killed")
    assert 1 <= kept < 4 and list((tmp_path / "killed" / "trunks").glob("*/*.pt"))
    outcome = run_study(build_config(overrides=killed, kind="isoflops"), echo=lambda line: None, progress=False)
    assert (outcome.trained, outcome.skipped) == (4 - kept, kept)
    whole = wsd_study(long_corpus, tmp_path / "whole", budgets=killed["budgets"])
    run_study(build_config(overrides=whole, kind="isoflops"), echo=lambda line: None, progress=False)

    def numbers(folder):
        with Store(folder) as store:
            return {r.key: (r.metrics, r.final_val_loss, r.trained_flops) for r in store.records()}

    # The same numbers, and the same FLOPs computed per run: the resumed trunk went on from its saved branch point.
    assert numbers(tmp_path / "killed") == numbers(tmp_path / "whole")
