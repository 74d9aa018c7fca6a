"""From rows of text to token windows: tokenizing lazily, counting, fingerprinting, and the
data of a study prepared once for all its runs."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator, Sequence
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
# Training windows are gathered into int32 arrays this many at a time.
WINDOWS_PER_BLOCK = 65_536


def tokenize_rows(rows: Iterable, tokenizer) -> Iterator[list[int]]:
    """Token ids of each row, in order (the tokenizer's own special tokens included); a pretokenized row (a list of
    ids) is passed on as it is."""
    iterator = iter(rows)
    while batch := list(islice(iterator, TOKENIZE_BATCH_ROWS)):
        texts = [row for row in batch if isinstance(row, str)]
        # verbose=False: rows longer than the model context are expected; windows cut them.
        encoded = iter(tokenizer(texts, verbose=False)["input_ids"] if texts else [])
        yield from (next(encoded) if isinstance(row, str) else row for row in batch)


def take_chunks(rows: Iterable[str], tokenizer, seq_len: int, rule: ChunkingRule, limit: int | None) -> list[list[int]]:
    """The first ``limit`` chunks (all when ``limit`` is None) of ``rows``."""
    stream = windows(tokenize_rows(rows, tokenizer), seq_len, rule, tokenizer.eos_token_id)
    return list(islice(stream, limit))


class TokenWindows(Sequence):
    """Token windows of one length held as one int32 array, 4 bytes a token (lists of Python ints: ~40 for ids past 256):
    a study's training samples, up to billions of tokens on a machine with the memory. A window reads as a list of
    ids, a slice as ``TokenWindows``; ``numpy.asarray`` gives the (windows × seq_len) array without a copy."""

    def __init__(self, array: np.ndarray):
        self.array = array

    def __len__(self) -> int:
        return self.array.shape[0]

    def __getitem__(self, index):
        if isinstance(index, slice):
            return TokenWindows(self.array[index])
        return self.array[index].tolist()

    def __iter__(self) -> Iterator[list[int]]:
        return (row.tolist() for row in self.array)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self.array if dtype is None else self.array.astype(dtype)

    def __eq__(self, other) -> bool:
        return np.array_equal(self.array, np.asarray(other))


def take_windows(rows: Iterable[str], tokenizer, seq_len: int, rule: ChunkingRule, limit: int | None) -> TokenWindows:
    """The first ``limit`` chunks of ``rows`` as ``TokenWindows``, gathered a block at a time (never all as lists)."""
    stream = islice(windows(tokenize_rows(rows, tokenizer), seq_len, rule, tokenizer.eos_token_id), limit)
    blocks = []
    while block := list(islice(stream, WINDOWS_PER_BLOCK)):
        blocks.append(np.asarray(block, dtype=np.int32))
    return TokenWindows(np.concatenate(blocks) if blocks else np.zeros((0, seq_len), dtype=np.int32))


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
    train_chunks: Sequence[list[int]]  # TokenWindows as prepared here; any sequence of id lists works
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
    if data_config.holdout is not None or data_config.pretokenized:  # streamed: only the documents needed are read
        train_rows, val_rows = streamed_splits(data_config)
    else:
        train_rows, val_rows = load_splits(data_config.train_data, data_config.validation_data,
                                           data_config.text_column, data_config.text_encoding)
    train_chunks = take_windows(train_rows, tokenizer, seq_len, rule, limit=train_samples)
    if not len(train_chunks):
        raise UsageError(
            f"the training data has no full {seq_len}-token chunk ({rule} chunking); "
            "use longer texts, --chunking packed, or a smaller --seq-len"
        )
    if data_config.pretokenized and int(train_chunks.array.max()) >= len(tokenizer):
        raise UsageError(f"the pretokenized data holds token id {int(train_chunks.array.max())}, past the "
                         f"{len(tokenizer):,} of tokenizer {tokenizer.name_or_path!r}: its ids were made by another; "
                         "set --tokenizer to the one that made them")
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
