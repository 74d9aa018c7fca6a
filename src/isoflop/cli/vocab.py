"""``isoflop vocab``: the isoFLOP ladder once per tokenizer, compared in bits per byte."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..config.presets import PRESETS
from ..config.studies import VocabConfig
from .options import config_options
from .studies import ESTIMATE, check_estimate, study_preamble


@click.command(name="vocab")
@study_preamble(list(PRESETS["isoflops"]), "start from a named isoflops preset [default: vocab]")
@ESTIMATE
@config_options(VocabConfig, leave_out=("tokenizer",))
def vocab(preset: str | None, config_file: str | None, quiet: bool, dry_run: bool, estimate: bool,
          **overrides: Any) -> None:
    """Fixed compute, several vocabularies: which tokenizer gives the lowest compute-optimal bits per byte
    (output: isoflop-runs/vocab unless --output)."""
    from ..report.markdown import plain
    from ..studies.vocab import dry_run_vocab_study, run_vocab_study, vocab_config

    check_estimate(estimate, dry_run)
    config = vocab_config(preset, config_file, overrides)
    if dry_run:
        click.echo("\n".join(dry_run_vocab_study(config, estimate)))
        return
    root, arms, document, files = run_vocab_study(config, echo=lambda line: click.echo(line, err=True), progress=not quiet)
    for arm in arms:
        outcome = arm.outcome
        click.echo(f"{arm.name}: {outcome.trained} run(s) trained ({outcome.completed} completed, {len(outcome.failed)} failed), "
                   f"{outcome.skipped} already done")
    click.echo("\n".join(plain(line) for line in document.answer))
    click.echo(f"results: {root}/  ({', '.join(path.name for path in files)}; one folder per tokenizer)")
    if any(arm.outcome.failed for arm in arms):
        sys.exit(1)
