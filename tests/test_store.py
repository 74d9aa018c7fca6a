"""The results store: typed records, the schema version, and the migration of isoflop 0.1's folders."""

import shutil
import sqlite3
from pathlib import Path

import pytest

from isoflop import UsageError, build_config, run_study
from isoflop.models.families import scratch_facts
from isoflop.models.specs import LADDER
from isoflop.results.migrations import SCHEMA_VERSION
from isoflop.results.records import StepMetric
from isoflop.results.store import Store
from isoflop.studies.isoflops import plan
from helpers import record

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_record_round_trips_typed(tmp_path):
    with Store(tmp_path) as store:
        store.ensure_study("s", "scarcity", {"study": "scarcity"})
        store.save(record())
        loaded = store.records()[0]
    assert loaded == record(finished=loaded.finished)
    assert loaded.evaluated() == [StepMetric(1, 3.0, 2.4, 1e-3)]


def test_a_failed_attempt_is_replaced_and_only_completed_runs_count(tmp_path):
    with Store(tmp_path) as store:
        store.ensure_study("s", "scarcity", {"study": "scarcity"})
        store.save(record(status="failed", error="nan at step 3"))
        assert store.completed_keys() == set()
        store.save(record())
        assert store.completed_keys() == {"k1"} and len(store.records()) == 1


def test_new_databases_carry_the_schema_version(tmp_path):
    Store(tmp_path).close()
    assert sqlite3.connect(tmp_path / "results.sqlite").execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_schema_1_folder_gains_attempts_and_keeps_its_runs(tmp_path):
    with Store(tmp_path) as store:
        store.ensure_study("s", "scarcity", {"study": "scarcity"})
        store.save(record(attempts=2))
    with sqlite3.connect(tmp_path / "results.sqlite") as connection:  # as isoflop wrote it before attempts
        connection.execute("ALTER TABLE runs DROP COLUMN attempts")
        connection.execute("ALTER TABLE runs DROP COLUMN initial_val_loss")
        drop_schema_5_columns(connection)
        connection.execute("ALTER TABLE studies ADD COLUMN data_fingerprint TEXT")
        connection.execute("PRAGMA user_version = 1")
    with Store(tmp_path) as store:
        assert store.notes == ["migrated results from schema 1 to 2: runs record their attempts",
                               "migrated results from schema 2 to 3: the unused studies.data_fingerprint column is gone",
                               SCHEMA_4_NOTE, SCHEMA_5_NOTE, SCHEMA_6_NOTE]
        assert store.completed_keys() == {"k1"} and store.records()[0].attempts == 1


SCHEMA_4_NOTE = ("migrated results from schema 3 to 4: runs record their validation loss before training "
                 "(not measured for the runs stored before)")
SCHEMA_5_NOTE = ("migrated results from schema 4 to 5: runs record their schedule, whether they were annealed, the FLOPs "
                 "they trained and the samples they drew from")
SCHEMA_5_COLUMNS = ("schedule", "annealed", "trained_flops", "data_span")
SCHEMA_6_NOTE = ("migrated results from schema 5 to 6: runs record their FLOPs per token in every convention (the runs "
                 "stored before: in the one they were counted in), their tokens per second and MFU")
SCHEMA_6_COLUMNS = ("flop_counts_json", "tokens_per_second", "mfu_json")


def drop_schema_5_columns(connection):
    for column in SCHEMA_5_COLUMNS + SCHEMA_6_COLUMNS:
        connection.execute(f"ALTER TABLE runs DROP COLUMN {column}")


def test_a_schema_5_folder_gains_its_flop_counts_and_speed_and_keeps_its_runs(tmp_path):
    with Store(tmp_path) as store:
        store.ensure_study("s", "scarcity", {"study": "scarcity"})
        store.save(record())
    with sqlite3.connect(tmp_path / "results.sqlite") as connection:  # as isoflop wrote it before flop_counts
        for column in SCHEMA_6_COLUMNS:
            connection.execute(f"ALTER TABLE runs DROP COLUMN {column}")
        connection.execute("PRAGMA user_version = 5")
    with Store(tmp_path) as store:
        assert store.notes == [SCHEMA_6_NOTE] and store.completed_keys() == {"k1"}
        (migrated,) = store.records()
    old = record()
    assert migrated.flop_counts == {old.flop_convention: old.flops_per_token} and migrated.mfu == {}
    assert migrated.tokens_per_second == pytest.approx(old.train_flops / old.flops_per_token / old.wall_seconds)


def test_a_schema_3_folder_gains_the_initial_loss_unmeasured_and_keeps_its_runs(tmp_path):
    with Store(tmp_path) as store:
        store.ensure_study("s", "scarcity", {"study": "scarcity"})
        store.save(record(initial_val_loss=10.5))
        assert store.records()[0].initial_val_loss == 10.5
    with sqlite3.connect(tmp_path / "results.sqlite") as connection:  # as isoflop wrote it before the initial loss
        connection.execute("ALTER TABLE runs DROP COLUMN initial_val_loss")
        drop_schema_5_columns(connection)
        connection.execute("PRAGMA user_version = 3")
    with Store(tmp_path) as store:
        assert store.notes == [SCHEMA_4_NOTE, SCHEMA_5_NOTE, SCHEMA_6_NOTE]
        assert store.completed_keys() == {"k1"} and store.records()[0].initial_val_loss is None


def test_a_schema_4_folder_gains_its_schedule_annealing_trained_flops_and_span_and_keeps_its_runs(tmp_path):
    with Store(tmp_path) as store:
        store.ensure_study("s", "scarcity", {"study": "scarcity"})
        store.save(record(config={"study": "scarcity", "seed": 1, "schedule": "cosine"}, unique_samples=3))
        store.save(record(key="k2", config={"study": "pretrain"}))
    with sqlite3.connect(tmp_path / "results.sqlite") as connection:  # as isoflop wrote it before wsd
        drop_schema_5_columns(connection)
        connection.execute("PRAGMA user_version = 4")
    with Store(tmp_path) as store:
        assert store.notes == [SCHEMA_5_NOTE, SCHEMA_6_NOTE]
        first, second = sorted(store.records(), key=lambda r: r.key)
        assert (first.schedule, first.annealed, first.trained_flops, first.data_span) == ("cosine", 1, 3000.0, 3)
        assert second.schedule == "" and second.data_span == 1 and store.completed_keys() == {"k1", "k2"}


def test_a_schema_2_folder_loses_the_unused_study_fingerprint_and_keeps_its_runs(tmp_path):
    shutil.copy(FIXTURES / "main-2b41461-scarcity.sqlite", tmp_path / "results.sqlite")
    with Store(tmp_path) as store:
        assert store.notes == ["migrated results from schema 2 to 3: the unused studies.data_fingerprint column is gone",
                               SCHEMA_4_NOTE, SCHEMA_5_NOTE, SCHEMA_6_NOTE]
        columns = [row[1] for row in store.connection.execute("PRAGMA table_info(studies)")]
        assert columns == ["key", "kind", "identity_json", "created"]
        assert len(store.completed_keys()) == 7 and all(len(r.data_fingerprint) == 16 for r in store.records())


def test_a_different_study_in_the_folder_is_refused_with_the_changes(tmp_path):
    with Store(tmp_path) as store:
        store.ensure_study("a", "scarcity", {"learning_rate": 1e-3})
        with pytest.raises(UsageError, match="learning_rate 0.001 -> 0.002"):
            store.ensure_study("b", "scarcity", {"learning_rate": 2e-3})


def test_reading_a_folder_without_results_is_refused(tmp_path):
    with pytest.raises(UsageError, match="holds no isoflop results"):
        Store(tmp_path / "none", create=False)


def test_an_isoflop_0_1_scarcity_folder_is_migrated_and_its_runs_are_not_retrained(tmp_path):
    """A real database written by isoflop 0.1 (`isoflop scarcity --budget-passes 2 --unique-samples 1,2 --eval-samples 1`)."""
    folder = tmp_path / "old"
    folder.mkdir()
    shutil.copy(FIXTURES / "v0-scarcity.sqlite", folder / "results.sqlite")
    notes = []
    # isoflop 0.1 trained with the reference engine (today's default is auto): name it to continue its runs.
    config = build_config(overrides={"budget_passes": 2, "unique_samples": (1, 2), "eval_samples": 1, "output": str(folder),
                                     "seeds": (1,),
                                     "engine": "reference"})
    from isoflop.studies.dry_run import dry_run

    # The dry run migrates a copy in memory: it sees both runs stored and leaves the schema-0 file untouched.
    before = (folder / "results.sqlite").read_bytes()
    assert "2 run(s) planned, 2 stored, 0 to train" in dry_run(config)[-1]
    assert (folder / "results.sqlite").read_bytes() == before and len(list(folder.iterdir())) == 1
    outcome = run_study(config, echo=notes.append, progress=False)
    assert (outcome.trained, outcome.skipped) == (0, 2)
    assert any("migrated results from schema 0" in note for note in notes)
    with Store(folder) as store:
        records = store.records()
    assert [r.grid for r in records] == [{"unique_samples": 1}, {"unique_samples": 2}]
    assert {r.flop_convention for r in records} == {"6N_total (isoflop 0.1)"}
    assert all(r.completed and len(r.metrics) == 2 for r in records)


def test_an_isoflop_0_1_isoflops_folder_is_rekeyed_to_the_plan(tmp_path):
    shutil.copy(FIXTURES / "v0-isoflops.sqlite", tmp_path / "results.sqlite")
    config = build_config(kind="isoflops", overrides=dict(
        budgets=(3e9,), model_sizes=("25k", "50k"), seq_len=32, batch_size=4, eval_samples=4, evals_per_run=3, min_steps=5,
        engine="reference", size_learning_rates={},  # isoflop 0.1 trained every size at --learning-rate
    ))
    planned = plan(config, 257, lambda spec: scratch_facts("gpt2", LADDER[spec.split(":")[1]], 257))
    with Store(tmp_path) as store:
        assert store.completed_keys() == {run.spec.key for run in planned.runs}
        assert {r.grid["size"] for r in store.records()} == {"25k", "50k"}


def test_a_refused_database_is_left_byte_for_byte_as_it_was(tmp_path):
    (tmp_path / "results.sqlite").write_bytes(b"SQLite format 3\x00" + bytes(200))  # a header, then nothing sound
    before = (tmp_path / "results.sqlite").read_bytes()
    with pytest.raises(UsageError, match="it was left untouched"):
        Store(tmp_path)
    assert (tmp_path / "results.sqlite").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.sqlite"]


def test_a_database_of_a_newer_isoflop_is_refused(tmp_path):
    with Store(tmp_path) as store:
        store.connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(UsageError, match=f"newer isoflop \\(results schema {SCHEMA_VERSION + 1}"):
        Store(tmp_path)


def test_a_long_list_of_changed_settings_is_cut_to_the_first_few(tmp_path):
    with Store(tmp_path) as store:
        store.ensure_study("a", "scarcity", {f"setting_{i}": i for i in range(17)})
        with pytest.raises(UsageError) as refused:
            store.ensure_study("b", "scarcity", {f"setting_{i}": -i for i in range(17)})
    assert "and 12 more" in str(refused.value) and len(str(refused.value)) < 300


def test_the_report_is_written_under_the_folder_lock(tmp_path, monkeypatch):
    from isoflop.lock import FolderLock
    from isoflop.studies import runner

    written = []

    def write_report(document, folder):
        with pytest.raises(UsageError, match="is in use by"):  # a second writer (--wait would queue) is kept out
            FolderLock(folder).__enter__()
        written.append(folder)
        return []

    monkeypatch.setattr("isoflop.report.write.write_report", write_report)
    train = tmp_path / "train.txt"
    train.write_text("".join(f"{i}: some words of text for a tiny corpus.\n" for i in range(40)))
    config = build_config(overrides=dict(train_data=str(train), validation_data=str(train), tokenizer="bytes", seq_len=16,
                                         budget_passes=2, unique_samples=(1,), eval_samples=1, seeds=(1,), output=str(tmp_path / "out")))
    runner.run_study(config, echo=lambda _: None, progress=False)
    assert written == [tmp_path / "out"]


def test_two_writers_of_one_file_never_share_a_temporary_file(tmp_path):
    from isoflop.files import atomic_target

    with atomic_target(tmp_path / "plot.svg") as first, atomic_target(tmp_path / "plot.svg") as second:
        assert first != second and first.suffix == second.suffix == ".svg"
        first.write_text("one")
        second.write_text("two")
    assert (tmp_path / "plot.svg").read_text() == "one"  # the last rename wins, whole
    assert [p.name for p in tmp_path.iterdir()] == ["plot.svg"]


@pytest.mark.parametrize("kind, planned, runs", [("scarcity", 21, 7), ("isoflops", 20, 20)])
def test_a_default_study_folder_written_before_the_config_parts_rework_is_all_stored(tmp_path, kind, planned, runs):
    # The default study of main at 2b41461 (per-step metrics dropped to keep the fixture small): the recipes'
    # parts, the new warmup and evaluation settings and engine declarations must leave every run key as it was.
    from isoflop.studies.dry_run import dry_run

    shutil.copy(FIXTURES / f"main-2b41461-{kind}.sqlite", tmp_path / "results.sqlite")
    lines = dry_run(build_config(kind=kind, overrides={"output": str(tmp_path)}))
    # The scarcity default now trains seeds 1, 2 and 3: the stored seed-1 runs keep their keys.
    assert f"{planned} run(s) planned, {runs} stored, {planned - runs} to train" in "\n".join(lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.sqlite"]  # read, never written


def test_every_record_names_the_cpu_that_computed_it():
    from isoflop.hardware import describe_cpu
    from isoflop.provenance import library_versions

    versions = library_versions()
    assert versions["cpu"] == describe_cpu() and "avx2" in versions["cpu"]
