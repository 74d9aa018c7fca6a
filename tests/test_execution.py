"""Executors: the same study in this process and in worker processes gives the same runs."""

import pytest

from isoflop import build_config, run_study
from isoflop.results.store import Store


def study(corpus, output, **changes):
    train, valid = corpus
    values = dict(train_data=str(train), validation_data=str(valid), tokenizer="bytes", seq_len=16, budget_passes=6,
                  unique_samples=(1, 2, 3), eval_samples=2, engine="fast", seeds=(1,), output=str(output)) | changes
    return run_study(build_config(overrides=values), echo=lambda line: None, progress=False)


def losses(folder):
    with Store(folder) as store:
        return {r.key: [(m.train_loss, m.val_loss) for m in r.metrics] for r in store.records()}


@pytest.mark.slow
def test_worker_processes_give_the_runs_of_the_in_process_executor(corpus, tmp_path):
    here = study(corpus, tmp_path / "here")
    there = study(corpus, tmp_path / "there", executor="processes", workers=2)
    assert (here.trained, there.trained) == (3, 3)
    ours, theirs = losses(tmp_path / "here"), losses(tmp_path / "there")
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert [a for pair in ours[key] for a in pair if a is not None] == pytest.approx(
            [b for pair in theirs[key] for b in pair if b is not None], abs=1e-5)


def test_the_ray_executor_without_ray_installed_is_one_clear_line(monkeypatch):
    import sys

    from isoflop import UsageError
    from isoflop.execution.ray_cluster import _import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(UsageError, match=r"pip install 'isoflop\[ray\]'"):
        _import_ray()


def test_nothing_imports_ray_unless_asked():
    import subprocess
    import sys

    code = "import sys, isoflop.cli, isoflop.execution.base; print('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
