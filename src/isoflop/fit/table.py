"""Reading fit input: any CSV or TSV with columns N, D, loss (optionally C, U, seed), by name or alias."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..results.exports import cell_matches
from .flops import FlopCount, knots_to_count

REQUIRED = ("N", "D", "loss")
OPTIONAL = ("C", "U", "seed")
# Per-budget minima (--minima): one compute-optimal row per budget.
MINIMA_REQUIRED = ("C", "N", "loss")
MINIMA_OPTIONAL = ("D",)


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

    @classmethod
    def from_arrays(cls, N, D, loss, C=None, U=None, seed=None, count: str | None = "total") -> FitTable:
        """Points from arrays (any sequences of numbers); ``count``: what N counts ("total" or "non-embedding").
        Compute is C where given (its own FLOP count), else 6·N·D."""
        def column(name, values, positive=True):
            if values is None:
                return None
            array = np.asarray(values, dtype=float).reshape(-1)
            if positive and not (np.isfinite(array).all() and (array > 0).all()):
                raise UsageError(f"{name} must be positive and finite in every row")
            return array

        columns = {"N": column("N", N), "D": column("D", D), "loss": column("loss", loss), "C": column("C", C),
                   "U": column("U", U), "seed": column("seed", seed, positive=False)}
        lengths = {name: len(values) for name, values in columns.items() if values is not None}
        if len(set(lengths.values())) != 1:
            raise UsageError(f"N, D, loss (and C, U, seed where given) must have one value per run, got lengths {lengths}")
        if count not in ("total", "non-embedding", None):
            raise UsageError(f"count must be 'total' or 'non-embedding', got {count!r}")
        flop_count = FlopCount("6N") if C is None else knots_to_count("table", columns["N"], columns["C"] / columns["D"])
        return cls(**columns, flop_count=flop_count, parameter_count=count)

    @classmethod
    def from_frame(cls, frame, N: str = "N", D: str = "D", loss: str = "loss", C: str | None = None, U: str | None = None,
                   seed: str | None = None, count: str | None = "total") -> FitTable:
        """Points from a pandas DataFrame (or any mapping of column name → values), naming each column."""
        def pick(name):
            if name is None:
                return None
            if name not in frame:
                raise UsageError(f"the frame has no column {name!r}; its columns: {', '.join(map(str, frame.keys()))}")
            return np.asarray(frame[name], dtype=float)

        return cls.from_arrays(pick(N), pick(D), pick(loss), pick(C), pick(U), pick(seed), count)

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
    "D": ("d", "tokens", "training_tokens", "samples"),
    "loss": ("loss", "val_loss", "final_val_loss"),  # final_val_loss: what isoflop show --csv writes
    "C": ("c", "flops", "compute", "budget_flops"),
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
    selected: int  # rows kept by --where (all rows without it)


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


def parse_where(pairs) -> dict[str, str]:
    """``--where model=gpt2 --where seed=0`` → {"model": "gpt2", "seed": "0"}."""
    found = {}
    for pair in pairs or ():
        column, sign, value = pair.partition("=")
        if not sign or not column.strip():
            raise UsageError(f"--where {pair!r}: give COLUMN=VALUE, e.g. --where model=gpt2")
        found[column.strip()] = value.strip()
    return found


def read_columns(path: str | Path, required=REQUIRED, optional=OPTIONAL, mapping: dict[str, str] | None = None,
                 where: dict[str, str] | None = None) -> tuple[dict[str, np.ndarray | None], dict[str, str], bytes, int]:
    """A CSV or TSV's numeric columns by our names (BOM and padded headers allowed, names by ``ALIASES`` or
    ``mapping``), of the rows where every ``where`` column equals its value (as text, or as the same number);
    also the header each name came from, the file's bytes and its row count."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{str(path)!r} is not a file; pass a CSV with columns {', '.join(required)}")
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
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise UsageError(f"{str(path)!r} line {number} has a different number of fields than the header; fix or remove it")
    rows = len(body)
    for column, value in (where or {}).items():
        if column not in header:
            raise UsageError(f"--where {column}={value}: {str(path)!r} has no column {column!r}; its columns: {', '.join(header)}")
        index = header.index(column)
        body = [row for row in body if cell_matches(row[index], value)]
        if not body:
            values = sorted({row[index].strip() for row in csv.reader(lines[1:], delimiter=delimiter) if len(row) == len(header)})
            shown = ", ".join(values[:8]) + (" …" if len(values) > 8 else "")
            raise UsageError(f"--where {column}={value}: no row of {str(path)!r} matches; {column} holds {shown}")
    found = _find_columns(path, header, mapping or {}, required, optional)
    columns = {}
    for name in tuple(required) + tuple(optional):
        if name not in found:
            columns[name] = None
            continue
        index = header.index(found[name])
        try:
            columns[name] = np.array([float(row[index]) for row in body])
        except ValueError as error:
            hint = "; an empty cell is a failed run's: keep the others with --where status=completed" if "status" in header else ""
            raise UsageError(f"{str(path)!r}: column {_label(name, found)} holds a non-number ({error}){hint}") from None
    return columns, found, raw, rows


def read_table(path: str | Path, convention: str = "6N", mapping: dict[str, str] | None = None,
               dedupe: bool = False, where: dict[str, str] | None = None, minima: bool = False) -> tuple[FitTable, TableSource]:
    """A CSV or TSV's points (``read_columns``); ``convention`` says how its compute is counted (``table``: from its own
    C column). ``minima``: one compute-optimal (C, N, loss) row per budget, D optional (C / 6N under 6N)."""
    path = Path(path)
    required, optional = (MINIMA_REQUIRED, MINIMA_OPTIONAL) if minima else (REQUIRED, OPTIONAL)
    columns, found, raw, rows = read_columns(path, required, optional, mapping, where)
    for name in REQUIRED + ("C", "U"):
        values = columns.get(name)
        if values is not None and ((values <= 0).any() or not np.isfinite(values).all()):
            raise UsageError(f"{str(path)!r}: column {_label(name, found)} must be positive and finite in every row")
    if minima and columns["D"] is None:
        if convention != "6N":
            raise UsageError(f"{str(path)!r} has no D column: minima without D need the 6N count (D* = C / 6N*); add D")
        columns["D"] = columns["C"] / (6 * columns["N"])
    for name in REQUIRED + OPTIONAL:
        columns.setdefault(name, None)
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
    source = TableSource(hashlib.sha256(raw).hexdigest(), rows, found, duplicates, duplicates if dedupe else 0,
                         len(columns["N"]))
    return FitTable(**{name: columns[name] for name in REQUIRED + OPTIONAL}, flop_count=count), source


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
                   "if N counts non-embedding parameters, C also pays for the embeddings and the head: read FLOPs per "
                   "token from C with --flop-convention table; otherwise check the C column's units and direction "
                   "(FLOPs, not PF-days or its inverse), or drop it")


def _find_columns(path: Path, header: list[str], mapping: dict[str, str], required=REQUIRED,
                  optional=OPTIONAL) -> dict[str, str]:
    """Our column name → the file's header, by explicit mapping first, then by alias."""
    found: dict[str, str] = {}
    for name, wanted in mapping.items():
        if wanted not in header:
            raise UsageError(f"--columns maps {name} to {wanted!r}, which {str(path)!r} lacks; its columns: {', '.join(header)}")
        found[name] = wanted
    for name in tuple(required) + tuple(optional):
        aliases = ALIASES[name]
        if name in found:
            continue
        matches = [h for h in header if h.lower() in aliases and h not in found.values()]
        if len(matches) > 1:
            raise UsageError(f"{str(path)!r} has several columns for {name} ({', '.join(matches)}); choose one with --columns {name}=HEADER")
        if matches:
            found[name] = matches[0]
    missing = [c for c in required if c not in found]
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
