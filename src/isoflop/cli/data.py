"""``isoflop data stats``: rows, tokens and chunks of a text source."""

from __future__ import annotations

import json
from typing import Any

import click

from ..config.parts import DataConfig, TokenizerConfig
from .options import part_options


@click.group()
def data() -> None:
    """Inspect text sources."""


@data.command()
@click.argument("source")
@click.option("--split", type=click.Choice(["train", "validation"]), default="train", help="split of an embedded or Hub corpus")
@click.option("--json", "as_json", is_flag=True, help="print a JSON object")
@part_options(TokenizerConfig)
@part_options(DataConfig, only=("seq_len", "chunking", "text_column", "encoding"))
def stats(source: str, split: str, as_json: bool, tokenizer: str | None, **settings: Any) -> None:
    """Rows, tokens and chunks of SOURCE (embedded name, hub:NAME[:CONFIG], file or folder)."""
    from pydantic import ValidationError

    from ..config.load import describe
    from ..data.prepare import corpus_stats
    from ..data.sources import load_rows
    from ..errors import UsageError
    from ..tokenization.resolve import load_tokenizer

    try:
        data_config = DataConfig(train_data=source, **{k: v for k, v in settings.items() if v is not None})
        tokenizer_config = TokenizerConfig(**({"tokenizer": tokenizer} if tokenizer else {}))
    except ValidationError as error:
        raise UsageError(f"invalid configuration: {describe(error)}") from None
    rows = load_rows(source, split, data_config.text_column, data_config.text_encoding)
    result = {"source": source, "split": split, "tokenizer": tokenizer_config.tokenizer}
    stats_ = corpus_stats(rows, load_tokenizer(tokenizer_config.tokenizer), data_config.seq_len, data_config.chunking)
    result.update(stats_.as_dict())
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            click.echo(f"{key:>16}: {value:.4f}" if isinstance(value, float) else f"{key:>16}: {value}")
