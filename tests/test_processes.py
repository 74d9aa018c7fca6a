"""The worker-process executor survives its workers and never outlives its parent; the API works as users write it."""

import contextlib
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import run_cli, write_corpus
from isoflop import build_config, run_study
from isoflop.errors import UsageError
from isoflop.results.store import Store
from helpers import alive, children, command, completed_runs, until


def settings(corpus, output, executor="processes", **extra):
    train, valid = corpus
    return dict(train_data=str(train), validation_data=str(valid), tokenizer="bytes", seq_len=16, budget_passes=60, seeds=(1,),
                unique_samples=(1, 2, 3, 4), eval_samples=2, engine="fast", executor=executor, workers=2,
                checkpoint_seconds=0.0, output=str(output)) | extra


def workers_of(pid: int) -> list[int]:
    found = []
    for child in children(pid):
        try:
            if b"isoflop.execution.worker" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    found = children(pid)
    return found + [grandchild for child in found for grandchild in descendants(child)]


def numbers(folder) -> dict:
    with Store(folder) as store:
        return {r.label: (r.status, r.metrics, r.final_val_loss) for r in store.records()}


def attempts(folder) -> list[int]:
    with Store(folder) as store:
        return sorted(r.attempts for r in store.records())


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory):
    """The numbers of the same study trained in this process, nothing killed and no checkpoint written."""
    folder = tmp_path_factory.mktemp("undisturbed")
    corpus = write_corpus(folder / "train.txt", 20), write_corpus(folder / "valid.txt", 4)
    overrides = settings(corpus, folder / "out", "inprocess") | {"checkpoint_seconds": 60.0}
    del overrides["workers"]
    run_study(build_config(overrides=overrides), echo=lambda _: None, progress=False)
    return numbers(folder / "out")


def mid_run(folder) -> bool:
    return bool(list((folder / "checkpoints").glob("*.pt")))


@pytest.mark.slow
def test_a_worker_killed_mid_pack_is_replaced_and_every_run_is_stored_once_with_undisturbed_numbers(corpus, tmp_path,
                                                                                                  undisturbed):
    folder = tmp_path / "killed"
    study = subprocess.Popen(command(settings(corpus, folder)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    until(lambda: mid_run(folder) and len(workers_of(study.pid)) == 2)
    os.kill(workers_of(study.pid)[0], signal.SIGKILL)  # what the OOM killer does
    stdout, stderr = study.communicate(timeout=120)
    assert study.returncode == 0 and "Traceback" not in stderr, stderr
    assert "4 run(s) trained (4 completed, 0 failed)" in stdout
    assert numbers(folder) == undisturbed
    assert attempts(folder) == [1, 1, 1, 2]  # the killed pack was started again, once


def test_a_pack_whose_worker_keeps_dying_is_stored_as_failed_and_the_study_ends(corpus, tmp_path, monkeypatch):
    from isoflop.execution import processes

    monkeypatch.setattr(processes, "worker_command", lambda parent, fd: [
        sys.executable, "-c", "import sys, pickle; from multiprocessing.connection import Connection; "
        f"c = Connection({fd}); c.send(('ready',)); c.recv(); sys.exit('worker: killed mid-pack (simulated)')"])
    outcome = run_study(build_config(overrides=settings(corpus, tmp_path / "out", max_attempts=2)), echo=lambda _: None,
                        progress=False)
    assert outcome.trained == 4 and len(outcome.failed) == 4
    assert "its worker process died 2 times (last: exit code 1: worker: killed mid-pack (simulated))" in outcome.failed[0]
    assert attempts(tmp_path / "out") == [2, 2, 2, 2]


def test_a_worker_that_cannot_start_stops_the_study_with_its_own_error_line(corpus, tmp_path, monkeypatch, capsys):
    from isoflop.execution import processes

    monkeypatch.setattr(processes, "worker_command", lambda parent, fd: [
        sys.executable, "-c", "import sys; sys.exit('ImportError: no module named torch (simulated)')"])
    args = command(settings(corpus, tmp_path / "out"))[3:]
    code, _, stderr = run_cli(capsys, *args)
    assert code == 2
    assert stderr.strip().splitlines() == [
        "error: a worker process could not start (exit code 1: ImportError: no module named torch (simulated)); run "
        "the study with --executor inprocess to see the error in this process"]


@pytest.mark.slow  # test_interrupt's SIGTERM test and the dying-worker tests here keep worker clean-up in the default tier
def test_sigkill_of_the_parent_leaves_no_worker_alive(corpus, tmp_path):
    study = subprocess.Popen(command(settings(corpus, tmp_path / "out")), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    workers = until(lambda: (found := workers_of(study.pid)) and len(found) == 2 and found)
    os.kill(study.pid, signal.SIGKILL)
    study.wait(timeout=10)
    until(lambda: not any(alive(pid) for pid in workers), seconds=10)


SCRIPT = """
from isoflop import build_config, run_study
from isoflop.errors import UsageError

config = build_config(overrides={settings!r})
outcome = run_study(config, progress=False)
print("trained", outcome.trained)
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", ["script", "stdin"])
def test_run_study_works_from_a_plain_script_without_a_main_guard_and_from_stdin(corpus, tmp_path, how):
    text = textwrap.dedent(SCRIPT).format(settings=settings(corpus, tmp_path / "out", budget_passes=24))
    script = tmp_path / "study.py"
    script.write_text(text)
    args, stdin = ([sys.executable, str(script)], None) if how == "script" else ([sys.executable, "-"], text)
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "trained 4"
    assert completed_runs(tmp_path / "out") == 4


# A worker and the study itself, each killed mid-run after 2 stored runs: two studies of ~19 s (all six (target,
# 0, 1 or 2) took 98 s of CI's 15 minutes; the middle moment exercised nothing the others do not, the parent killed
# before any run is stored resumes as one killed after two does, and a worker killed mid-run before any run is stored
# is the test above, which also counts the pack's attempts).
CASES = [("worker", 2), ("parent", 2)]


@pytest.mark.slow
def test_fault_injection_kill_a_random_worker_or_the_parent_at_a_random_moment(corpus, tmp_path, undisturbed):
    """Each case kills its target mid-run after its number of stored runs; which worker dies is seeded."""
    killed = 0
    for case, (target, stored) in enumerate(CASES):
        rng = random.Random(case)
        folder = tmp_path / f"case-{case}"
        study = subprocess.Popen(command(settings(corpus, folder)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        until(lambda: (completed_runs(folder) >= stored and mid_run(folder) and workers_of(study.pid))
              or study.poll() is not None, seconds=120)
        everything = [study.pid, *descendants(study.pid)]
        victim = None
        if study.poll() is None and (workers := workers_of(study.pid)):
            victim = rng.choice(workers) if target == "worker" else study.pid
            with contextlib.suppress(ProcessLookupError):  # it may have ended this instant
                os.kill(victim, signal.SIGKILL)
                killed += 1
        _, stderr = study.communicate(timeout=120)
        assert "Traceback" not in stderr, (case, stderr)
        if victim == study.pid:
            until(lambda: not any(alive(pid) for pid in everything), seconds=10)
            again = subprocess.run(command(settings(corpus, folder)), capture_output=True, text=True, timeout=120)
            assert again.returncode == 0 and "Traceback" not in again.stderr, (case, again.stderr)
        else:
            assert study.returncode == 0, (case, stderr)
        assert numbers(folder) == undisturbed, case  # every run once, with the numbers of an undisturbed study
        assert not any(alive(pid) for pid in everything if pid != victim), case
    assert killed >= len(CASES) - 1, f"only {killed} of {len(CASES)} cases reached their moment before the study ended"


@pytest.mark.slow  # two studies in worker processes: the default tier keeps the exit-before-ready case above
def test_a_worker_killed_while_starting_is_replaced_and_the_study_finishes(corpus, tmp_path, monkeypatch):
    """The first worker kills itself with SIGKILL before it is ready (as an out-of-memory kill while importing torch
    would): it is a fault to retry, not a broken environment; max_attempts such deaths in a row end the study."""
    from isoflop.execution import processes

    marker = tmp_path / "killed-once"
    real = processes.worker_command

    def command_of(parent, fd):
        return [sys.executable, "-c", f"import os, pathlib, signal, sys; m = pathlib.Path({str(marker)!r})\n"
                "if not m.exists():\n    m.touch(); os.kill(os.getpid(), signal.SIGKILL)\n"
                f"os.execv(sys.executable, {real(parent, fd)!r})"]

    monkeypatch.setattr(processes, "worker_command", command_of)
    outcome = run_study(build_config(overrides=settings(corpus, tmp_path / "out")), echo=lambda _: None, progress=False)
    assert marker.exists() and outcome.trained == 4 and not outcome.failed
    monkeypatch.setattr(processes, "worker_command", lambda parent, fd: [
        sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
    with pytest.raises(UsageError, match="worker processes in a row were killed while starting"):
        run_study(build_config(overrides=settings(corpus, tmp_path / "again", max_attempts=2)), echo=lambda _: None,
                  progress=False)
