"""One command per study kind, generated from its config."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..errors import UsageError

from ..config.presets import PRESETS
from ..config.studies import STUDIES
from .options import CONFIG_FILE, config_options


def study_preamble(presets: list[str], preset_help: str = "start from a named preset"):
    """The options every study command shares: a preset, a config file, --quiet, --dry-run."""
    def decorate(command):
        for option in reversed([
            click.option("--preset", type=click.Choice(presets), default=None, help=preset_help),
            CONFIG_FILE,
            click.option("--quiet", is_flag=True, help="no progress bars, and no output but the outcome and the answer"),
            click.option("--dry-run", is_flag=True, help="print the plan (every run, its steps, tokens, FLOPs, learning "
                         "rate, whether the folder holds it) and stop: nothing is trained or written"),
        ]):
            command = option(command)
        return command

    return decorate


ESTIMATE = click.option("--estimate", is_flag=True, help="with --dry-run: also estimate the wall time on this machine, "
                        "from a short calibration (each model shape trained a few steps here; imports torch)")


def check_estimate(estimate: bool, dry_run: bool) -> None:
    if estimate and not dry_run:
        raise UsageError("--estimate goes with --dry-run (it estimates the plan's time before anything trains); add "
                         "--dry-run")


def study_command(kind: str, summary: str) -> click.Command:
    """The ``isoflop KIND`` command of a study kind: its config's options, a preset, a config file, --dry-run."""
    study = STUDIES[kind]

    @study_preamble(list(PRESETS[kind]))
    @click.option("--wait", is_flag=True, help="if another isoflop process is writing to --output, wait for it instead of exiting")
    @ESTIMATE
    @click.option("--force-new-data", is_flag=True,
                  help="if the data changed under the stored runs, move the old results to OUTPUT/superseded/ and start over")
    @config_options(study)
    def command(preset: str | None, config_file: str | None, quiet: bool, dry_run: bool, wait: bool, estimate: bool,
                force_new_data: bool, **overrides: Any) -> None:
        from ..config.load import build_config

        check_estimate(estimate, dry_run)
        config = build_config(preset, config_file, overrides, kind=kind)
        if dry_run:
            from ..studies.dry_run import dry_run as plan_only

            click.echo("\n".join(plan_only(config, estimate=estimate)))
            return
        from ..report.markdown import plain
        from ..studies.runner import run_study

        outcome = run_study(config, echo=lambda line: click.echo(line, err=True), progress=not quiet, wait=wait,
                            force_new_data=force_new_data)
        if outcome.submitted or outcome.queued:
            arrays = ", ".join(outcome.submitted) or "none"
            click.echo(f"submitted {outcome.trained - outcome.queued} run(s) as SLURM job array(s) {arrays}; "
                       f"{outcome.queued} were queued already. Follow them with: isoflop status {outcome.folder}; "
                       "when they are done, the same command stores the rest and writes the report")
            return
        click.echo(f"{outcome.trained} run(s) trained ({outcome.completed} completed, {len(outcome.failed)} failed), "
                   f"{outcome.skipped} already done; engine: {outcome.engine}")
        click.echo("\n".join(plain(line) for line in outcome.answer))
        click.echo(f"results: {outcome.folder}/  ({', '.join(path.name for path in outcome.files)})")
        if outcome.failed:
            sys.exit(1)

    command.__doc__ = summary
    return click.command(name=kind, help=summary)(command)

