"""Finished runs written where they trained are stored exactly once; the status of a folder's runs (no SLURM
needed: the queue is given)."""

from __future__ import annotations

import dataclasses

import pytest

from conftest import run_cli
from helpers import record
from isoflop.execution import slurm_queue
from isoflop.execution.inbox import Inbox
from isoflop.execution.slurm_files import SLURM_FOLDER, Ledger, log_path
from isoflop.execution.status import folder_status
from isoflop.results.store import Store


def stored(folder) -> list:
    with Store(folder) as store:
        return store.records()


def opened(folder) -> Store:
    """The folder's store, holding the study the test records belong to."""
    store = Store(folder)
    store.ensure_study("s", "scarcity", {"study": "scarcity"})
    return store


def test_a_finished_run_is_stored_once_however_often_the_merge_runs(tmp_path):
    inbox = Inbox(tmp_path)
    inbox.put(record("a"))
    with opened(tmp_path) as store:
        assert [r.key for r in inbox.merge_into(store)] == ["a"]
        assert inbox.merge_into(store) == []
    assert [r.key for r in stored(tmp_path)] == ["a"] and stored(tmp_path)[0].metrics == record("a").metrics
    assert inbox.finished("a") and inbox.waiting() == []


def test_a_merge_killed_between_storing_and_marking_stores_nothing_twice(tmp_path):
    inbox = Inbox(tmp_path)
    path = inbox.put(record("a"))
    with opened(tmp_path) as store:
        store.save(inbox.read(path))  # stored; killed before the file gave way to its mark
        assert inbox.merge_into(store) == []
    assert len(stored(tmp_path)) == 1 and not path.exists() and inbox.finished("a")


def test_a_retried_run_replaces_its_failure_and_never_a_completed_run(tmp_path):
    inbox = Inbox(tmp_path)
    with opened(tmp_path) as store:
        store.save(record("a", status="failed", error="lost", final_val_loss=None))
        store.save(record("b"))
    inbox.put(record("a"))
    inbox.put(record("b", status="failed", error="late copy"))
    with opened(tmp_path) as store:
        assert [r.key for r in inbox.merge_into(store)] == ["a"]
    assert {r.key: r.status for r in stored(tmp_path)} == {"a": "completed", "b": "completed"}


def test_a_run_to_train_again_loses_its_mark(tmp_path):
    inbox = Inbox(tmp_path)
    inbox.put(record("a"))
    with opened(tmp_path) as store:
        inbox.merge_into(store)
    inbox.forget("a")
    assert not inbox.finished("a")


def test_a_resubmitted_run_leaves_its_old_entry_and_carries_its_count(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.submitted("p1", "7_0", {"a": "A", "b": "B"})
    ledger.submitted("p2", "9_0", {"b": "B"})
    ledger.save()
    again = Ledger(tmp_path)
    assert again.job_of("a") == "7_0" and again.job_of("b") == "9_0"
    assert again.packs["p2"]["submissions"] == 2 and list(again.packs["p1"]["runs"]) == ["a"]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A folder with one stored run, one running, one pending, one finished-not-stored and one lost."""
    with opened(tmp_path) as store:
        store.save(record("done", label="D=1 seed=1"))
    ledger = Ledger(tmp_path)
    for key, job in (("done", "5_0"), ("run", "5_1"), ("wait", "5_2"), ("new", "5_3"), ("lost", "5_4")):
        ledger.submitted(f"p-{key}", job, {key: f"run {key}"})
    ledger.save()
    Inbox(tmp_path).put(record("new", label="run new"))
    log_path(tmp_path, "5_4").parent.mkdir(parents=True)
    log_path(tmp_path, "5_4").write_text("Traceback\nMemoryError: out of memory\nsrun: error: task 0: Exited\n")
    monkeypatch.setattr(slurm_queue, "queued", lambda: {"5_1": "RUNNING", "5_2": "PENDING", "6_0": "RUNNING"})
    return tmp_path


def test_status_names_where_each_run_stands_and_stores_what_finished(folder):
    found = folder_status(folder)
    states = {run.label: (run.state, run.job) for run in found.runs}
    assert states == {"D=1 seed=1": ("stored", "5_0"), "run new": ("stored", "5_3"), "run run": ("running", "5_1"),
                      "run wait": ("pending", "5_2"), "run lost": ("failed", "5_4")}
    lost = next(run for run in found.runs if run.label == "run lost")
    assert "MemoryError: out of memory" in lost.detail and found.merged == 1
    assert {r.key for r in stored(folder)} == {"done", "new"}


def test_status_prints_one_line_per_run_and_a_summary(folder, capsys):
    code, text, _ = run_cli(capsys, "status", str(folder))
    assert code == 0
    assert "5 run(s): 1 failed, 1 pending, 1 running, 2 stored" in text and "stored 1 run(s) that had finished" in text


def test_status_of_a_folder_without_a_study_is_one_line(tmp_path, capsys):
    code, _, err = run_cli(capsys, "status", str(tmp_path / "nothing"))
    assert code == 2 and "holds no isoflop study" in err
    assert not (tmp_path / "nothing").exists() and not (tmp_path / SLURM_FOLDER).exists()


def test_a_record_survives_its_file(tmp_path):
    original = dataclasses.replace(record("a"), grid={"unique_samples": 3}, config={"nested": {"x": [1, 2]}})
    assert Inbox.read(Inbox(tmp_path).put(original)) == original
