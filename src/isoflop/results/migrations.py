"""Schema migrations of the results database, one function per version step.

The version lives in ``PRAGMA user_version``. Version 0 is isoflop 0.1's database (no
version set): one wide ``runs`` table, run keys derived from a flat config that lacked
the optimizer settings it trained with. Version 1 adds the study kind, the run's label and
grid point, the FLOP convention and pack size, and re-keys runs with the settings v0 used
implicitly, so that re-running the same command skips them. Version 2 adds each run's
``attempts`` (1 for every earlier run). Version 3 drops ``studies.data_fingerprint``, which no
version ever filled (each run carries the fingerprint of the data it saw). Version 4 adds each run's
``initial_val_loss``, the validation loss before its first step (NULL for the runs stored before: not measured).
Version 5 adds each run's ``schedule`` (from its config), ``annealed`` (1: every schedule before wsd decays to 0),
``trained_flops`` (its training FLOPs: no run before shared a trunk) and ``data_span`` (its unique samples: every
run before drew from its first D samples). Version 6 adds each run's ``flop_counts`` (its FLOPs per token by
convention: the runs before have the one they were counted in), ``tokens_per_second`` (its training tokens over its
wall time) and ``mfu`` (none measured before).
"""

from __future__ import annotations

import json
import sqlite3

from ..keys import stable_key

SCHEMA_VERSION = 6

# What isoflop 0.1 trained with without recording it (its engines' constants and defaults).
V0_IMPLICIT = {
    "weight_decay": 0.0,
    "max_grad_norm": 1.0,
    "adam_beta1": 0.9,
    "adam_beta2": 0.999,
    "adam_epsilon": 1e-8,
}
V0_IMPLICIT_BY_KIND = {
    "scarcity": {"schedule": "linear", "warmup_fraction": 0.0, "evals_per_run": None},
    # isoflop 0.1 always trained isoFLOP runs with the reference engine in fp32.
    "isoflops": {"engine": "reference", "precision": "fp32"},
}
# v0 settings that cannot change a run's numbers, so v1 leaves them out of keys.
V0_NOT_IDENTITY = ("pack_size", "save_models")
V0_GRID = {"scarcity": ("unique_samples",), "isoflops": ("budget", "size")}
# isoflop 0.1's scarcity runs counted 6 × all parameters (embeddings included) per token.
V0_SCARCITY_FLOPS = "6N_total (isoflop 0.1)"


def version(connection: sqlite3.Connection) -> int:
    """The schema version of a results database (``PRAGMA user_version``)."""
    return connection.execute("PRAGMA user_version").fetchone()[0]


def has_tables(connection: sqlite3.Connection) -> bool:
    """Whether the database holds a ``runs`` table (isoflop 0.1's schema 0 has no version)."""
    return connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetchone()[0] > 0


def migrate(connection: sqlite3.Connection) -> list[str]:
    """Bring an existing database to ``SCHEMA_VERSION``; returns what was done, one line per step.

    Run with foreign keys off: re-keying updates keys that other rows refer to."""
    done = []
    if version(connection) == 0 and has_tables(connection):
        with connection:
            count = _v0_to_v1(connection)
        done.append(f"migrated results from schema 0 (isoflop 0.1) to 1: {count} run(s) re-keyed")
    if version(connection) == 1:
        with connection:
            connection.execute("ALTER TABLE runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1")
            connection.execute("PRAGMA user_version = 2")
        done.append("migrated results from schema 1 to 2: runs record their attempts")
    if version(connection) == 2:
        with connection:
            connection.execute("ALTER TABLE studies DROP COLUMN data_fingerprint")
            connection.execute("PRAGMA user_version = 3")
        done.append("migrated results from schema 2 to 3: the unused studies.data_fingerprint column is gone")
    if version(connection) == 3:
        with connection:
            connection.execute("ALTER TABLE runs ADD COLUMN initial_val_loss REAL")
            connection.execute("PRAGMA user_version = 4")
        done.append("migrated results from schema 3 to 4: runs record their validation loss before training "
                    "(not measured for the runs stored before)")
    if version(connection) == 4:
        with connection:
            _v4_to_v5(connection)
        done.append("migrated results from schema 4 to 5: runs record their schedule, whether they were annealed, the "
                    "FLOPs they trained and the samples they drew from")
    if version(connection) == 5:
        with connection:
            _v5_to_v6(connection)
        done.append("migrated results from schema 5 to 6: runs record their FLOPs per token in every convention (the "
                    "runs stored before: in the one they were counted in), their tokens per second and MFU")
    if version(connection) > SCHEMA_VERSION:
        raise RuntimeError(f"schema {version(connection)} is newer than this isoflop ({SCHEMA_VERSION})")
    return done


def _v4_to_v5(connection: sqlite3.Connection) -> None:
    for column in ("schedule TEXT NOT NULL DEFAULT ''", "annealed INTEGER NOT NULL DEFAULT 1", "trained_flops REAL",
                   "data_span INTEGER"):
        connection.execute(f"ALTER TABLE runs ADD COLUMN {column}")
    connection.execute("UPDATE runs SET schedule = COALESCE(json_extract(config_json, '$.schedule'), ''), "
                       "trained_flops = train_flops, data_span = unique_samples")
    connection.execute("PRAGMA user_version = 5")


def _v5_to_v6(connection: sqlite3.Connection) -> None:
    for column in ("flop_counts_json TEXT NOT NULL DEFAULT '{}'", "tokens_per_second REAL",
                   "mfu_json TEXT NOT NULL DEFAULT '{}'"):
        connection.execute(f"ALTER TABLE runs ADD COLUMN {column}")
    connection.execute("UPDATE runs SET flop_counts_json = json_object(flop_convention, flops_per_token), "
                       "tokens_per_second = CASE WHEN wall_seconds > 0 "
                       "THEN COALESCE(trained_flops, train_flops) / flops_per_token / wall_seconds END")
    connection.execute("PRAGMA user_version = 6")


def _new_identity(kind: str, identity: dict) -> dict:
    new = {k: v for k, v in identity.items() if k not in V0_NOT_IDENTITY}
    return new | V0_IMPLICIT | V0_IMPLICIT_BY_KIND.get(kind, {})


def _v0_to_v1(connection: sqlite3.Connection) -> int:
    for column, kind in (("kind", "TEXT"), ("label", "TEXT"), ("grid_json", "TEXT"), ("flop_convention", "TEXT"),
                         ("pack_runs", "INTEGER")):
        connection.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
    connection.execute("ALTER TABLE studies ADD COLUMN data_fingerprint TEXT")
    rekeyed = 0
    for study in connection.execute("SELECT key, kind, identity_json FROM studies").fetchall():
        old_key, kind = study[0], study[1]
        identity = _new_identity(kind, json.loads(study[2]))
        new_study_key = stable_key({"study": kind, **identity})
        connection.execute("UPDATE studies SET key = ?, identity_json = ? WHERE key = ?",
                           (new_study_key, json.dumps(identity, sort_keys=True), old_key))
        for run_key, config_json in connection.execute("SELECT key, config_json FROM runs WHERE study_key = ?", (old_key,)).fetchall():
            config = json.loads(config_json)
            grid = {name: config[name] for name in V0_GRID[kind]}
            run_config = {"study": kind, **identity, **grid, "seed": config["seed"]}
            new_key = stable_key(run_config)
            convention = V0_SCARCITY_FLOPS if kind == "scarcity" else config.get("flop_convention", "full")
            label = (f"D={grid['unique_samples']}" if kind == "scarcity" else f"{grid['size']} at C={grid['budget']:.3g}")
            connection.execute(
                "UPDATE runs SET key = ?, study_key = ?, kind = ?, label = ?, grid_json = ?, flop_convention = ?, "
                "pack_runs = 1, config_json = ? WHERE key = ?",
                (new_key, new_study_key, kind, f"{label} seed={config['seed']}", json.dumps(grid), convention,
                 json.dumps(run_config, sort_keys=True), run_key),
            )
            connection.execute("UPDATE metrics SET run_key = ? WHERE run_key = ?", (new_key, run_key))
            rekeyed += 1
    connection.execute("PRAGMA user_version = 1")
    return rekeyed
