"""Ctrl-C or SIGTERM on a command stops its worker processes and says so in one line."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from helpers import alive, children, until


@pytest.mark.slow
def test_sigterm_on_a_fit_stops_its_worker_processes(tmp_path):
    rng = np.random.default_rng(0)
    N, D = np.exp(rng.uniform(13, 23, 300)), np.exp(rng.uniform(18, 27, 300))
    loss = 1.7 + 400 / N**0.34 + 410 / D**0.28
    csv = tmp_path / "points.csv"
    csv.write_text("N,D,loss\n" + "".join(f"{n},{d},{l}\n" for n, d, l in zip(N, D, loss)))
    fit = subprocess.Popen([sys.executable, "-m", "isoflop", "fit", str(csv), "--approach", "3", "--bootstrap", "1000"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers = until(lambda: children(fit.pid))
    os.kill(fit.pid, signal.SIGTERM)
    _, stderr = fit.communicate(timeout=60)
    assert fit.returncode == 130
    # The progress bar (\r-redrawn, cleared on exit), then one line.
    assert stderr.strip().splitlines()[-1] == "interrupted: every finished run is stored; run the same command again to go on"
    assert "Traceback" not in stderr
    until(lambda: not any(alive(pid) for pid in workers))


def test_sigterm_on_a_study_with_worker_processes_stops_them_and_keeps_the_store(corpus, tmp_path):
    train, valid = corpus
    study = subprocess.Popen(
        [sys.executable, "-m", "isoflop", "scarcity", "--train-data", str(train), "--validation-data", str(valid),
         "--tokenizer", "bytes", "--seq-len", "16", "--budget-passes", "400", "--unique-samples", "1,2,3,4", "--seeds", "1",
         "--eval-samples", "2", "--engine", "fast", "--executor", "processes", "--workers", "2", "--quiet",
         "--output", str(tmp_path / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The two workers (no other helper process: they are plain interpreters, not a multiprocessing pool).
    def workers_started():
        found = children(study.pid)
        return found if len(found) >= 2 else None

    workers = until(workers_started)
    os.kill(study.pid, signal.SIGTERM)
    _, stderr = study.communicate(timeout=60)
    assert study.returncode == 130 and stderr.strip().splitlines()[-1].startswith("interrupted:")
    until(lambda: not any(alive(pid) for pid in workers))
    from isoflop.results.store import Store

    with Store(tmp_path / "out", create=False) as store:
        assert all(r.completed for r in store.records())
