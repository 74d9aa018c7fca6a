"""``isoflop show``: the runs of a results folder."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError


@click.command()
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, help="also export the runs as CSV")
@click.option("--per-step", is_flag=True, help="CSV with one row per run and step")
@click.option("--evaluated-only", is_flag=True, help="with --per-step: only the steps where the validation loss was "
              "measured (and each run's last step): approach 1's points, in a far smaller file")
def show(folder: str, csv_path: str | None, per_step: bool, evaluated_only: bool) -> None:
    """Print the runs of a results folder as a table, with the columns of its study kind."""
    from ..results.store import DATABASE_NAME

    if per_step and not csv_path:
        raise UsageError("--per-step shapes the CSV export and does nothing alone; add --csv PATH")
    if evaluated_only and not per_step:
        raise UsageError("--evaluated-only picks the steps of a --per-step export; add --per-step (and --csv PATH)")
    if csv_path and not Path(csv_path).resolve().parent.is_dir():
        raise UsageError(f"--csv {csv_path!r}: its folder does not exist; create it or choose another path")
    arms = sorted(p.parent for p in Path(folder).glob(f"*/{DATABASE_NAME}")) if Path(folder).is_dir() else []
    if not (Path(folder) / DATABASE_NAME).exists() and arms:
        # A vocabulary study: one isoFLOP study per tokenizer, each in its own sub-folder.
        if csv_path:
            raise UsageError(f"{folder!r} holds a vocabulary study of {len(arms)} tokenizers; export one of them: "
                             f"isoflop show {arms[0]} --csv PATH")
        for arm in arms:
            click.echo(f"── {arm.name} ({arm})")
            _show_one(str(arm), None, False, False)
        return
    _show_one(folder, csv_path, per_step, evaluated_only)


def _show_one(folder: str, csv_path: str | None, per_step: bool, evaluated_only: bool) -> None:
    from ..report.tables import run_table
    from ..results.store import Store

    with Store(folder, create=False) as store:
        kind = store.study_kind()
        records = store.records()
        if csv_path:
            count = store.export_csv(csv_path, per_step=per_step, evaluated_only=evaluated_only)
            click.echo(f"wrote {count} rows to {csv_path}", err=True)
    if kind is None:
        raise UsageError(f"{folder!r} holds no study yet")
    table = run_table(kind, records)
    widths = [max(len(h), *(len(row[i]) for row in table.rows)) if table.rows else len(h) for i, h in enumerate(table.header)]
    for row in [table.header, *table.rows]:
        cells = [cell.rjust(w) if right else cell.ljust(w) for cell, w, right in zip(row, widths, table.numeric)]
        click.echo("  ".join(cells).rstrip())
