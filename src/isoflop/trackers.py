"""A study's runs in experiment trackers (``--report-to tensorboard,wandb,mlflow``), logged from the main process.

Each run is logged once it is stored, under its label: its training loss and learning rate at every step,
its validation loss at its evaluation steps (and at step 0, before training, where it was measured), with its
own config and the study's attached. Only the main process logs, so every executor (in process, worker
processes, Ray) gives the same logs. ``OUTPUT/trackers.json`` lists the runs each tracker has been given, so
a study re-run with ``--report-to`` logs the runs stored before (once) and never logs a run twice. TensorBoard writes to ``OUTPUT/tensorboard/LABEL``; W&B and MLflow go
where their own settings send them (MLflow, with no ``MLFLOW_TRACKING_URI``, to ``OUTPUT/mlflow.db``, or to the
``OUTPUT/mlruns`` file store of a study that logged there before).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path
from typing import Any

from .config.parts import TRACKER_PACKAGES
from .errors import UsageError
from .files import atomic_target
from .results.records import RunRecord

TENSORBOARD_FOLDER = "tensorboard"
MLFLOW_FOLDER = "mlruns"
MLFLOW_DATABASE = "mlflow.db"
LOGGED = "trackers.json"


def check_trackers(names: tuple[str, ...]) -> None:
    """Refuse, before anything is written or trained, a tracker whose package is not installed."""
    for name in names:
        if importlib.util.find_spec(TRACKER_PACKAGES[name]) is None:
            raise UsageError(f"--report-to {name}: its package is not installed; pip install {TRACKER_PACKAGES[name]}, "
                             "or drop it")


class Trackers:
    """The trackers a study logs its stored runs to."""

    def __init__(self, names: tuple[str, ...], folder: Path, kind: str, study: dict[str, Any]):
        self.loggers = {name: _LOGGERS[name](folder, kind, study) for name in names}
        self.path = folder / LOGGED
        self.logged: dict[str, list[str]] = json.loads(self.path.read_text()) if names and self.path.exists() else {}

    def where(self) -> list[str]:
        """Where each tracker writes, in one line each (and how to look)."""
        return [logger.where() for logger in self.loggers.values()]

    def log(self, record: RunRecord) -> None:
        """Give a completed run to every tracker that has not had it yet."""
        if not record.completed:
            return
        fresh = [name for name in self.loggers if record.key not in self.logged.get(name, [])]
        for name in fresh:
            self.loggers[name].log(record)
            self.logged.setdefault(name, []).append(record.key)
        if fresh:
            with atomic_target(self.path) as partial:
                partial.write_text(json.dumps(self.logged, indent=1, sort_keys=True))


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
    out: dict[str, list[tuple[int, float]]] = {"train/loss": [], "train/learning_rate": [], "validation/loss": []}
    if record.initial_val_loss is not None:
        out["validation/loss"].append((0, record.initial_val_loss))
    for m in record.metrics:
        if m.train_loss is not None:
            out["train/loss"].append((m.step, m.train_loss))
        if m.learning_rate is not None:
            out["train/learning_rate"].append((m.step, m.learning_rate))
        if m.val_loss is not None:
            out["validation/loss"].append((m.step, m.val_loss))
    return out


def folder_name(label: str) -> str:
    """A run label as a folder name: ``D=1 seed=2 weight_decay=0.1`` → ``D=1_seed=2_weight_decay=0.1``."""
    return re.sub(r"[^A-Za-z0-9=.+-]+", "_", label).strip("_")


class _TensorBoard:
    def __init__(self, folder: Path, kind: str, study: dict[str, Any]):
        self.root, self.kind, self.study = folder / TENSORBOARD_FOLDER, kind, study

    def where(self) -> str:
        return f"tensorboard: each run under {self.root}/ (look with: tensorboard --logdir {self.root})"

    def log(self, record: RunRecord) -> None:
        from torch.utils.tensorboard import SummaryWriter

        with SummaryWriter(log_dir=str(self.root / folder_name(record.label))) as writer:
            writer.add_text("config", _code(record.config))
            writer.add_text("study", _code(self.study))
            for name, points in curves(record).items():
                for step, value in points:
                    writer.add_scalar(name, value, step)


class _WandB:
    def __init__(self, folder: Path, kind: str, study: dict[str, Any]):
        self.folder, self.kind, self.study = folder, kind, study

    def where(self) -> str:
        mode = os.environ.get("WANDB_MODE", "online")
        return (f"wandb: project isoflop-{self.kind} ({mode}; local files under {self.folder / 'wandb'}/"
                + (", sync them with: wandb sync " + str(self.folder / "wandb") if mode == "offline" else "") + ")")

    def log(self, record: RunRecord) -> None:
        import wandb

        run = wandb.init(project=f"isoflop-{self.kind}", name=record.label, group=record.study_key,
                         config={"run": record.config, "study": self.study}, dir=str(self.folder), reinit=True)
        for step, values in sorted(_by_step(record).items()):
            run.log(values, step=step)
        run.finish()


class _MLflow:
    def __init__(self, folder: Path, kind: str, study: dict[str, Any]):
        import mlflow

        if not os.environ.get("MLFLOW_TRACKING_URI"):
            mlflow.set_tracking_uri(local_store(folder))
        mlflow.set_experiment(f"isoflop-{kind}")
        self.study, self.kind, self.uri = study, kind, mlflow.get_tracking_uri()

    def where(self) -> str:
        return f"mlflow: experiment isoflop-{self.kind} at {self.uri} (look with: mlflow ui --backend-store-uri {self.uri})"

    def log(self, record: RunRecord) -> None:
        import mlflow

        with mlflow.start_run(run_name=record.label):
            mlflow.log_params({name: str(value)[:250] for name, value in record.config.items()})
            mlflow.log_dict(self.study, "study_config.json")
            for name, points in curves(record).items():
                for step, value in points:
                    mlflow.log_metric(name.replace("/", "_"), value, step=step)


def _by_step(record: RunRecord) -> dict[int, dict[str, float]]:
    steps: dict[int, dict[str, float]] = {}
    for name, points in curves(record).items():
        for step, value in points:
            steps.setdefault(step, {})[name] = value
    return steps


def _code(values: dict[str, Any]) -> str:
    return "```\n" + json.dumps(values, indent=2, sort_keys=True) + "\n```"


_LOGGERS = {"tensorboard": _TensorBoard, "wandb": _WandB, "mlflow": _MLflow}
