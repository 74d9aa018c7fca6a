"""A study's runs in experiment trackers (``--report-to tensorboard,wandb,mlflow``), logged from the main process.

Each run is logged under its label while it trains and once it is stored: its training loss and learning rate at
every step, its validation loss at its evaluation steps (and at step 0, before training, where it was measured), with
its own config and the study's attached. Engines append each measurement to ``OUTPUT/live/KEY.jsonl``
(``training.live``) wherever they run; the main process reads those lines every ``FOLLOW_SECONDS`` while it waits
for results and passes them on, so every executor (in process, worker processes, Ray, SLURM on a shared file
system) gives the same logs, and nothing is watched where no tracker is asked for (no lines are written then).
``OUTPUT/trackers.json`` lists the runs each tracker has been given whole, so a study re-run with ``--report-to``
logs the runs stored before (once) and never logs a run twice; a run that fails closes its tracker run as failed,
and its retry opens a new one. TensorBoard writes to ``OUTPUT/tensorboard/LABEL``; W&B and MLflow go where their
own settings send them (MLflow, with no ``MLFLOW_TRACKING_URI``, to ``OUTPUT/mlflow.db``, or to the
``OUTPUT/mlruns`` file store of a study that logged there before).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from .config.parts import TRACKER_PACKAGES
from .errors import UsageError
from .files import atomic_target
from .results.records import RunRecord
from .training.live import LEARNING_RATE, TRAIN_LOSS, VALIDATION_LOSS, LiveReader

TENSORBOARD_FOLDER = "tensorboard"
MLFLOW_FOLDER = "mlruns"
MLFLOW_DATABASE = "mlflow.db"
MLFLOW_ARTIFACTS = "mlflow-artifacts"
LOGGED = "trackers.json"
LIVE_FOLDER = "live"
FOLLOW_SECONDS = 2.0  # how often the main process looks for new points while runs train


def check_trackers(names: tuple[str, ...]) -> None:
    """Refuse, before anything is written or trained, a tracker whose package is not installed."""
    for name in names:
        if importlib.util.find_spec(TRACKER_PACKAGES[name]) is None:
            raise UsageError(f"--report-to {name}: its package is not installed; pip install {TRACKER_PACKAGES[name]}, "
                             "or drop it")


class Trackers:
    """The trackers a study logs its runs to: each run's curve while it trains (``follow``, from the lines its engine
    appends under ``OUTPUT/live``), and the whole run once it is stored (``log``)."""

    def __init__(self, names: tuple[str, ...], folder: Path, kind: str, study: dict[str, Any], study_key: str,
                 follow_seconds: float | None = None, clock=time.monotonic):
        self.loggers = {name: _LOGGERS[name](folder, kind, study) for name in names}
        self.path = folder / LOGGED
        self.logged: dict[str, list[str]] = json.loads(self.path.read_text()) if names and self.path.exists() else {}
        self.live_folder = folder / LIVE_FOLDER if names else None
        self.reader = LiveReader(folder / LIVE_FOLDER)
        self.follow_seconds = FOLLOW_SECONDS if follow_seconds is None else follow_seconds
        self.clock, self.looked = clock, None
        self.expected: dict[str, tuple[str, dict[str, Any]]] = {}
        self.running: dict[str, _Running] = {}
        self.study_key = study_key

    def where(self) -> list[str]:
        """Where each tracker writes, in one line each (and how to look)."""
        return [logger.where() for logger in self.loggers.values()]

    def expect(self, runs: dict[str, tuple[str, dict[str, Any]]]) -> None:
        """The runs about to train, by key: their label and config, for a tracker run opened before they are stored."""
        self.expected |= runs

    def follow(self, force: bool = False) -> None:
        """Pass every point the training runs wrote since the last look (at most every ``follow_seconds``)."""
        now = self.clock()
        if not self.loggers or not (force or self.looked is None or now - self.looked >= self.follow_seconds):
            return
        self.looked = now
        for key, lines in self.reader.new_points().items():
            if key in self.expected:
                running = self._running(key, *self.expected[key])
                for line in lines:
                    running.add(line["step"], {name: value for name, value in line.items() if name != "step"})
        for running in self.running.values():
            running.flush()

    def log(self, record: RunRecord) -> None:
        """A stored run: the points its tracker runs have not had yet, then closed; a completed run is given whole to
        every tracker that never had it (a run stored before the tracker was added)."""
        self.follow(force=True)
        if not record.completed:
            running = self.running.pop(record.key, None)
            if running is not None:
                running.close(completed=False)
            self.reader.forget(record.key)
            return
        running = self._running(record.key, record.label, record.config)
        for step, values in sorted(_by_step(record).items()):
            running.add(step, values)
        running.close(completed=True)
        del self.running[record.key]
        self.reader.forget(record.key)
        for name in running.handles:
            self.logged.setdefault(name, []).append(record.key)
        if running.handles:
            with atomic_target(self.path) as partial:
                partial.write_text(json.dumps(self.logged, indent=1, sort_keys=True))

    def _running(self, key: str, label: str, config: dict[str, Any]) -> _Running:
        if key not in self.running:
            fresh = {name: logger for name, logger in self.loggers.items() if key not in self.logged.get(name, [])}
            self.running[key] = _Running({name: (logger, logger.open(label, config, self.study_key)) for name, logger in fresh.items()})
        return self.running[key]


class _Running:
    """One run open in each tracker that has not had it: the last step given per curve, so no step goes twice."""

    def __init__(self, handles: dict[str, tuple[Any, Any]]):
        self.handles = handles
        self.last: dict[str, int] = {}

    def add(self, step: int, values: dict[str, float]) -> None:
        fresh = {name: value for name, value in values.items() if step > self.last.get(name, -1)}
        if not fresh:
            return
        self.last |= dict.fromkeys(fresh, step)
        for logger, handle in self.handles.values():
            logger.add(handle, step, fresh)

    def flush(self) -> None:
        for logger, handle in self.handles.values():
            logger.flush(handle)

    def close(self, completed: bool) -> None:
        for logger, handle in self.handles.values():
            logger.close(handle, completed)


def local_store(folder: Path) -> str:
    """Where MLflow logs without ``MLFLOW_TRACKING_URI``: ``OUTPUT/mlflow.db`` (SQLite; MLflow 3 refuses to write a
    new file store), or the ``OUTPUT/mlruns`` file store a study logged to before, kept so its runs stay together
    (allowed explicitly: MLflow still writes one when asked to)."""
    old = folder / MLFLOW_FOLDER
    if old.is_dir():
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        return old.resolve().as_uri()
    return f"sqlite:///{(folder / MLFLOW_DATABASE).resolve()}"


def curves(record: RunRecord) -> dict[str, list[tuple[int, float]]]:
    """A run's scalars by name, as (step, value) pairs."""
    out: dict[str, list[tuple[int, float]]] = {TRAIN_LOSS: [], LEARNING_RATE: [], VALIDATION_LOSS: []}
    if record.initial_val_loss is not None:
        out[VALIDATION_LOSS].append((0, record.initial_val_loss))
    for m in record.metrics:
        if m.train_loss is not None:
            out[TRAIN_LOSS].append((m.step, m.train_loss))
        if m.learning_rate is not None:
            out[LEARNING_RATE].append((m.step, m.learning_rate))
        if m.val_loss is not None:
            out[VALIDATION_LOSS].append((m.step, m.val_loss))
    return out


def folder_name(label: str) -> str:
    """A run label as a folder name: ``D=1 seed=2 weight_decay=0.1`` → ``D=1_seed=2_weight_decay=0.1``."""
    return re.sub(r"[^A-Za-z0-9=.+-]+", "_", label).strip("_")


class _TensorBoard:
    def __init__(self, folder: Path, kind: str, study: dict[str, Any]):
        self.root, self.kind, self.study = folder / TENSORBOARD_FOLDER, kind, study

    def where(self) -> str:
        return f"tensorboard: each run under {self.root}/ (look with: tensorboard --logdir {self.root})"

    def open(self, label: str, config: dict[str, Any], study_key: str):
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(self.root / folder_name(label)))
        writer.add_text("config", _code(config))
        writer.add_text("study_key", study_key)
        writer.add_text("study", _code(self.study))
        return writer

    @staticmethod
    def add(writer, step: int, values: dict[str, float]) -> None:
        for name, value in values.items():
            writer.add_scalar(name, value, step)

    @staticmethod
    def flush(writer) -> None:
        writer.flush()

    @staticmethod
    def close(writer, completed: bool) -> None:
        writer.close()


class _WandB:
    def __init__(self, folder: Path, kind: str, study: dict[str, Any]):
        self.folder, self.kind, self.study = folder, kind, study

    def where(self) -> str:
        mode = os.environ.get("WANDB_MODE", "online")
        return (f"wandb: project isoflop-{self.kind} ({mode}; local files under {self.folder / 'wandb'}/"
                + (", sync them with: wandb sync " + str(self.folder / "wandb") if mode == "offline" else "") + ")")

    def open(self, label: str, config: dict[str, Any], study_key: str):
        import wandb

        return wandb.init(project=f"isoflop-{self.kind}", name=label, group=study_key,
                          config={"run": config, "study": self.study}, dir=str(self.folder), reinit="create_new")

    @staticmethod
    def add(run, step: int, values: dict[str, float]) -> None:
        run.log(values, step=step)

    @staticmethod
    def flush(run) -> None:
        """W&B sends in the background."""

    @staticmethod
    def close(run, completed: bool) -> None:
        run.finish(exit_code=0 if completed else 1)


class _MLflow:
    def __init__(self, folder: Path, kind: str, study: dict[str, Any]):
        import mlflow

        name, artifacts = f"isoflop-{kind}", None
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            mlflow.set_tracking_uri(local_store(folder))
            # A database store's default artifact root is ./mlruns in the working directory: kept in the study instead.
            artifacts = (folder / MLFLOW_ARTIFACTS).resolve().as_uri()
        self.client = mlflow.tracking.MlflowClient()
        experiment = self.client.get_experiment_by_name(name)
        self.experiment = (experiment.experiment_id if experiment is not None
                           else self.client.create_experiment(name, artifact_location=artifacts))
        self.study, self.kind, self.uri = study, kind, mlflow.get_tracking_uri()

    def where(self) -> str:
        return f"mlflow: experiment isoflop-{self.kind} at {self.uri} (look with: mlflow ui --backend-store-uri {self.uri})"

    def open(self, label: str, config: dict[str, Any], study_key: str) -> str:
        from mlflow.entities import Param

        run_id = self.client.create_run(self.experiment, run_name=label, tags={"isoflop.study_key": study_key}).info.run_id
        self.client.log_batch(run_id, params=[Param(name, str(value)[:250]) for name, value in sorted(config.items())])
        self.client.log_dict(run_id, self.study, "study_config.json")
        return run_id

    def add(self, run_id: str, step: int, values: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(name.replace("/", "_"), value, now, step)
                                               for name, value in values.items()])

    @staticmethod
    def flush(run_id: str) -> None:
        """Each point is written as it is given."""

    def close(self, run_id: str, completed: bool) -> None:
        self.client.set_terminated(run_id, status="FINISHED" if completed else "FAILED")


def _by_step(record: RunRecord) -> dict[int, dict[str, float]]:
    steps: dict[int, dict[str, float]] = {}
    for name, points in curves(record).items():
        for step, value in points:
            steps.setdefault(step, {})[name] = value
    return steps


def _code(values: dict[str, Any]) -> str:
    return "```\n" + json.dumps(values, indent=2, sort_keys=True) + "\n```"


_LOGGERS = {"tensorboard": _TensorBoard, "wandb": _WandB, "mlflow": _MLflow}
