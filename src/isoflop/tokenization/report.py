"""The tokenizer comparison as a terminal table and as CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .metrics import COLUMNS, TokenizerMetrics


def comparison_table(results: list[TokenizerMetrics]) -> str:
    """The comparison as an aligned text table."""
    header = ["tokenizer", *(title for title, _ in COLUMNS.values())]
    rows = [[short_name(m.name), *(form.format(getattr(m, field)) for field, (_, form) in COLUMNS.items())] for m in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in [header, *rows]]
    return "\n".join(lines)


def short_name(spec: str) -> str:
    """A folder's last part, anything else as given."""
    return Path(spec).name if Path(spec).is_dir() else spec


def comparison_csv(results: list[TokenizerMetrics]) -> str:
    """The comparison as CSV."""
    out = io.StringIO()
    fields = list(results[0].as_dict())
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for m in results:
        writer.writerow(m.as_dict())
    return out.getvalue()
