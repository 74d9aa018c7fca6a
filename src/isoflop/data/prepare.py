"""From rows of text to token windows: tokenizing lazily, counting, fingerprinting, and the
data of a study prepared once for all its runs."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np

from ..errors import UsageError
from .chunking import ChunkingRule, windows
from .sources import load_splits, streamed_splits

# Rows are tokenized this many at a time, so a study that needs 100 chunks of a large
# corpus tokenizes only its first rows.
TOKENIZE_BATCH_ROWS = 256


def tokenize_rows(rows: Iterable[str], tokenizer) -> Iterator[list[int]]:
    """Token ids of each row, in order (the tokenizer's own special tokens included)."""
    iterator = iter(rows)
    while batch := list(islice(iterator, TOKENIZE_BATCH_ROWS)):
        # verbose=False: rows longer than the model context are expected; windows cut them.
        yield from tokenizer(batch, verbose=False)["input_ids"]


def take_chunks(rows: Iterable[str], tokenizer, seq_len: int, rule: ChunkingRule, limit: int | None) -> list[list[int]]:
    """The first ``limit`` chunks (all when ``limit`` is None) of ``rows``."""
    stream = windows(tokenize_rows(rows, tokenizer), seq_len, rule, tokenizer.eos_token_id)
    return list(islice(stream, limit))


@dataclass(frozen=True)
class CorpusStats:
    """What ``isoflop data`` reports of a corpus: rows, characters, tokens and the samples they cut into."""

    rows: int
    empty_rows: int
    characters: int
    tokens: int
    chunks: int
    chunked_tokens: int
    seq_len: int
    chunking: str

    @property
    def chars_per_token(self) -> float:
        return self.characters / self.tokens if self.tokens else 0.0

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "empty_rows": self.empty_rows,
            "characters": self.characters,
            "tokens": self.tokens,
            "chunks": self.chunks,
            "chunked_tokens": self.chunked_tokens,
            "kept_fraction": self.chunked_tokens / self.tokens if self.tokens else 0.0,
            "chars_per_token": self.chars_per_token,
            "seq_len": self.seq_len,
            "chunking": self.chunking,
        }


def corpus_stats(rows: list[str], tokenizer, seq_len: int, rule: ChunkingRule) -> CorpusStats:
    """Rows, characters, tokens and samples of ``rows`` cut by ``rule`` into ``seq_len`` windows."""
    token_rows = list(tokenize_rows(rows, tokenizer))
    chunks = sum(1 for _ in windows(token_rows, seq_len, rule, tokenizer.eos_token_id))
    return CorpusStats(
        rows=len(rows),
        empty_rows=sum(1 for row in rows if not row),
        characters=sum(len(row) for row in rows),
        tokens=sum(len(ids) for ids in token_rows),
        chunks=chunks,
        chunked_tokens=chunks * seq_len,
        seq_len=seq_len,
        chunking=rule,
    )


def fingerprint(*chunk_sets: list[list[int]]) -> str:
    """sha256 of the exact token ids a run saw: same fingerprint, same data."""
    digest = hashlib.sha256()
    for chunks in chunk_sets:
        digest.update(np.asarray(chunks, dtype=np.int64).tobytes())
        digest.update(b"|")
    return digest.hexdigest()[:16]


def bytes_per_token(chunks: list[list[int]], tokenizer) -> float:
    """UTF-8 bytes of text per token in ``chunks`` (special tokens count no bytes): loss/token → bits/byte."""
    tokens = sum(len(chunk) for chunk in chunks)
    text_bytes = sum(len(tokenizer.decode(chunk, skip_special_tokens=True).encode("utf-8")) for chunk in chunks)
    return text_bytes / tokens if tokens else 0.0


def bits_per_byte(loss_nats_per_token: float, bytes_per_token_: float) -> float:
    """A loss in nats per token as bits per UTF-8 byte of text."""
    return loss_nats_per_token / math.log(2) / bytes_per_token_


@dataclass(frozen=True)
class PreparedData:
    """A study's samples, prepared once: a run with D unique samples uses the first D of ``train_chunks``."""

    tokenizer: Any
    train_chunks: list[list[int]]
    val_chunks: list[list[int]]
    seq_len: int
    chunking: str
    val_bytes_per_token: float

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    def run_fingerprint(self, unique_samples: int) -> str:
        """Of the exact samples a run with D = ``unique_samples`` sees."""
        return fingerprint(self.train_chunks[:unique_samples], self.val_chunks)


def prepare_data(data_config, tokenizer, train_samples: int, eval_samples: int, advice: str) -> PreparedData:
    """The first ``train_samples`` training and ``eval_samples`` validation chunks, or a UsageError saying what is short."""
    seq_len, rule = data_config.seq_len, data_config.chunking
    if data_config.holdout is not None:  # streamed: only the documents the samples need are read
        train_rows, val_rows = streamed_splits(data_config.train_data, data_config.holdout, data_config.text_column,
                                               data_config.text_encoding)
    else:
        train_rows, val_rows = load_splits(data_config.train_data, data_config.validation_data,
                                           data_config.text_column, data_config.text_encoding)
    train_chunks = take_chunks(train_rows, tokenizer, seq_len, rule, limit=train_samples)
    if not train_chunks:
        raise UsageError(
            f"the training data has no full {seq_len}-token chunk ({rule} chunking); "
            "use longer texts, --chunking packed, or a smaller --seq-len"
        )
    if len(train_chunks) < train_samples:
        raise UsageError(
            f"the study needs {train_samples} unique training samples of {seq_len} tokens but the training data has "
            f"only {len(train_chunks)}; {advice}"
        )
    val_chunks = take_chunks(val_rows, tokenizer, seq_len, rule, limit=eval_samples)
    if len(val_chunks) < eval_samples:
        raise UsageError(
            f"the validation data has {len(val_chunks)} chunks of {seq_len} tokens but --eval-samples asks "
            f"for {eval_samples}; lower --eval-samples or use more validation data"
        )
    return PreparedData(
        tokenizer=tokenizer,
        train_chunks=train_chunks,
        val_chunks=val_chunks,
        seq_len=seq_len,
        chunking=rule,
        val_bytes_per_token=bytes_per_token(val_chunks, tokenizer),
    )
