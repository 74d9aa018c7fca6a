"""``isoflop tokenizer train|inspect|compare``: byte-level BPE tokenizers, trained, looked into and measured."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..config.base import MAX_SEED
from ..errors import UsageError


def stream_options(command):
    """The options that shape a streamed corpus, shared by train and compare."""
    for option in reversed([
        click.option("--text-column", default="text", show_default=True, help="column holding the text in Hub, .jsonl and .parquet data"),
        click.option("--buffer-size", type=int, default=None, help="shuffle through a buffer of this many documents [default: no shuffle]"),
        click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
                     help="seed of the shuffle buffer (0 to 2^32-1)"),
        click.option("--max-documents", type=int, default=None, help="stop after this many documents"),
        click.option("--max-chars", type=int, default=None, help="stop once this many characters were read"),
    ]):
        command = option(command)
    return command


def _stream(split: str, text_column: str, buffer_size, seed: int, max_documents, max_chars):
    from ..data.stream import StreamOptions

    return StreamOptions(split=split, text_column=text_column, buffer_size=buffer_size, seed=seed,
                         max_documents=max_documents, max_chars=max_chars)


@click.group()
def tokenizer() -> None:
    """Train a byte-level BPE tokenizer, inspect it, compare it with others."""


@tokenizer.command()
@click.option("--corpus", default="python-stdlib", show_default=True,
              help="text to train on: python-docs, python-stdlib, hub:NAME[:CONFIG][#SPLIT], or a .txt/.jsonl/.parquet file or folder")
@click.option("--split", type=click.Choice(["train", "validation"]), default="train", show_default=True,
              help="which half of an embedded or Hub corpus")
@click.option("--vocab-size", type=int, default=4096, show_default=True, help="size of the vocabulary, special tokens included")
@click.option("--base", default="gpt2", show_default=True,
              help="the pipeline to keep: gpt2 (byte-level, GPT-2's pre-tokenizer), bytes (byte-level, no word split), or a tokenizer folder")
@click.option("--min-frequency", type=int, default=2, show_default=True, help="merges of pairs seen fewer times are not learned")
@click.option("--special-tokens", default="", help="extra special tokens, comma-separated (<|endoftext|> is always there)")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="folder to write [default: isoflop-runs/tokenizers/CORPUS-VOCAB]")
@stream_options
def train(corpus: str, split: str, vocab_size: int, base: str, min_frequency: int, special_tokens: str, out: str | None,
          text_column: str, buffer_size, seed: int, max_documents, max_chars) -> None:
    """Train a byte-level BPE on a corpus, streamed; save it as a save_pretrained folder."""
    from ..tokenization.train import TrainSettings, train_tokenizer

    settings = TrainSettings(corpus, vocab_size, base, min_frequency,
                             tuple(t.strip() for t in special_tokens.split(",") if t.strip()),
                             _stream(split, text_column, buffer_size, seed, max_documents, max_chars))
    folder = Path(out) if out else Path("isoflop-runs") / "tokenizers" / f"{Path(corpus).name.replace(':', '-')}-{vocab_size}"
    for warning in settings.warnings():
        click.echo(f"warning: {warning}", err=True)
    record = train_tokenizer(settings, folder)
    seen = record["seen"]
    click.echo(f"trained a {record['vocab_size']:,}-token byte-level BPE on {seen['documents']:,} documents "
               f"({seen['characters']:,} characters) of {corpus} in {record['seconds']:.1f} s")
    if record["vocab_size"] < vocab_size:
        click.echo(f"note: the corpus supported only {record['vocab_size']:,} tokens at --min-frequency {min_frequency}")
    click.echo(f"saved: {folder}/ (AutoTokenizer.from_pretrained loads it; --tokenizer {folder} in any study)")


@tokenizer.command()
@click.argument("spec")
@click.option("--count", type=click.IntRange(min=1), default=10, show_default=True, help="how many merges and long tokens to show")
@click.option("--text", default=None, help="show how this text is split")
@click.option("--file", "text_file", type=click.Path(dir_okay=False), default=None, help="show how this file's text is split")
@click.option("--keywords", default=None, help="python (Python's keywords) or a file with one keyword per line: which are single tokens")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def inspect(spec: str, count: int, text: str | None, text_file: str | None, keywords: str | None, as_json: bool) -> None:
    """Look inside a tokenizer (SPEC: gpt2, bytes, a folder, or a Hub name)."""
    from ..tokenization.inspect import inspect_tokenizer, keyword_coverage, keywords_from, split_text
    from ..tokenization.resolve import load_tokenizer

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
@click.option("--corpus", default="python-stdlib", show_default=True, help="documents to measure on (same forms as train)")
@click.option("--split", type=click.Choice(["train", "validation"]), default="validation", show_default=True,
              help="which half of an embedded or Hub corpus (validation: the half a trained tokenizer did not see)")
@click.option("--text", default=None, help="sample text shown side by side [default: the start of the first document]")
@click.option("--out", type=click.Path(file_okay=False), default="isoflop-runs/tokenizers/compare", show_default=True,
              help="folder for compare.json, compare.csv and compare.png")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of the table")
@click.option("--csv", "as_csv", is_flag=True, help="print CSV instead of the table")
@stream_options
def compare(specs: tuple[str, ...], corpus: str, split: str, text: str | None, out: str, as_json: bool, as_csv: bool,
            text_column: str, buffer_size, seed: int, max_documents, max_chars) -> None:
    """Measure tokenizers (gpt2, bytes, folders, Hub names) on the same documents; the first is the reference."""
    from ..data.stream import stream_documents
    from ..report.tokenizer_plots import plot_comparison
    from ..tokenization.inspect import split_text
    from ..tokenization.metrics import compare as measure_all
    from ..tokenization.resolve import load_tokenizer
    from ..tokenization.report import comparison_csv, comparison_table

    if len(specs) < 2:
        raise UsageError("give at least two tokenizers to compare, e.g. isoflop tokenizer compare FOLDER gpt2 bytes")
    loaded = [(spec, load_tokenizer(spec)) for spec in specs]
    documents = list(stream_documents(corpus, _stream(split, text_column, buffer_size, seed, max_documents, max_chars)))
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
