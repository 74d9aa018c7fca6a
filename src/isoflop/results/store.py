"""The results database: one SQLite file per output folder, one study per folder.

A run is written in a single transaction once it is final, so killing the process at
any moment loses no completed run. Re-running a study skips its completed runs; a grid
change adds runs to the same study; any other config change is refused.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import UsageError, WriteError, first_line
from ..files import atomic_target, write_atomic
from .migrations import SCHEMA_VERSION, has_tables, migrate
from ..models.counts import FLOP_CONVENTIONS, MFU_CONVENTIONS
from .records import JSON_FIELDS, SCALAR_FIELDS, RunRecord, StepMetric

DATABASE_NAME = "results.sqlite"
SUPERSEDED = "superseded"

SCHEMA = """
CREATE TABLE studies (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    identity_json TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE runs (
    key TEXT PRIMARY KEY,
    study_key TEXT NOT NULL REFERENCES studies(key),
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    grid_json TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    engine TEXT NOT NULL,
    precision TEXT NOT NULL,
    flop_convention TEXT NOT NULL,
    finished TEXT NOT NULL,
    wall_seconds REAL NOT NULL,
    pack_runs INTEGER NOT NULL,
    model TEXT NOT NULL,
    parameters INTEGER NOT NULL,
    non_embedding_parameters INTEGER NOT NULL,
    flops_per_token REAL NOT NULL,
    train_flops REAL NOT NULL,
    eval_flops REAL NOT NULL,
    tokens REAL NOT NULL,
    unique_samples INTEGER NOT NULL,
    unique_tokens REAL NOT NULL,
    epochs REAL NOT NULL,
    budget_flops REAL,
    final_val_loss REAL,
    best_val_loss REAL,
    best_step INTEGER,
    bits_per_byte REAL,
    data_fingerprint TEXT NOT NULL,
    config_json TEXT NOT NULL,
    versions_json TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    initial_val_loss REAL,
    schedule TEXT NOT NULL DEFAULT '',
    annealed INTEGER NOT NULL DEFAULT 1,
    trained_flops REAL,
    data_span INTEGER,
    flop_counts_json TEXT NOT NULL DEFAULT '{}',
    tokens_per_second REAL,
    mfu_json TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE metrics (
    run_key TEXT NOT NULL REFERENCES runs(key) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    train_loss REAL,
    val_loss REAL,
    learning_rate REAL,
    PRIMARY KEY (run_key, step)
);
"""

RECORD_COLUMNS = SCALAR_FIELDS + tuple(f"{name}_json" for name in JSON_FIELDS)
STEP_COLUMNS = ("step", "train_loss", "val_loss", "learning_rate")


def _write_schema(connection: sqlite3.Connection) -> None:
    with connection:
        connection.executescript(SCHEMA)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _identity(path: Path) -> tuple[int, int] | None:
    """The file ``path`` names now (device and inode), or None where nothing is there."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def database_path(folder: str | Path) -> Path:
    """Where a folder's results database lives."""
    return Path(folder) / DATABASE_NAME


class Store:
    """Results of the study held in ``folder``; ``notes`` says what opening it did (migrations)."""

    def __init__(self, folder: str | Path, create: bool = True):
        self.path = database_path(folder)
        if not self.path.exists() and not create:
            raise UsageError(f"{str(folder)!r} holds no isoflop results (no {DATABASE_NAME}); run a study there first")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._open()

    def _create(self) -> None:
        """A new, empty store, complete or not at all: its schema written beside it, then renamed into place (a disk
        that fills while the tables are made leaves no half-made database to be refused later)."""
        with atomic_target(self.path) as partial:
            connection = sqlite3.connect(partial)
            try:
                _write_schema(connection)
            finally:
                connection.close()

    def _open(self) -> None:
        if not self.path.exists():
            self._create()
        self.connection = sqlite3.connect(self.path)
        self.connection.row_factory = sqlite3.Row
        problem = not_ours(self.connection)
        if problem:
            self.connection.close()
            raise _refused(self.path, problem)
        self.notes = migrate(self.connection)
        if self.connection.execute("PRAGMA user_version").fetchone()[0] == 0:  # an empty file
            _write_schema(self.connection)
        self.connection.execute("PRAGMA foreign_keys = ON")
        self.connection.execute("PRAGMA journal_mode = WAL")
        self._identity = _identity(self.path)

    def check_in_place(self) -> None:
        """Refuse to go on when the database this store opened is no longer at its path (its folder deleted, moved or
        unmounted): SQLite would go on writing into a file nobody can open again, and every run trained would be lost."""
        if _identity(self.path) != self._identity:
            folder = str(self.path.parent)
            raise WriteError(f"the output folder {folder!r} vanished while the study ran (deleted, moved or unmounted): "
                             "the study stopped, and the runs it held went with it. Restore it, or run the "
                             "same command again to start it afresh (it trains what is not stored)", self.path.parent,
                             "vanished")

    def close(self) -> None:
        self.connection.close()

    def supersede(self) -> Path:
        """Move every result aside into ``superseded/`` (nothing is deleted) and start this store empty."""
        folder = self.path.parent / SUPERSEDED
        folder.mkdir(exist_ok=True)
        target = folder / f"results-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%f')}.sqlite"
        self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.connection.close()
        self.path.replace(target)
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self._open()
        return target

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def ensure_study(self, key: str, kind: str, identity: dict[str, Any]) -> None:
        """Register the study, or refuse when the folder already holds a different one."""
        for row in self.connection.execute("SELECT key, kind, identity_json FROM studies").fetchall():
            if row["key"] == key:
                return
            if row["kind"] != kind:
                raise UsageError(other_kind(self.path.parent, row["kind"], kind))
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

    def study_kind(self) -> str | None:
        row = self.connection.execute("SELECT kind FROM studies").fetchone()
        return row["kind"] if row else None

    def completed_keys(self) -> set[str]:
        rows = self.connection.execute("SELECT key FROM runs WHERE status = 'completed'")
        return {row["key"] for row in rows}

    def save(self, record: RunRecord) -> None:
        """Write one final run and its per-step metrics atomically (replacing a failed attempt)."""
        values = {name: getattr(record, name) for name in SCALAR_FIELDS} | {"finished": _now()}
        values |= {f"{name}_json": json.dumps(getattr(record, name), sort_keys=True) for name in JSON_FIELDS}
        placeholders = ", ".join("?" for _ in RECORD_COLUMNS)
        with self.connection:
            self.connection.execute("DELETE FROM runs WHERE key = ?", (record.key,))
            self.connection.execute(
                f"INSERT INTO runs ({', '.join(RECORD_COLUMNS)}) VALUES ({placeholders})",
                tuple(values[column] for column in RECORD_COLUMNS),
            )
            self.connection.executemany(
                f"INSERT INTO metrics (run_key, {', '.join(STEP_COLUMNS)}) VALUES (?, ?, ?, ?, ?)",
                [(record.key, *(getattr(m, c) for c in STEP_COLUMNS)) for m in record.metrics],
            )
        self.check_in_place()

    def records(self) -> list[RunRecord]:
        """Every run with its per-step metrics, ordered by budget, model size, D, then seed."""
        rows = self.connection.execute(
            "SELECT * FROM runs ORDER BY budget_flops, non_embedding_parameters, unique_samples, seed"
        ).fetchall()
        return [self._record(row) for row in rows]

    def _record(self, row: sqlite3.Row) -> RunRecord:
        return _record_of(self.connection, row)

    def export_csv(self, path: str | Path, per_step: bool = False, evaluated_only: bool = False) -> int:
        """Write runs (or one row per run and step; ``evaluated_only``: per evaluated step, the last step always among
        them) as CSV; returns the number of rows written. ``results.exports`` reads either back."""
        rows: list[dict[str, Any]] = []
        for record in self.records():
            base = {name: getattr(record, name) for name in SCALAR_FIELDS} | {"grid": json.dumps(record.grid)}
            base |= {f"flops_per_token_{name}": record.flop_counts.get(name) for name in FLOP_CONVENTIONS}
            base |= {f"mfu_{name}": record.mfu.get(name) for name in MFU_CONVENTIONS}
            if per_step:
                steps = [m for m in record.metrics if m.val_loss is not None or m is record.metrics[-1]] \
                    if evaluated_only else record.metrics
                rows.extend(base | dataclasses.asdict(step) for step in steps)
            else:
                rows.append(base)
        header = (list(SCALAR_FIELDS) + ["grid"] + [f"flops_per_token_{name}" for name in FLOP_CONVENTIONS]
                  + [f"mfu_{name}" for name in MFU_CONVENTIONS] + (list(STEP_COLUMNS) if per_step else []))
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
        write_atomic(path, text.getvalue())
        return len(rows)


def _record_of(connection: sqlite3.Connection, row: sqlite3.Row) -> RunRecord:
    values: dict[str, Any] = {name: row[name] for name in SCALAR_FIELDS}
    values |= {name: json.loads(row[f"{name}_json"]) for name in JSON_FIELDS}
    steps = connection.execute(f"SELECT {', '.join(STEP_COLUMNS)} FROM metrics WHERE run_key = ? ORDER BY step", (row["key"],))
    values["metrics"] = tuple(StepMetric(*step) for step in steps)
    return RunRecord(**values)


def read_records(folder: str | Path) -> list[RunRecord]:
    """The stored runs of ``folder``, read without writing anything there: the database is copied into memory and
    migrated there (an older schema reads as a study will see it once it has migrated the folder)."""
    path = database_path(folder)
    if not path.is_file():
        return []
    # A study writing there (or killed) left its write-ahead log: read it too, read-only. Without one, immutable
    # reads the file as it is, without creating the log beside it.
    wal = path.with_name(path.name + "-wal").exists()
    source = sqlite3.connect(f"{path.resolve().as_uri()}?{'mode=ro' if wal else 'immutable=1'}", uri=True)
    connection = sqlite3.connect(":memory:")
    try:
        source.backup(connection)
    except sqlite3.DatabaseError as error:
        raise _refused(path, f"is not a readable SQLite database ({first_line(error)})") from None
    finally:
        source.close()
    connection.row_factory = sqlite3.Row
    try:
        problem = not_ours(connection)
        if problem:
            raise _refused(path, problem)
        migrate(connection)
        if not has_tables(connection):
            return []
        rows = connection.execute("SELECT * FROM runs ORDER BY budget_flops, non_embedding_parameters, unique_samples, seed")
        return [_record_of(connection, row) for row in rows.fetchall()]
    finally:
        connection.close()


def check_existing(folder: str | Path, kind: str) -> None:
    """Before a study touches ``folder``: refuse, reading only, a results database that is not isoflop's or that
    holds another kind of study."""
    path = database_path(folder)
    if not path.is_file():
        return
    # immutable: no -wal or -shm file is created beside a database we may refuse (a running study's newest rows
    # may be missed; ensure_study checks again under the folder lock).
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)
    try:
        problem, held = not_ours(connection), None
        if not problem:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            held = connection.execute("SELECT kind FROM studies").fetchone() if "studies" in tables else None
    finally:
        connection.close()
    if problem:
        raise _refused(path, problem)
    if held is not None and held[0] != kind:
        raise UsageError(other_kind(Path(folder), held[0], kind))


def other_kind(folder: Path, held: str, asked: str) -> str:
    """The line refusing a folder that holds another kind of study, with what to do instead."""
    return (f"{str(folder)!r} holds a {held} study, not a {asked} one; read it with 'isoflop show {folder}', add runs "
            f"to it with 'isoflop {held} --output {folder} ...', or choose another --output")


def _refused(path: Path, problem: str) -> UsageError:
    return UsageError(f"{path} {problem}; it was left untouched: move it aside, or choose another folder")


def not_ours(connection: sqlite3.Connection) -> str | None:
    """Why this database is not one isoflop can read and write (unreadable, damaged, another program's, a newer
    isoflop's), or None. Only reads: nothing is written to a database that is refused."""
    try:
        return _not_ours(connection)
    except sqlite3.DatabaseError as error:
        return f"is not a readable SQLite database ({first_line(error)})"


def _not_ours(connection: sqlite3.Connection) -> str | None:
    damaged = [row[0] for row in connection.execute("PRAGMA quick_check").fetchall() if row[0] != "ok"]
    if damaged:
        return f"is damaged ({damaged[0]})"
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and not {"studies", "runs", "metrics"} <= tables:
        return f"is another program's SQLite database (tables: {', '.join(sorted(tables)[:5])}), not isoflop results"
    schema = connection.execute("PRAGMA user_version").fetchone()[0]
    if schema > SCHEMA_VERSION:
        return f"was written by a newer isoflop (results schema {schema}; this one reads up to {SCHEMA_VERSION}): upgrade isoflop"
    return None


SHOWN_CHANGES = 4


def _changed_settings(old: dict[str, Any], new: dict[str, Any]) -> str:
    names = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    shown = ", ".join(f"{n} {old.get(n)!r} -> {new.get(n)!r}" for n in names[:SHOWN_CHANGES])
    more = f" and {len(names) - SHOWN_CHANGES} more" if len(names) > SHOWN_CHANGES else ""
    return (shown + more) or "its identity"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
