"""``isoflop status``: where each run of a study folder stands, and storing what has finished."""

from __future__ import annotations

import click


@click.command()
@click.argument("folder", type=click.Path(file_okay=False))
def status(folder: str) -> None:
    """Each run of a study folder: stored, finished (not stored yet), pending, running or failed (with the last line
    of its SLURM log); stores the runs that have finished. Run the study command again to submit what is missing."""
    from ..execution.status import folder_status

    found = folder_status(folder)
    if found.runs:
        width = max(len(run.label) for run in found.runs)
        state_width = max(len(run.state) for run in found.runs)
        for run in found.runs:
            click.echo(f"{run.label:<{width}}  {run.state:<{state_width}}  {run.job:<10} {run.detail}".rstrip())
    summary = ", ".join(f"{count} {state}" for state, count in sorted(found.counts().items()))
    click.echo(f"{len(found.runs)} run(s): {summary or 'none'}")
    if found.merged:
        click.echo(f"stored {found.merged} run(s) that had finished")
    if found.holder:
        click.echo("another isoflop process holds this folder and stores runs as they finish; nothing was stored here")
