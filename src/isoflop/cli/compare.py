"""``isoflop compare``: two study folders side by side."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("first", type=click.Path(file_okay=False))
@click.argument("second", type=click.Path(file_okay=False))
@click.option("--output", default=None, help="where the comparison's report goes [default: FIRST-vs-SECOND beside FIRST]")
def compare(first: str, second: str, output: str | None) -> None:
    """Two study folders of one kind side by side: their answers, and the final loss at each shared grid point
    with the difference B − A paired by seed; a table here, and a report (summary.md, report.html, a figure)."""
    from ..report.compare import compare as build
    from ..report.markdown import plain
    from ..report.write import write_report
    from ..studies.runner import check_output_folder

    a, b = Path(first), Path(second)
    folder = Path(output) if output else a.parent / f"{a.name}-vs-{b.name}"
    check_output_folder(folder)
    document = build(a, b, folder)
    files = write_report(document, folder)
    click.echo("\n".join(plain(line) for line in document.answer))
    table = document.sections[0].blocks[0]
    widths = [max(len(cell) for cell in column) for column in zip(table.header, *table.rows)]
    for row in [table.header, *table.rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    click.echo(f"report: {folder}/  ({', '.join(path.name for path in files)})")
