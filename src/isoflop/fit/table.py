"""Reading fit input: any CSV with columns N, D, loss (optionally C, U, seed)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UsageError
from .flops import FlopCount, knots_to_count

REQUIRED = ("N", "D", "loss")
OPTIONAL = ("C", "U", "seed")


@dataclass(frozen=True)
class FitTable:
    N: np.ndarray
    D: np.ndarray
    loss: np.ndarray
    C: np.ndarray | None
    U: np.ndarray | None
    seed: np.ndarray | None
    flop_count: FlopCount = FlopCount("6N")

    def budgets(self) -> np.ndarray:
        """The C column, or C counted by the table's convention, rounded to 3 significant digits so equal budgets group."""
        if self.C is not None:
            return self.C
        return np.array([float(f"{c:.3g}") for c in self.flop_count.flops(self.N, self.D)])

    def budget_count(self) -> FlopCount | None:
        """The FLOP count that the budgets follow; None for a C column that a 6N assumption may not match."""
        return self.flop_count if self.C is None or self.flop_count.convention != "6N" else None


def read_table(path: str | Path, convention: str = "6N") -> FitTable:
    """A CSV's points; ``convention`` says how its compute is counted (``table``: from its own C column)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{str(path)!r} is not a file; pass a CSV with columns {', '.join(REQUIRED)}")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"{str(path)!r} is not a readable CSV text file ({error})") from None
    if not rows:
        raise UsageError(f"{str(path)!r} has no rows")
    missing = [c for c in REQUIRED if c not in rows[0]]
    if missing:
        raise UsageError(f"{str(path)!r} lacks column(s) {', '.join(missing)}; it needs {', '.join(REQUIRED)} (optional {', '.join(OPTIONAL)})")
    for number, row in enumerate(rows, start=2):
        if None in row.values() or None in row:
            raise UsageError(f"{str(path)!r} line {number} has a different number of fields than the header; fix or remove it")
    columns = {}
    for name in REQUIRED + OPTIONAL:
        if name not in rows[0]:
            columns[name] = None
            continue
        try:
            columns[name] = np.array([float(row[name]) for row in rows])
        except ValueError as error:
            raise UsageError(f"{str(path)!r}: column {name} holds a non-number ({error})") from None
    for name in REQUIRED + ("C", "U"):
        values = columns[name]
        if values is not None and ((values <= 0).any() or not np.isfinite(values).all()):
            raise UsageError(f"{str(path)!r}: column {name} must be positive and finite in every row")
    if convention == "full":
        raise UsageError("the 'full' FLOP convention needs the models' architectures, which a CSV lacks; "
                         "use 6N, or 'table' to read FLOPs per token from the file's C column")
    if convention == "table" and columns["C"] is None:
        raise UsageError(f"{str(path)!r} has no C column for the 'table' FLOP convention; add one or use 6N")
    count = knots_to_count(convention, columns["N"], columns["C"] / columns["D"] if convention == "table" else [])
    return FitTable(**columns, flop_count=count)
