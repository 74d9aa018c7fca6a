"""Reading fit input: any CSV or TSV with columns N, D, loss (optionally C, U, seed), by name or alias."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UsageError
from .flops import FlopCount, knots_to_count

REQUIRED = ("N", "D", "loss")
OPTIONAL = ("C", "U", "seed")


@dataclass(frozen=True)
class FitTable:
    """The points a law is fitted to: N, D, C and the loss of each completed run, with their conventions."""

    N: np.ndarray
    D: np.ndarray
    loss: np.ndarray
    C: np.ndarray | None
    U: np.ndarray | None
    seed: np.ndarray | None
    flop_count: FlopCount = FlopCount("6N")
    parameter_count: str | None = None  # what N counts: total or non-embedding parameters (None: not stated)

    def subset(self, keep: np.ndarray) -> FitTable:
        """The rows where ``keep`` holds."""
        def pick(column):
            return None if column is None else column[keep]

        return dataclasses.replace(self, N=self.N[keep], D=self.D[keep], loss=self.loss[keep], C=pick(self.C),
                                   U=pick(self.U), seed=pick(self.seed))

    def budgets(self) -> np.ndarray:
        """The C column, or C counted by the table's convention, rounded to 3 significant digits so equal budgets group."""
        if self.C is not None:
            return self.C
        return np.array([float(f"{c:.3g}") for c in self.flop_count.flops(self.N, self.D)])

    def budget_count(self) -> FlopCount | None:
        """The FLOP count that the budgets follow; None for a C column that a 6N assumption may not match."""
        return self.flop_count if self.C is None or self.flop_count.convention != "6N" else None


# Header names accepted for each column, case-insensitive, surrounding spaces ignored.
ALIASES = {
    "N": ("n", "params", "parameters", "model_size"),
    "D": ("d", "tokens", "training_tokens"),
    "loss": ("loss", "val_loss"),
    "C": ("c", "flops", "compute"),
    "U": ("u", "unique_tokens"),
    "seed": ("seed",),
}


@dataclass(frozen=True)
class TableSource:
    """Where a CSV's points came from, for the law file's provenance."""

    sha256: str
    rows: int
    columns: dict[str, str]  # our name → the file's header
    duplicates: int  # rows repeating an earlier (N, D, loss, C, U, seed) exactly
    dropped: int  # duplicate rows removed by --dedupe


def parse_mapping(text: str | None) -> dict[str, str]:
    """``--columns N=params,D=tokens`` → {"N": "params", "D": "tokens"}."""
    if not text:
        return {}
    mapping = {}
    for part in text.split(","):
        name, _, header = part.partition("=")
        name, header = name.strip(), header.strip()
        canonical = next((c for c in ALIASES if c.lower() == name.lower()), None)
        if canonical is None or not header:
            raise UsageError(f"--columns {text!r}: each entry is NAME=HEADER with NAME one of {', '.join(ALIASES)}")
        mapping[canonical] = header
    return mapping


def read_table(path: str | Path, convention: str = "6N", mapping: dict[str, str] | None = None,
               dedupe: bool = False) -> tuple[FitTable, TableSource]:
    """A CSV or TSV's points (BOM and padded headers allowed, names by ``ALIASES`` or ``mapping``);
    ``convention`` says how its compute is counted (``table``: from its own C column)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{str(path)!r} is not a file; pass a CSV with columns {', '.join(REQUIRED)}")
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
        lines = text.splitlines()
        delimiter = "\t" if lines and "\t" in lines[0] and "," not in lines[0] else ","
        reader = csv.reader(lines, delimiter=delimiter)
        header = [name.strip() for name in next(reader, [])]
        body = [row for row in reader if any(cell.strip() for cell in row)]
    except (UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"{str(path)!r} is not a readable CSV text file ({error})") from None
    if not body:
        raise UsageError(f"{str(path)!r} has no rows")
    found = _find_columns(path, header, mapping or {})
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise UsageError(f"{str(path)!r} line {number} has a different number of fields than the header; fix or remove it")
    columns = {}
    for name in REQUIRED + OPTIONAL:
        if name not in found:
            columns[name] = None
            continue
        index = header.index(found[name])
        try:
            columns[name] = np.array([float(row[index]) for row in body])
        except ValueError as error:
            raise UsageError(f"{str(path)!r}: column {_label(name, found)} holds a non-number ({error})") from None
    for name in REQUIRED + ("C", "U"):
        values = columns[name]
        if values is not None and ((values <= 0).any() or not np.isfinite(values).all()):
            raise UsageError(f"{str(path)!r}: column {_label(name, found)} must be positive and finite in every row")
    _check_consistency(path, columns, found, convention)
    keep = _first_occurrences(columns)
    duplicates = int(len(keep) - keep.sum())
    if dedupe and duplicates:
        columns = {name: None if values is None else values[keep] for name, values in columns.items()}
    if convention == "full":
        raise UsageError("the 'full' FLOP convention needs the models' architectures, which a CSV lacks; "
                         "use 6N, or 'table' to read FLOPs per token from the file's C column")
    if convention == "table" and columns["C"] is None:
        raise UsageError(f"{str(path)!r} has no C column for the 'table' FLOP convention; add one or use 6N")
    count = knots_to_count(convention, columns["N"], columns["C"] / columns["D"] if convention == "table" else [])
    source = TableSource(hashlib.sha256(raw).hexdigest(), len(body), found, duplicates, duplicates if dedupe else 0)
    return FitTable(**columns, flop_count=count), source


# C = k·N·D: 6 under Chinchilla's count; the full count of small models, or a forward-only count, stays inside this.
FLOP_FACTOR_RANGE = (2.0, 12.0)
ROWS_SHOWN = 3


def _check_consistency(path: Path, columns: dict, found: dict, convention: str) -> None:
    """Refuse, naming the rows, a table whose columns contradict each other (swapped U and D; under the 6N count, a
    C column in other units or inverted). Under the 'table' count C is the table's own FLOP count: any k is its own."""
    N, D, U, C = columns["N"], columns["D"], columns["U"], columns["C"]

    def refuse(bad: np.ndarray, what: str, advice: str) -> None:
        rows = np.flatnonzero(bad) + 2  # line numbers: the header is line 1
        shown = ", ".join(str(r) for r in rows[:ROWS_SHOWN]) + (f" and {len(rows) - ROWS_SHOWN} more" if len(rows) > ROWS_SHOWN else "")
        raise UsageError(f"{str(path)!r} line(s) {shown}: {what}; {advice}")

    if U is not None and (U > D * (1 + 1e-9)).any():
        refuse(U > D * (1 + 1e-9), f"{_label('U', found)} exceeds {_label('D', found)} (fewer than 1 epoch of the unique "
               "tokens is impossible: a run cannot see more unique tokens than it trains on)",
               "check whether the two columns are swapped, or map them with --columns")
    if C is not None and convention == "6N":
        factor = C / (N * D)
        low, high = FLOP_FACTOR_RANGE
        bad = (factor < low) | (factor > high)
        if bad.any():
            refuse(bad, f"C/(N·D) = {factor[bad][0]:.3g} lies outside [{low:g}, {high:g}] (6 under C = 6ND)",
                   "check the C column's units and direction (FLOPs, not PF-days or its inverse), or drop it")


def _find_columns(path: Path, header: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """Our column name → the file's header, by explicit mapping first, then by alias."""
    found: dict[str, str] = {}
    for name, wanted in mapping.items():
        if wanted not in header:
            raise UsageError(f"--columns maps {name} to {wanted!r}, which {str(path)!r} lacks; its columns: {', '.join(header)}")
        found[name] = wanted
    for name, aliases in ALIASES.items():
        if name in found:
            continue
        matches = [h for h in header if h.lower() in aliases and h not in found.values()]
        if len(matches) > 1:
            raise UsageError(f"{str(path)!r} has several columns for {name} ({', '.join(matches)}); choose one with --columns {name}=HEADER")
        if matches:
            found[name] = matches[0]
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        wanted = "; ".join(f"{c} as {'|'.join(ALIASES[c])}" for c in missing)
        raise UsageError(f"{str(path)!r} lacks column(s) {', '.join(missing)} (its columns: {', '.join(header)}); "
                         f"name {wanted}, or map them with --columns {missing[0]}=HEADER")
    return found


def _label(name: str, found: dict[str, str]) -> str:
    return name if found[name] == name else f"{found[name]} ({name})"


def _first_occurrences(columns: dict[str, np.ndarray | None]) -> np.ndarray:
    """True for each row that does not repeat an earlier row exactly."""
    present = np.column_stack([values for values in columns.values() if values is not None])
    _, first = np.unique(present, axis=0, return_index=True)
    keep = np.zeros(len(present), dtype=bool)
    keep[first] = True
    return keep
