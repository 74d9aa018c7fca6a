"""SIGKILL of a running study, for each engine: what was stored stays, and the study resumes to the same numbers."""

import signal
import subprocess

import pytest

from isoflop import build_config, run_study
from isoflop.results.store import Store
from helpers import command, completed_runs, until


def settings(corpus, output, engine):
    train, valid = corpus
    return dict(train_data=str(train), validation_data=str(valid), tokenizer="bytes", seq_len=16, budget_passes=24, unique_samples=(1, 2, 3, 4),
                eval_samples=2, dropout=0.1, engine=engine, seeds=(1,), output=str(output)) | (
                {} if engine == "reference" else {"checkpoint_seconds": 0.0})  # the Trainer's runs do not checkpoint


def metrics(folder):
    with Store(folder) as store:
        return {r.key: (r.metrics, r.final_val_loss) for r in store.records()}


@pytest.mark.slow  # the default tier has the pack checkpoint's resume (test_batched_engine) and the executor's kills
@pytest.mark.parametrize("engine", ["reference", "batched"])  # a study with an axis: test_axes.py
def test_sigkill_loses_at_most_the_work_in_progress_and_resumes_to_the_same_numbers(corpus, tmp_path, engine):
    killed = settings(corpus, tmp_path / "killed", engine)
    study = subprocess.Popen(command(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if engine == "reference":
        stored = until(lambda: completed_runs(tmp_path / "killed"))  # one run written, the next in progress
    else:
        stored = 0
        until(lambda: list((tmp_path / "killed" / "checkpoints").glob("*.pt")))  # the pack has checkpointed
    study.send_signal(signal.SIGKILL)
    study.wait(timeout=60)
    assert completed_runs(tmp_path / "killed") >= stored

    kept = completed_runs(tmp_path / "killed")
    outcome = run_study(build_config(overrides=killed), echo=lambda line: None, progress=False)
    assert (outcome.trained, outcome.skipped) == (4 - kept, kept)  # nothing stored is trained again
    assert not (tmp_path / "killed" / "checkpoints").exists()

    whole = run_study(build_config(overrides=settings(corpus, tmp_path / "whole", engine)), echo=lambda line: None,
                      progress=False)
    assert whole.trained == 4
    assert metrics(tmp_path / "killed") == metrics(tmp_path / "whole")
