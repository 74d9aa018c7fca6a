"""--report-to for studies: TensorBoard for real (its event files read back), MLflow for real where it is installed, a
missing package refused."""

import importlib.util
import os

import pytest

from isoflop import build_config, run_study
from isoflop.results.store import Store
from isoflop.trackers import folder_name
from test_bad_input import run


def study(corpus, output, **changes):
    train, valid = corpus
    settings = dict(train_data=str(train), validation_data=str(valid), tokenizer="bytes", seq_len=16, budget_passes=6,
                    unique_samples=(1, 3), eval_samples=2, seeds=(1,), executor="inprocess", output=str(output),
                    report_to=("tensorboard",), evals_per_run=3, fit_bootstrap=20) | changes
    return build_config(overrides=settings)


def test_every_stored_run_is_in_tensorboard_under_its_label_with_its_config(corpus, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    said = []
    run_study(study(corpus, tmp_path / "out"), echo=said.append, progress=False)
    board = tmp_path / "out" / "tensorboard"
    assert f"tensorboard: each run under {board}/ (look with: tensorboard --logdir {board})" in said
    with Store(tmp_path / "out", create=False) as store:
        records = store.records()
    assert sorted(p.name for p in (tmp_path / "out" / "tensorboard").iterdir()) == ["D=1_seed=1", "D=3_seed=1"]
    for record in records:
        events = EventAccumulator(str(tmp_path / "out" / "tensorboard" / folder_name(record.label)),
                                  size_guidance={"scalars": 0, "tensors": 0})
        events.Reload()
        assert set(events.Tags()["scalars"]) == {"train/loss", "train/learning_rate", "validation/loss"}
        train = [(e.step, e.value) for e in events.Scalars("train/loss")]
        assert train == [(m.step, pytest.approx(m.train_loss, rel=1e-6)) for m in record.metrics]
        validation = [(e.step, e.value) for e in events.Scalars("validation/loss")]
        expected = [(0, record.initial_val_loss)] + [(m.step, m.val_loss) for m in record.evaluated()]
        assert [s for s, _ in validation] == [s for s, _ in expected] == [0, 2, 4, 6]
        assert [v for _, v in validation] == pytest.approx([v for _, v in expected], rel=1e-6)
        assert {"config", "study"} <= {tag.split("/")[0] for tag in events.Tags()["tensors"]}


@pytest.mark.slow
def test_runs_stored_before_are_logged_once_when_a_tracker_is_added(corpus, tmp_path):
    out = tmp_path / "out"
    run_study(study(corpus, out, report_to=()), echo=lambda line: None, progress=False)
    assert not (out / "tensorboard").exists()
    run_study(study(corpus, out, unique_samples=(1, 2, 3)), echo=lambda line: None, progress=False)
    run_study(study(corpus, out, unique_samples=(1, 2, 3)), echo=lambda line: None, progress=False)
    logged = {p.name: len(list(p.iterdir())) for p in (out / "tensorboard").iterdir()}
    assert logged == {"D=1_seed=1": 1, "D=2_seed=1": 1, "D=3_seed=1": 1}  # one event file each: logged once


def test_a_tracker_that_is_not_installed_is_refused_before_anything_is_written(corpus, tmp_path, monkeypatch):
    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else found(name, *a))
    train, valid = corpus
    code, out, err = run("scarcity", "--train-data", train, "--validation-data", valid, "--report-to", "tensorboard,mlflow",
                         "--output", tmp_path / "out")
    assert code == 2 and err == "error: --report-to mlflow: its package is not installed; pip install mlflow, or drop it\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # 11 s of MLflow's own start-up; skipped where mlflow is not installed (CI leaves it out: time)
def test_mlflow_logs_every_stored_run_to_a_local_database_and_its_curves_read_back(corpus, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow", reason="pip install mlflow to run MLflow for real (CI leaves it out: time)")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    said = []
    run_study(study(corpus, tmp_path / "out", report_to=("mlflow",)), echo=said.append, progress=False)
    database = (tmp_path / "out" / "mlflow.db").resolve()
    assert f"mlflow: experiment isoflop-scarcity at sqlite:///{database} (look with: mlflow ui --backend-store-uri " \
           f"sqlite:///{database})" in said
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{database}")
    runs = client.search_runs([client.get_experiment_by_name("isoflop-scarcity").experiment_id])
    with Store(tmp_path / "out", create=False) as store:
        records = {record.label: record for record in store.records()}
    assert sorted(run.info.run_name for run in runs) == sorted(records)
    for run in runs:
        record = records[run.info.run_name]
        history = client.get_metric_history(run.info.run_id, "train_loss")
        assert [(m.step, m.value) for m in history] == [(m.step, pytest.approx(m.train_loss, rel=1e-6))
                                                          for m in record.metrics]


def test_mlflow_writes_a_new_folder_to_sqlite_and_keeps_a_file_store_logged_to_before(tmp_path, monkeypatch):
    from isoflop.trackers import local_store

    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    assert local_store(tmp_path) == f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}"
    (tmp_path / "mlruns").mkdir()
    assert local_store(tmp_path) == (tmp_path / "mlruns").resolve().as_uri()
    assert os.environ["MLFLOW_ALLOW_FILE_STORE"] == "true"
