import json

import pytest

from conftest import write_corpus
from isoflop import UsageError, build_config, run_study
from isoflop.engines import ReferenceEngine
from isoflop.store import Store


def small_config(corpus, output, **changes):
    train, valid = corpus
    settings = dict(
        model="scratch:tiny",
        train_data=str(train),
        validation_data=str(valid),
        seq_len=16,
        budget_passes=4,
        unique_samples=(1, 2, 4),
        eval_samples=2,
        output=str(output),
    )
    settings.update(changes)
    return build_config(overrides=settings)


class InterruptedEngine(ReferenceEngine):
    """Dies (like Ctrl-C or a kill) right after its first run has been handed over."""

    def train(self, setup, runs, on_step):
        results = super().train(setup, runs, on_step)
        yield next(results)
        raise KeyboardInterrupt


def quiet(config, engine=None):
    return run_study(config, engine=engine, echo=lambda line: None, progress=False)


def test_study_writes_runs_plots_and_summary(corpus, tmp_path):
    outcome = quiet(small_config(corpus, tmp_path / "out", seeds=(1, 2)))
    assert (outcome.trained, outcome.skipped, outcome.failed) == (6, 0, [])
    for name in ("summary.md", "loss_vs_unique_samples.png", "loss_vs_unique_samples.svg", "validation_curves.png"):
        assert (tmp_path / "out" / name).exists()
    with Store(tmp_path / "out", create=False) as store:
        runs = store.runs()
    assert len(runs) == 6 and all(len(r["metrics"]) == 4 for r in runs)
    run = runs[0]
    assert json.loads(run["config_json"])["unique_samples"] == run["unique_samples"]
    assert "torch" in json.loads(run["versions_json"])
    assert run["epochs"] == 4.0 and run["data_fingerprint"]
    assert len({r["key"] for r in runs}) == 6
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "D=1 (4 epochs)" in summary and "[" in summary  # per-D numbers with the seed spread


def test_interrupted_study_resumes_with_only_the_missing_runs(corpus, tmp_path):
    config = small_config(corpus, tmp_path / "out")
    with pytest.raises(KeyboardInterrupt):
        quiet(config, engine=InterruptedEngine())
    with Store(tmp_path / "out", create=False) as store:
        assert len(store.completed_keys()) == 1
    outcome = quiet(config)
    assert (outcome.trained, outcome.skipped) == (2, 1)
    assert quiet(config).trained == 0


def test_same_config_same_seed_same_numbers_in_a_new_folder(corpus, tmp_path):
    first = quiet(small_config(corpus, tmp_path / "a", unique_samples=(2,)))
    second = quiet(small_config(corpus, tmp_path / "b", unique_samples=(2,)))
    with Store(first.folder) as a, Store(second.folder) as b:
        assert a.runs()[0]["metrics"] == b.runs()[0]["metrics"]
        assert a.runs()[0]["key"] == b.runs()[0]["key"]


def test_grid_change_adds_runs_but_other_changes_are_refused(corpus, tmp_path):
    quiet(small_config(corpus, tmp_path / "out", unique_samples=(1,)))
    assert quiet(small_config(corpus, tmp_path / "out", unique_samples=(1, 2))).trained == 1
    with pytest.raises(UsageError, match="different scarcity study.*learning_rate"):
        quiet(small_config(corpus, tmp_path / "out", learning_rate=5e-4))
    with Store(tmp_path / "out") as store:
        assert len(store.runs()) == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"unique_samples": (1, 5000)}, "D=5000 is larger than the"),
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
    ],
)
def test_bad_input_is_refused_before_anything_is_written(corpus, tmp_path, changes, message):
    with pytest.raises(UsageError, match=message):
        quiet(small_config(corpus, tmp_path / "out", **changes))
    assert not (tmp_path / "out").exists()


def test_empty_training_file_is_refused(corpus, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(UsageError, match="is empty"):
        quiet(small_config((empty, corpus[1]), tmp_path / "out"))


def test_unknown_preset_and_unknown_setting(tmp_path):
    with pytest.raises(UsageError, match="unknown preset"):
        build_config(preset="nope")
    config_file = tmp_path / "study.yaml"
    config_file.write_text("learning_rat: 0.1\n", encoding="utf-8")
    with pytest.raises(UsageError, match="learning_rat: unknown setting"):
        build_config(config_file=config_file)


def test_config_file_then_cli_overrides(tmp_path):
    toml = tmp_path / "study.toml"
    toml.write_text('preset = "classic"\nseeds = [3, 4]\nlearning_rate = 2e-4\n', encoding="utf-8")
    config = build_config(config_file=toml, overrides={"learning_rate": 3e-4})
    assert config.model == "distilgpt2" and config.seeds == (3, 4) and config.learning_rate == 3e-4


def test_classic_preset_is_the_exact_protocol():
    config = build_config(preset="classic")
    assert (config.model, config.train_data) == ("distilgpt2", "hub:wikitext:wikitext-2-v1")
    assert (config.seq_len, config.budget_passes, config.batch_size, config.learning_rate, config.eval_samples) == (
        64, 100, 1, 1e-4, 10,
    )
    assert config.unique_samples == (1, 2, 5, 10, 20, 50, 100)


def test_pretrained_local_checkpoint_study(corpus, tmp_path, pretrained_folder):
    outcome = quiet(small_config(corpus, tmp_path / "out", model=str(pretrained_folder), unique_samples=(2,)))
    assert outcome.trained == 1 and not outcome.failed


def test_failed_run_is_recorded_and_the_study_goes_on(corpus, tmp_path):
    outcome = quiet(small_config(corpus, tmp_path / "out", learning_rate=1e30, unique_samples=(1, 2)))
    assert len(outcome.failed) == 2
    with Store(tmp_path / "out") as store:
        assert {r["status"] for r in store.runs()} == {"failed"}
    assert "Failed runs" in (tmp_path / "out" / "summary.md").read_text()


def test_packed_chunking_runs(tmp_path):
    rows = write_corpus(tmp_path / "t.txt", 6, words_per_row=1), write_corpus(tmp_path / "v.txt", 4, words_per_row=1)
    outcome = quiet(small_config(rows, tmp_path / "out", chunking="packed", seq_len=32, unique_samples=(2,)))
    assert outcome.trained == 1


def test_batched_engine_study_records_its_engine_and_saves_models(corpus, tmp_path):
    outcome = quiet(small_config(corpus, tmp_path / "out", engine="batched", save_models=True))
    assert outcome.trained == 3 and not outcome.failed
    with Store(tmp_path / "out") as store:
        runs = store.runs()
    assert {(r["engine"], r["precision"]) for r in runs} == {("batched", "fp32")}
    assert all((tmp_path / "out" / "models" / r["key"] / "config.json").exists() for r in runs)
