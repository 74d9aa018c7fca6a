"""--report-to for studies: TensorBoard, W&B (offline) and MLflow (a local database) for real, their logged values read
back (W&B and MLflow where installed: CI installs them); every point given while its run trains; a missing package
refused."""

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


@pytest.mark.slow  # MLflow's own start-up (its database migrations); skipped where mlflow is not installed
def test_mlflow_logs_every_stored_run_to_a_local_database_and_its_curves_read_back(corpus, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow", reason="pip install mlflow to run MLflow for real")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    said = []
    run_study(study(corpus, tmp_path / "out", report_to=("mlflow",)), echo=said.append, progress=False)
    # The runs' files in the study's folder, not in ./mlruns (a database store's default artifact root).
    assert len(list((tmp_path / "out" / "mlflow-artifacts").rglob("study_config.json"))) == 2
    assert not (tmp_path / "mlruns").exists()
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


class Spy:
    """A tracker that writes down what it is given, in order, beside the runs being stored."""

    events: list[tuple] = []

    def __init__(self, folder, kind, study):
        pass

    def where(self) -> str:
        return "spy"

    def open(self, label, config, study_key):
        self.events.append(("open", label))
        return label

    def add(self, label, step, values):
        self.events.append(("add", label, step, dict(values)))

    def flush(self, label):
        pass

    def close(self, label, completed):
        self.events.append(("close", label, completed))


@pytest.mark.parametrize("executor", ["inprocess", pytest.param("processes", marks=pytest.mark.slow)])
def test_trackers_receive_each_run_s_curve_while_it_trains(corpus, tmp_path, monkeypatch, executor):
    """Every point of a run reaches the tracker before the run is stored, from this process or a worker's (the lines
    its engine appends under OUTPUT/live), once each and equal to the stored numbers; the live files go after."""
    import isoflop.trackers

    Spy.events = []
    monkeypatch.setitem(isoflop.trackers._LOGGERS, "tensorboard", Spy)
    monkeypatch.setattr(isoflop.trackers, "FOLLOW_SECONDS", 0.0)
    save = Store.save
    monkeypatch.setattr(Store, "save", lambda store, record: (Spy.events.append(("stored", record.label)),
                                                             save(store, record))[1])
    out = tmp_path / "out"
    run_study(study(corpus, out, executor=executor, engine="fast"), echo=lambda line: None, progress=False)
    with Store(out, create=False) as store:
        records = store.records()
    for record in records:
        mine = [event for event in Spy.events if event[1] == record.label]
        stored = mine.index(("stored", record.label))
        assert mine[0] == ("open", record.label) and mine[-1] == ("close", record.label, True)
        given = {}
        for _, _, step, values in (event for event in mine[:stored] if event[0] == "add"):
            for name, value in values.items():
                given.setdefault(name, []).append((step, value))
        expected = isoflop.trackers.curves(record)
        assert given.keys() == expected.keys()
        for name, points in expected.items():
            assert [s for s, _ in given[name]] == [s for s, _ in points]
            assert [v for _, v in given[name]] == pytest.approx([v for _, v in points], rel=1e-6)
        assert not any(event[0] == "add" for event in mine[stored:])
    assert not (out / "live").exists()


def wandb_runs(folder):
    """Each offline W&B run under ``folder``: its name, config and history rows, read from its ``.wandb`` file (a
    LevelDB-style log: a 7-byte header, then 32 KiB blocks of records, each a CRC, a length, a type and bytes)."""
    import json
    import struct

    from wandb.proto import wandb_internal_pb2

    runs = []
    for path in sorted(folder.glob("offline-run-*/run-*.wandb")):
        data, position, pending, run = path.read_bytes(), 7, b"", {"history": []}
        assert data[:4] == b":W&B"
        while position + 7 <= len(data):
            room = 32768 - position % 32768
            _, length, kind = struct.unpack("<IHB", data[position:position + 7]) if room >= 7 else (0, 0, 0)
            if kind == 0:
                position += room
                continue
            pending += data[position + 7:position + 7 + length]
            position += 7 + length
            if kind in (1, 4):  # a whole record, or the last piece of one
                record = wandb_internal_pb2.Record()
                record.ParseFromString(pending)
                pending = b""
                if record.WhichOneof("record_type") == "run":
                    run["name"] = record.run.display_name
                    run["config"] = {item.key: json.loads(item.value_json) for item in record.run.config.update}
                elif record.WhichOneof("record_type") == "history":
                    run["history"].append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                                           for item in record.history.item})
        runs.append(run)
    return runs


@pytest.mark.slow  # W&B's service start-up
def test_wandb_offline_logs_every_run_with_its_config_and_its_curves_read_back(corpus, tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="pip install wandb to run W&B for real")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    said = []
    out = tmp_path / "out"
    run_study(study(corpus, out, report_to=("wandb",)), echo=said.append, progress=False)
    import wandb

    wandb.teardown()  # its service process stops now, not at the interpreter's exit
    assert (f"wandb: project isoflop-scarcity (offline; local files under {out / 'wandb'}/, sync them with: wandb sync "
            f"{out / 'wandb'})") in said
    with Store(out, create=False) as store:
        records = {record.label: record for record in store.records()}
    runs = wandb_runs(out / "wandb")
    assert sorted(run["name"] for run in runs) == sorted(records) == ["D=1 seed=1", "D=3 seed=1"]
    for run in runs:
        record = records[run["name"]]
        assert run["config"]["run"] == record.config
        from isoflop.trackers import curves

        for name, points in curves(record).items():
            logged = [(row["_step"], row[name]) for row in run["history"] if name in row]
            assert [s for s, _ in logged] == [s for s, _ in points]
            assert [v for _, v in logged] == pytest.approx([v for _, v in points], rel=1e-6)
