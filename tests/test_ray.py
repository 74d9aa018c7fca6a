"""The Ray executor on a real local Ray cluster: same records as in-process, a killed worker retried, a killed
driver resumed. Slow tier (each test starts Ray); skipped when the ray extra is not installed."""

import os
import signal
import subprocess
from pathlib import Path

import pytest
import torch

from isoflop import build_config, run_study
from isoflop.results.store import Store
from helpers import command, completed_runs, until

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


def settings(corpus, output, executor, **extra):
    train, valid = corpus
    return dict(train_data=str(train), validation_data=str(valid), tokenizer="bytes", model="scratch:tiny", seq_len=16,
                budget_passes=24, unique_samples=(1, 2, 3, 4), eval_samples=2, engine="fast", executor=executor, seeds=(1,),
                output=str(output)) | extra


def records(folder):
    with Store(folder) as store:
        return {r.key: r for r in store.records()}


def test_ray_gives_the_records_of_the_inprocess_executor(corpus, tmp_path):
    here = run_study(build_config(overrides=settings(corpus, tmp_path / "here", "inprocess")), echo=lambda _: None,
                     progress=False)
    # Tasks holding as many CPUs as this process has threads: the same reductions, so the same bits.
    threads = torch.get_num_threads()
    there = run_study(build_config(overrides=settings(corpus, tmp_path / "ray", "ray", ray_cpus_per_pack=threads)),
                      echo=lambda _: None, progress=False)
    assert (here.trained, there.trained) == (4, 4)
    local, remote = records(tmp_path / "here"), records(tmp_path / "ray")
    assert local.keys() == remote.keys()
    for key, record in local.items():
        assert remote[key].metrics == record.metrics  # every step's losses, bit for bit on the CPU
        assert remote[key].attempts == 1


def train_pack_processes() -> list[int]:
    """PIDs of Ray workers running a pack (Ray titles them after the task)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::_train_pack"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_worker_killed_mid_pack_is_retried_and_every_run_arrives_once(corpus, tmp_path):
    from isoflop.data.prepare import prepare_data
    from isoflop.config.engines import entry
    from isoflop.execution.ray_cluster import RayExecutor
    from isoflop.models.build import model_facts
    from isoflop.studies.runner import make_packs
    from isoflop.studies.scarcity import STUDY
    from isoflop.tokenization.resolve import load_tokenizer

    config = build_config(overrides=settings(corpus, tmp_path / "out", "ray", budget_passes=400, unique_samples=(1, 2)))
    tokenizer = load_tokenizer(config.tokenizer.tokenizer)
    plan = STUDY.plan(config, len(tokenizer), lambda spec: model_facts(spec, len(tokenizer)))
    data = prepare_data(config.data, tokenizer, plan.train_samples(), config.evaluation.eval_samples, STUDY.data_advice)
    engine = entry("fast").load()(config.engine)
    packs = make_packs(plan.runs, engine, data, None, None)
    killed = []

    def on_step(steps):
        if steps > 0 and not killed:  # the first progress report: packs are mid-way
            killed.append(train_pack_processes()[0])
            os.kill(killed[0], signal.SIGKILL)

    results = list(RayExecutor(config.execution).run(engine, packs, data, on_step))
    assert killed
    assert sorted(r.key for r in results) == sorted(run.spec.key for run in plan.runs)  # each run exactly once
    assert sorted(r.attempts for r in results) == [1, 2]
    assert all(r.status == "completed" and len(r.train_loss) == 400 for r in results)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the Ray task (one CPU) trained it
    try:
        alone = list(entry("fast").load()(config.engine).train(packs[0], data, lambda _: None))
    finally:
        torch.set_num_threads(threads)
    assert next(r for r in results if r.key == alone[0].key).train_loss == alone[0].train_loss


def test_a_killed_driver_resumes_and_recomputes_nothing_stored(corpus, tmp_path):
    values = settings(corpus, tmp_path / "out", "ray", budget_passes=200)
    driver = subprocess.Popen(command(values), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        until(lambda: completed_runs(tmp_path / "out"))
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=60)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the local Ray instance it started
    before = {key: record.finished for key, record in records(tmp_path / "out").items() if record.completed}
    outcome = run_study(build_config(overrides=values), echo=lambda _: None, progress=False)
    assert (outcome.trained, outcome.skipped) == (4 - len(before), len(before))
    after = records(tmp_path / "out")
    assert len(after) == 4 and all(r.completed for r in after.values())
    assert {key: after[key].finished for key in before} == before  # nothing stored was recomputed
