"""``isoflop tokenizer train|inspect|compare``: byte-level BPE tokenizers, trained, looked into and measured."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..config.tools import TokenizerCompareConfig, TokenizerInspectConfig, TokenizerTrainConfig
from ..errors import UsageError
from .options import CONFIG_FILE, config_options, part_options


@click.group()
def tokenizer() -> None:
    """Train a byte-level BPE tokenizer, inspect it, compare it with others."""


@tokenizer.command()
@CONFIG_FILE
@config_options(TokenizerTrainConfig)
def train(config_file: str | None, **values) -> None:
    """Train a byte-level BPE on a corpus, streamed; save it as a save_pretrained folder."""
    from ..config.load import build_composed
    from ..tokenization.train import train_tokenizer, warnings

    config = build_composed(TokenizerTrainConfig, config_file, values)
    folder = config.folder()
    for warning in warnings(config.training):
        click.echo(f"warning: {warning}", err=True)
    record = train_tokenizer(config, folder)
    seen, corpus = record["seen"], config.corpus.train_data
    click.echo(f"trained a {record['vocab_size']:,}-token byte-level BPE on {seen['documents']:,} documents "
               f"({seen['characters']:,} characters) of {corpus} in {record['seconds']:.1f} s")
    if record["vocab_size"] < config.training.vocab_size:
        click.echo(f"note: the corpus supported only {record['vocab_size']:,} tokens at --min-frequency "
                   f"{config.training.min_frequency}")
    click.echo(f"saved: {folder}/ (AutoTokenizer.from_pretrained loads it; --tokenizer {folder} in any study)")


@tokenizer.command()
@click.argument("spec")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@part_options(TokenizerInspectConfig)
def inspect(spec: str, as_json: bool, **values) -> None:
    """Look inside a tokenizer (SPEC: gpt2, bytes, a folder, or a Hub name)."""
    from ..config.load import build_part
    from ..tokenization.inspect import inspect_tokenizer, keyword_coverage, keywords_from, split_text
    from ..tokenization.resolve import load_tokenizer

    shown = build_part(TokenizerInspectConfig, values)
    count, text, text_file, keywords = shown.count, shown.text, shown.file, shown.keywords

    if text_file:
        try:
            text = Path(text_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"--file {text_file!r} cannot be read as UTF-8 text ({error})") from None
    words = keywords_from(keywords) if keywords else None
    loaded = load_tokenizer(spec)
    found = inspect_tokenizer(loaded, spec, count)
    pieces = split_text(loaded, text) if text is not None else None
    coverage = keyword_coverage(loaded, words) if words else None
    if as_json:
        click.echo(json.dumps({**found.as_dict(), "text_tokens": pieces, "keywords": coverage}, indent=2, ensure_ascii=False))
        return
    click.echo(f"{spec}: {found.vocab_size:,} tokens; special: {', '.join(found.special_tokens) or 'none'}")
    if found.record:
        seen = found.record["seen"]
        click.echo(f"trained by isoflop on {found.record['corpus']} ({seen['documents']:,} documents, "
                   f"{seen['characters']:,} characters, sha256 {seen['sha256'][:12]}…), base {found.record['base']}")
    for title, merges in ((f"first {count} merges", found.first_merges), (f"last {count} merges", found.last_merges)):
        if merges:
            click.echo(f"{title}:")
            for token_id, left, right, result in merges:
                click.echo(f"  {token_id:>7}  {left} + {right} → {result}")
    click.echo(f"longest {count} tokens (bytes):")
    for token_id, token, size in found.longest:
        click.echo(f"  {token_id:>7}  {size:>3}  {token}")
    click.echo("legend: ␣ space, ↵ line break, ⇥ tab, ⟨e4 b8⟩ bytes of a partial UTF-8 character")
    if pieces is not None:
        click.echo(f"text → {len(pieces)} tokens: " + " | ".join(pieces))
    if coverage is not None:
        click.echo(f"keywords: {len(words)}; one token on their own: {len(coverage['single'])}, after a space: "
                   f"{len(coverage['single_after_space'])}")
        click.echo("  split either way: " + (", ".join(coverage["split"]) or "none"))
        lonely = sorted(set(words) - set(coverage["single"]) - set(coverage["split"]))
        if lonely:
            click.echo("  one token only after a space: " + ", ".join(lonely))


@tokenizer.command()
@click.argument("specs", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of the table")
@click.option("--csv", "as_csv", is_flag=True, help="print CSV instead of the table")
@CONFIG_FILE
@config_options(TokenizerCompareConfig)
def compare(specs: tuple[str, ...], as_json: bool, as_csv: bool, config_file: str | None, **values) -> None:
    """Measure tokenizers (gpt2, bytes, folders, Hub names) on the same documents; the first is the reference."""
    from ..config.load import build_composed
    from ..data.stream import stream_documents
    from ..report.tokenizer_plots import plot_comparison
    from ..tokenization.inspect import split_text
    from ..tokenization.metrics import compare as measure_all
    from ..tokenization.resolve import load_tokenizer
    from ..tokenization.report import comparison_csv, comparison_table
    from ..tokenization.train import stream_of

    config = build_composed(TokenizerCompareConfig, config_file, values)
    corpus, split, text, out = config.corpus.train_data, config.split.split, config.text, config.output
    if len(specs) < 2:
        raise UsageError("give at least two tokenizers to compare, e.g. isoflop tokenizer compare FOLDER gpt2 bytes")
    loaded = [(spec, load_tokenizer(spec)) for spec in specs]
    documents = list(stream_documents(corpus, stream_of(config)))
    if not any(d.strip() for d in documents):
        raise UsageError(f"corpus {corpus!r} ({split}) yielded no text to measure on")
    results = measure_all(loaded, documents)
    sample = text if text is not None else next(d for d in documents if d.strip())[:120]
    side_by_side = {spec: split_text(t, sample) for spec, t in loaded}
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"corpus": corpus, "split": split, "documents": len(documents), "metrics": [m.as_dict() for m in results],
               "sample": sample, "sample_tokens": side_by_side}
    (folder / "compare.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    table_csv = comparison_csv(results)
    (folder / "compare.csv").write_text(table_csv, encoding="utf-8")
    plot = plot_comparison(results, folder, f"{corpus} ({split}, {len(documents):,} documents)")
    if as_json or as_csv:
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False) if as_json else table_csv, nl=as_json)
        return
    click.echo(f"{len(documents):,} documents of {corpus} ({split}), {results[0].characters:,} characters, "
               f"{results[0].words:,} words")
    click.echo(comparison_table(results))
    click.echo(f"sample: {sample!r}")
    for spec, pieces in side_by_side.items():
        click.echo(f"  {spec} ({len(pieces)}): " + " | ".join(pieces))
    click.echo(f"saved: {folder}/compare.json, compare.csv, {plot.name}")
