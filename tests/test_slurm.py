"""The slurm executor against a real one-node SLURM (``slurm_cluster``): arrays give the in-process numbers,
preempted and cancelled tasks resume from their checkpoints, nothing is lost or trained twice when the driver
dies, detach and status, bounded retries, and one line for bad settings. Skipped with the reason where SLURM
is not installed; CI sets ISOFLOP_REQUIRE_SLURM=1, so there a missing SLURM fails instead."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

import slurm_cluster
from conftest import run_cli, write_corpus
from helpers import command, until
from isoflop import build_config, run_study
from isoflop.errors import UsageError
from isoflop.execution.slurm_files import LEDGER, PACKS, SLURM_FOLDER
from isoflop.results.store import Store

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    reason = slurm_cluster.missing()
    if reason:
        if os.environ.get("ISOFLOP_REQUIRE_SLURM") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    running = slurm_cluster.start(tmp_path_factory.mktemp("slurm"))
    before = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = running.env["SLURM_CONF"]
    try:
        yield running
    finally:
        if before is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = before
        running.stop()


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "train.txt", 20), write_corpus(tmp_path / "valid.txt", 4)


def settings(corpus, output, executor="slurm", **extra) -> dict:
    train, valid = corpus
    values = dict(train_data=str(train), validation_data=str(valid), tokenizer="bytes", seq_len=16, budget_passes=60,
                  seeds=(1,), unique_samples=(1, 2, 3, 4), eval_samples=2, engine="fast", executor=executor,
                  checkpoint_seconds=0.0, output=str(output))
    if executor == "slurm":
        values["slurm_poll_seconds"] = 0.2
    return values | extra


def study(overrides: dict, **options):
    return run_study(build_config(None, None, overrides, kind="scarcity"), echo=lambda line: None, progress=False,
                     **options)


def numbers(folder) -> dict:
    with Store(folder) as store:
        return {r.label: (r.status, r.metrics, r.final_val_loss) for r in store.records()}


def ledger(folder) -> dict:
    return json.loads((Path(folder) / SLURM_FOLDER / LEDGER).read_text())["packs"]


def queue_state(cluster, job: str) -> str:
    lines = cluster.run("squeue", "-h", "-r", "-o", "%i|%T").splitlines()
    return dict(line.split("|") for line in lines).get(job, "")


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory):
    """The numbers of the long study below trained in this process."""
    folder = tmp_path_factory.mktemp("undisturbed")
    corpus = write_corpus(folder / "train.txt", 20), write_corpus(folder / "valid.txt", 4)
    study(settings(corpus, folder / "out", "inprocess", budget_passes=400, unique_samples=(2, 4)))
    return numbers(folder / "out")


@pytest.mark.slow
def test_a_warned_task_requeues_itself_and_a_cancelled_one_is_resubmitted_both_resume(cluster, corpus, tmp_path,
                                                                                       undisturbed):
    out = tmp_path / "out"
    values = settings(corpus, out, budget_passes=400, unique_samples=(2, 4))
    study(values | {"detach": True})
    until(lambda: len(list((out / "checkpoints").glob("*.pt"))) == 2, 120)  # both tasks are past their first steps
    warned, cancelled = sorted(entry["job"] for entry in ledger(out).values())
    cluster.run("scancel", "--signal=USR2", warned)  # SLURM's warning before a time limit or a preemption
    cluster.run("scancel", cancelled)
    until(lambda: queue_state(cluster, warned) == "PENDING", 60)  # requeued by itself, under the same job id
    cluster.run("scontrol", "update", f"JobId={warned}", "StartTime=now")  # skip SLURM's requeue delay
    outcome = study(values)
    assert not outcome.failed and outcome.skipped + outcome.trained == 2
    assert numbers(out) == undisturbed
    with Store(out) as store:
        assert sorted(r.attempts for r in store.records()) == [2, 2]  # each pack started twice
    assert not (out / SLURM_FOLDER / PACKS).exists()  # what the tasks read is gone once every run is stored


@pytest.mark.slow
def test_a_killed_driver_loses_nothing_and_status_and_a_rerun_submit_nothing_twice(cluster, corpus, tmp_path,
                                                                                    capsys):
    out = tmp_path / "out"
    values = settings(corpus, out)
    driver = subprocess.Popen(command(values), env=os.environ | {"SLURM_CONF": cluster.env["SLURM_CONF"]},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    until(lambda: (out / SLURM_FOLDER / LEDGER).exists(), 120)
    driver.send_signal(signal.SIGKILL)
    driver.wait()

    def settled():
        code, text, _ = run_cli(capsys, "status", str(out))
        assert code == 0
        return not any(state in text for state in ("pending", "running", "finished")) and text

    final = until(settled, 180)
    assert "4 run(s): 4 stored" in final
    outcome = study(values)
    assert outcome.trained == 0 and outcome.skipped == 4
    assert all(entry["submissions"] == 1 for entry in ledger(out).values())
    assert len({entry["job"] for entry in ledger(out).values()}) == 4


@pytest.mark.slow
def test_detach_returns_at_once_and_status_follows_to_the_report(cluster, corpus, tmp_path, capsys):
    out = tmp_path / "out"
    args = [*command(settings(corpus, out))[3:], "--detach"]
    code, text, _ = run_cli(capsys, *args)
    assert code == 0 and "submitted 4 run(s) as SLURM job array(s)" in text
    assert not (out / "report.html").exists()
    code, text, _ = run_cli(capsys, *args)  # again while they are queued: nothing submitted twice
    assert code == 0 and "submitted 0 run(s)" in text and "4 were queued already" in text
    until(lambda: "4 run(s): 4 stored" in run_cli(capsys, "status", str(out))[1], 180)
    code, text, _ = run_cli(capsys, *args)
    assert code == 0 and "0 run(s) trained" in text and (out / "report.html").exists()
    study(settings(corpus, tmp_path / "here", "inprocess"))
    assert numbers(out) == numbers(tmp_path / "here")  # an array of packs gives the numbers of this process
    jobs = [entry["job"] for entry in ledger(out).values()]
    assert len(jobs) == 4 and len({job.split("_")[0] for job in jobs}) == 1  # one array, a task per pack


@pytest.mark.slow
def test_a_task_that_always_fails_is_stored_failed_after_max_attempts(cluster, corpus, tmp_path, monkeypatch):
    from slurm_cluster import FailingEngine

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))  # tasks import it
    values = settings(corpus, tmp_path / "out", unique_samples=(1, 2), max_attempts=2)
    config = build_config(None, None, values, kind="scarcity")
    outcome = run_study(config, echo=lambda line: None, progress=False, engine=FailingEngine(config.engine))
    assert len(outcome.failed) == 2
    assert all("ended without its results 2 time(s)" in line and "RuntimeError: this engine always fails" in line
               for line in outcome.failed)
    assert all(entry["submissions"] == 2 for entry in ledger(tmp_path / "out").values()) or not ledger(tmp_path / "out")


def test_no_such_partition_is_one_line_before_anything_is_submitted(cluster, corpus, tmp_path):
    with pytest.raises(UsageError, match="SLURM has no partition 'gpu' .*debug.*fix --slurm-partition"):
        study(settings(corpus, tmp_path / "out", slurm_partition="gpu"))
    assert not (tmp_path / "out").exists()


def test_slurm_not_installed_is_one_line(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(UsageError, match="SLURM is not installed here .*sbatch.* choose another --executor"):
        study(settings(corpus, tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_a_time_limit_without_room_for_a_checkpoint_is_refused(corpus, tmp_path, capsys):
    args = command(settings(corpus, tmp_path / "out", checkpoint_seconds=600.0, slurm_time="10"))[3:]
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and "--slurm-time 10 (600 s) leaves no room for a checkpoint every 600 s" in err
    assert not (tmp_path / "out").exists()


def test_slurm_settings_without_the_slurm_executor_are_refused(corpus, tmp_path, capsys):
    code, _, err = run_cli(capsys, *command(settings(corpus, tmp_path / "out", "inprocess", slurm_time="2:00:00"))[3:])
    assert code == 2 and "--slurm-time applies to --executor slurm only" in err


def test_dry_run_prints_the_array_it_would_submit(corpus, tmp_path, capsys):
    args = command(settings(corpus, tmp_path / "out", slurm_partition="gpu", slurm_sbatch=("mail-type=END",)))[3:]
    code, text, _ = run_cli(capsys, *args, "--dry-run")
    assert code == 0 and not (tmp_path / "out").exists()
    for line in ("#SBATCH --array=0-3%4", "#SBATCH --partition=gpu", "#SBATCH --signal=USR2@120", "#SBATCH --requeue",
                 "#SBATCH --time=60", "#SBATCH --mail-type=END"):
        assert line in text
