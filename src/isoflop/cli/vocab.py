"""``isoflop vocab``: the isoFLOP ladder once per tokenizer, compared in bits per byte."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..config.presets import PRESETS
from ..config.studies import IsoflopsConfig
from ..errors import UsageError
from .options import config_options


@click.command(name="vocab")
@click.option("--tokenizers", default="bytes,bpe:1024,bpe:4096", show_default=True,
              help="tokenizers to compare, comma-separated: bytes, gpt2, folders, Hub names, or bpe:N (a BPE of N tokens "
                   "trained first on the study's --train-data)")
@click.option("--preset", type=click.Choice(list(PRESETS["isoflops"])), default=None,
              help="start from a named isoflops preset [default: vocab]")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None, help="YAML/TOML/JSON config file")
@click.option("--quiet", is_flag=True, help="no progress bars, and no output but the outcome and the answer")
@click.option("--dry-run", is_flag=True, help="print each tokenizer's plan and stop: nothing is trained or written")
@config_options(IsoflopsConfig)
def vocab(tokenizers: str, preset: str | None, config_file: str | None, quiet: bool, dry_run: bool, **overrides: Any) -> None:
    """Fixed compute, several vocabularies: which tokenizer gives the lowest compute-optimal bits per byte
    (output: isoflop-runs/vocab unless --output)."""
    from ..studies.vocab import run_vocab_study

    specs = tuple(t.strip() for t in tokenizers.split(",") if t.strip())
    if overrides.pop("tokenizer", None):
        raise UsageError("the vocabulary study takes --tokenizers A,B,… (each gets its own ladder), not --tokenizer")
    if dry_run:
        from ..studies.vocab import dry_run_vocab_study

        click.echo("\n".join(dry_run_vocab_study(specs, preset, config_file, overrides)))
        return
    root, arms, document, files = run_vocab_study(specs, preset, config_file, overrides,
                                                  echo=lambda line: click.echo(line, err=True), progress=not quiet)
    for arm in arms:
        outcome = arm.outcome
        click.echo(f"{arm.name}: {outcome.trained} run(s) trained ({outcome.completed} completed, {len(outcome.failed)} failed), "
                   f"{outcome.skipped} already done")
    click.echo("\n".join(document.answer))
    click.echo(f"results: {root}/  ({', '.join(path.name for path in files)}; one folder per tokenizer)")
    if any(arm.outcome.failed for arm in arms):
        sys.exit(1)
