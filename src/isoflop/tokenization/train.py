"""Training a byte-level BPE tokenizer on a streamed corpus.

The new tokenizer keeps its base's pipeline (normalizer, pre-tokenizer, decoder, special
tokens) and learns new merges with the Rust ``tokenizers`` trainer through
``train_new_from_iterator``; byte-level bases start from the full 256-byte alphabet, so any
text round-trips. The output is an ordinary ``save_pretrained`` folder plus
``isoflop_tokenizer.json``: how it was made.
"""

from __future__ import annotations

import json
import time
from itertools import islice
from pathlib import Path

from ..config.parts import TokenizerTrainingConfig
from ..config.tools import TokenizerCompareConfig, TokenizerTrainConfig
from ..data.stream import StreamOptions, StreamStats, stream_documents
from ..errors import UsageError
from ..files import atomic_folder
from ..provenance import library_versions
from .resolve import BYTES, GPT2_SPECIAL_TOKEN, load_tokenizer

BYTE_ALPHABET = 256
BATCH = 1000
RECORD = "isoflop_tokenizer.json"
BASES = ("gpt2", BYTES)


def warnings(training: TokenizerTrainingConfig) -> list[str]:
    """What is worth a warning before training (errors are raised by ``check``)."""
    if training.vocab_size % 8:
        up = training.vocab_size + 8 - training.vocab_size % 8
        return [f"--vocab-size {training.vocab_size} is not a multiple of 8: the embedding and LM-head matrices then miss "
                f"the tile sizes fast matrix kernels use (tensor cores want multiples of 8, 64 on recent GPUs); "
                f"consider {up}"]
    return []


def check_settings(training: TokenizerTrainingConfig, size_option: str = "--vocab-size") -> None:
    """Every bad setting, before any work: one line each (``size_option`` names where the size was given)."""
    if training.base not in BASES and not Path(training.base).is_dir():
        raise UsageError(f"unknown --base {training.base!r}: give gpt2, bytes or a tokenizer folder saved with save_pretrained")
    least = BYTE_ALPHABET + 1 + len(training.special_tokens)
    if training.vocab_size < least:
        raise UsageError(f"{size_option}: a vocabulary of {training.vocab_size} is smaller than the 256-byte alphabet plus "
                         f"{1 + len(training.special_tokens)} special token(s); choose at least {least}")


def stream_of(config: TokenizerTrainConfig | TokenizerCompareConfig) -> StreamOptions:
    """How a tool's config reads its corpus."""
    return StreamOptions(split=config.split.split, text_column=config.corpus.text_column,
                         buffer_size=config.stream.shuffle_buffer, seed=config.seed,
                         max_documents=config.stream.max_documents, max_chars=config.stream.max_chars,
                         encoding=config.corpus.text_encoding)


def check(config: TokenizerTrainConfig, out: Path) -> None:
    """Every bad input, before any work: one line each."""
    check_settings(config.training)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--output {str(out)!r} already exists; choose a new folder or remove it")


def train_tokenizer(config: TokenizerTrainConfig, out: Path, progress: bool = True) -> dict:
    """Train, save to ``out`` (all or nothing) and return the record written beside the tokenizer."""
    from ..progress import progress as progress_bar

    check(config, out)
    training, corpus, stream = config.training, config.corpus.train_data, stream_of(config)
    base = load_tokenizer(training.base)
    if not base.is_fast:
        raise UsageError(f"--base {training.base!r} has no fast (Rust) tokenizer to train from")
    stats = StreamStats()
    documents = stream_documents(corpus, stream, stats)
    started = time.perf_counter()
    with progress_bar(documents, unit=" docs", desc="training tokenizer", enabled=progress, delay=1.0,
                      heartbeat=config.heartbeat_seconds) as bar:
        trained = base.train_new_from_iterator(
            _batches(bar), training.vocab_size, new_special_tokens=list(training.special_tokens) or None,
            min_frequency=training.min_frequency, show_progress=False,
        )
    if stats.characters == 0:
        raise UsageError(f"corpus {corpus!r} yielded no text (split {stream.split!r}); "
                         "check the spec, the split and --max-documents/--max-chars")
    record = {
        "corpus": corpus, "split": stream.split, "text_column": stream.text_column,
        "shuffle": {"buffer_size": stream.buffer_size, "seed": stream.seed},
        "caps": {"max_documents": stream.max_documents, "max_chars": stream.max_chars},
        "seen": stats.as_dict(), "base": training.base, "vocab_size_requested": training.vocab_size,
        "vocab_size": len(trained), "min_frequency": training.min_frequency,
        "special_tokens": [GPT2_SPECIAL_TOKEN, *training.special_tokens] if training.base in BASES else list(trained.all_special_tokens),
        "seconds": round(time.perf_counter() - started, 2), "versions": library_versions(),
    }
    _save(trained, record, out)
    return record


def _batches(documents):
    iterator = iter(documents)
    while batch := list(islice(iterator, BATCH)):
        yield batch


def _save(tokenizer, record: dict, out: Path) -> None:
    """Complete or absent: an interruption leaves no partial folder (``check`` refused a non-empty ``out``)."""
    with atomic_folder(out) as staging:
        tokenizer.save_pretrained(staging)
        (staging / RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
