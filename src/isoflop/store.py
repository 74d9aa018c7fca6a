"""The results database: one SQLite file per output folder, one study per folder.

A run is written in a single transaction once it is final, so killing the process at
any moment loses no completed run. Re-running a study skips its completed runs; a grid
change adds runs to the same study; any other config change is refused.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import UsageError

DATABASE_NAME = "results.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    identity_json TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    study_key TEXT NOT NULL REFERENCES studies(key),
    unique_samples INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    engine TEXT NOT NULL,
    precision TEXT NOT NULL,
    finished TEXT NOT NULL,
    wall_seconds REAL NOT NULL,
    epochs REAL NOT NULL,
    parameters INTEGER NOT NULL,
    non_embedding_parameters INTEGER NOT NULL,
    train_flops REAL NOT NULL,
    eval_flops REAL NOT NULL,
    data_fingerprint TEXT NOT NULL,
    final_val_loss REAL,
    best_val_loss REAL,
    best_step INTEGER,
    model TEXT,
    budget_flops REAL,
    tokens REAL,
    unique_tokens REAL,
    flops_per_token REAL,
    bits_per_byte REAL,
    config_json TEXT NOT NULL,
    versions_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS metrics (
    run_key TEXT NOT NULL REFERENCES runs(key) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    train_loss REAL,
    val_loss REAL,
    learning_rate REAL,
    PRIMARY KEY (run_key, step)
);
"""

RUN_COLUMNS = (
    "key",
    "study_key",
    "unique_samples",
    "seed",
    "status",
    "error",
    "engine",
    "precision",
    "finished",
    "wall_seconds",
    "epochs",
    "parameters",
    "non_embedding_parameters",
    "train_flops",
    "eval_flops",
    "data_fingerprint",
    "final_val_loss",
    "best_val_loss",
    "best_step",
    "model",
    "budget_flops",
    "tokens",
    "unique_tokens",
    "flops_per_token",
    "bits_per_byte",
    "config_json",
    "versions_json",
)


def database_path(folder: str | Path) -> Path:
    return Path(folder) / DATABASE_NAME


class Store:
    """Results of the study held in ``folder``."""

    def __init__(self, folder: str | Path, create: bool = True):
        path = database_path(folder)
        if not path.exists() and not create:
            raise UsageError(f"{str(folder)!r} holds no isoflop results (no {DATABASE_NAME}); run a study there first")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(path)
        self.connection.row_factory = sqlite3.Row
        self.connection.execute("PRAGMA foreign_keys = ON")
        self.connection.execute("PRAGMA journal_mode = WAL")
        with self.connection:
            self.connection.executescript(SCHEMA)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def ensure_study(self, key: str, kind: str, identity: dict[str, Any]) -> None:
        """Register the study, or refuse when the folder already holds a different one."""
        existing = self.connection.execute("SELECT key, kind, identity_json FROM studies").fetchall()
        for row in existing:
            if row["key"] == key:
                return
            changed = _changed_settings(json.loads(row["identity_json"]), identity)
            raise UsageError(
                f"this output folder holds a different {row['kind']} study (changed: {changed}); "
                "use a new --output folder, or restore those settings to add runs to the existing study"
            )
        with self.connection:
            self.connection.execute(
                "INSERT INTO studies (key, kind, identity_json, created) VALUES (?, ?, ?, ?)",
                (key, kind, json.dumps(identity, sort_keys=True), _now()),
            )

    def completed_keys(self) -> set[str]:
        rows = self.connection.execute("SELECT key FROM runs WHERE status = 'completed'")
        return {row["key"] for row in rows}

    def save_run(self, run: dict[str, Any], steps: list[dict[str, Any]]) -> None:
        """Write one final run and its per-step metrics atomically (replacing a failed attempt)."""
        record = {column: None for column in RUN_COLUMNS} | run | {"finished": _now()}
        placeholders = ", ".join("?" for _ in RUN_COLUMNS)
        with self.connection:
            self.connection.execute("DELETE FROM runs WHERE key = ?", (record["key"],))
            self.connection.execute(
                f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({placeholders})",
                tuple(record[column] for column in RUN_COLUMNS),
            )
            self.connection.executemany(
                "INSERT INTO metrics (run_key, step, train_loss, val_loss, learning_rate) VALUES (?, ?, ?, ?, ?)",
                [(record["key"], s["step"], s["train_loss"], s["val_loss"], s["learning_rate"]) for s in steps],
            )

    def runs(self) -> list[dict[str, Any]]:
        """Every run, with its per-step ``metrics`` list, ordered by D then seed."""
        runs = [dict(row) for row in self.connection.execute("SELECT * FROM runs ORDER BY unique_samples, seed")]
        for run in runs:
            run["metrics"] = [
                dict(row)
                for row in self.connection.execute(
                    "SELECT step, train_loss, val_loss, learning_rate FROM metrics WHERE run_key = ? ORDER BY step",
                    (run["key"],),
                )
            ]
        return runs

    def export_csv(self, path: str | Path, per_step: bool = False) -> int:
        """Write runs (or one row per run and step) as CSV; returns the number of rows written."""
        runs = self.runs()
        columns = [c for c in RUN_COLUMNS if c not in ("config_json", "versions_json")]
        rows: list[dict[str, Any]] = []
        for run in runs:
            base = {c: run[c] for c in columns}
            if per_step:
                rows.extend({**base, **step} for step in run["metrics"])
            else:
                rows.append(base)
        header = columns + (["step", "train_loss", "val_loss", "learning_rate"] if per_step else [])
        target = Path(path)
        partial = target.with_name(target.name + ".partial")
        with partial.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        partial.replace(target)
        return len(rows)


def _changed_settings(old: dict[str, Any], new: dict[str, Any]) -> str:
    names = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return ", ".join(f"{n} {old.get(n)!r} -> {new.get(n)!r}" for n in names) or "study kind"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
