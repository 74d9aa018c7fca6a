"""Reading back what ``isoflop show --csv`` wrote: the runs of a study, one row each or one row per run and step.

``isoflop fit`` fits such a file exactly as it fits the folder it came from (the same points, parameter counts and
FLOP convention); files written before a column existed read with that field's default.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..models.counts import FLOP_CONVENTIONS, MFU_CONVENTIONS
from .records import JSON_FIELDS, SCALAR_FIELDS, RunRecord, StepMetric

# The columns that mark a file as an isoflop export rather than any table of N, D and loss.
EXPORT_MARK = ("key", "study_key", "kind", "flop_convention", "final_val_loss")
STEP_MARK = ("step", "val_loss")


def read_export(path: str | Path, where: dict[str, str] | None = None) -> tuple[str, list[RunRecord]] | None:
    """The study kind and runs of an ``isoflop show --csv`` file (``where``: only the rows whose column equals the
    value, as text or as the same number), or None for a file that is not one.

    A per-step export (``--per-step``) gives each run its steps; a one-row-per-run export gives runs without steps,
    which fits read as their final points."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    reader = csv.DictReader(text.splitlines())
    header = set(reader.fieldnames or ())
    if not set(EXPORT_MARK) <= header:
        return None
    rows = list(reader)
    if not rows:
        raise UsageError(f"{str(path)!r} is an isoflop export holding no runs; export a folder that has some")
    per_step = set(STEP_MARK) <= header
    for column, value in (where or {}).items():
        if column not in header:
            raise UsageError(f"--where {column}={value}: {str(path)!r} has no column {column!r}")
        rows = [row for row in rows if cell_matches(row[column], value)]
        if not rows:
            raise UsageError(f"--where {column}={value}: no run of {str(path)!r} matches")
    runs: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        runs.setdefault(row["key"], []).append(row)
    try:
        records = [_record(path, run_rows, per_step) for run_rows in runs.values()]
    except ValueError as error:  # a cell edited into something else: a step, a loss, the grid's JSON
        raise UsageError(f"{str(path)!r} is an isoflop export with a cell that cannot be read ({error}); export it "
                         "again with isoflop show FOLDER --csv") from None
    kinds = sorted({record.kind for record in records})
    if len(kinds) != 1:
        raise UsageError(f"{str(path)!r} holds runs of several study kinds ({', '.join(kinds)}); export one study")
    return kinds[0], records


def _record(path: Path, rows: list[dict[str, str]], per_step: bool) -> RunRecord:
    first = rows[0]
    values: dict[str, Any] = {}
    for name in SCALAR_FIELDS:
        if name in first:
            values[name] = _value(path, name, first[name])
    values["grid"] = json.loads(first["grid"]) if first.get("grid") else {}
    values |= {name: {} for name in JSON_FIELDS if name != "grid"}
    values["flop_counts"] = {name: float(first[f"flops_per_token_{name}"]) for name in FLOP_CONVENTIONS
                             if first.get(f"flops_per_token_{name}")}
    values["mfu"] = {name: float(first[f"mfu_{name}"]) for name in MFU_CONVENTIONS if first.get(f"mfu_{name}")}
    if per_step:
        values["metrics"] = tuple(
            StepMetric(int(row["step"]), _number(row.get("train_loss")), _number(row["val_loss"]),
                       _number(row.get("learning_rate")))
            for row in rows
        )
    missing = [name for name, spec in RunRecord.__dataclass_fields__.items()
               if name not in values and spec.default is spec.default_factory is dataclasses.MISSING]
    if missing:
        raise UsageError(f"{str(path)!r} is an isoflop export without column(s) {', '.join(missing)}; export it again "
                         "with isoflop show FOLDER --csv")
    return RunRecord(**values)


def cell_matches(cell: str, value: str) -> bool:
    """``--where``'s rule, for any table: a cell equals the value as text (spaces around it ignored) or as a number."""
    cell = cell.strip()
    if cell == value:
        return True
    try:
        return float(cell) == float(value)
    except ValueError:
        return False


def _number(cell: str | None) -> float | None:
    return float(cell) if cell not in (None, "") else None


def _value(path: Path, name: str, cell: str) -> Any:
    """A CSV cell as the record field's type: empty is None, booleans were written as 1/0 or True/False."""
    kind = RunRecord.__dataclass_fields__[name].type
    if cell == "":
        return None if "None" in kind else ("" if kind.startswith("str") else None)
    try:
        if kind.startswith("bool"):
            return cell in ("1", "True", "true")
        if kind.startswith("int"):
            return int(float(cell))
        if kind.startswith("float"):
            return float(cell)
    except ValueError:
        raise UsageError(f"{str(path)!r}: column {name} holds {cell!r}, not a number; export it again with isoflop "
                         "show FOLDER --csv") from None
    return cell
