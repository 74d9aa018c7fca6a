"""Constant-length token windows from a streamed corpus (the CodeParrot recipe).

Documents are read from the stream into a character buffer of about ``num_sequences ×
seq_len × chars_per_token`` characters, tokenized together, joined (each non-empty document
followed by EOS unless ``separator`` is None: ``data.chunking``'s packed rule) onto what the
previous buffer left over, and cut into full ``seq_len`` windows; the remainder waits, so no token is
dropped but the very last ones. The *infinite* form restarts the source when it runs out
(training is counted in steps, never epochs); the *fixed* form makes one pass and yields
every full window: with no separator it equals 🤗's ``group_texts``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from torch.utils.data import IterableDataset

from ..errors import UsageError
from .chunking import packed_windows
from .stream import StreamOptions, stream_documents

SAMPLE_DOCUMENTS = 50


@dataclass(frozen=True)
class CharsPerToken:
    """Characters per token, measured on the first documents or given: sizes the packing buffer."""

    value: float
    documents: int  # how many documents it was measured on (0: given)

    def describe(self) -> str:
        if not self.documents:
            return f"{self.value:.2f} characters per token (given)"
        return f"{self.value:.2f} characters per token (measured on the first {self.documents} documents)"


def measure_chars_per_token(tokenizer, source: str, options: StreamOptions) -> CharsPerToken:
    """Characters per token of ``tokenizer`` on the first documents of ``source``."""
    sample = [d for d in islice(stream_documents(source, options), SAMPLE_DOCUMENTS) if d]
    tokens = sum(len(ids) for ids in _encode(tokenizer, sample))
    if not tokens:
        raise UsageError(f"corpus {source!r} ({options.split}) yielded no text; check the spec and the split")
    return CharsPerToken(sum(map(len, sample)) / tokens, len(sample))


class ConstantLengthDataset(IterableDataset):
    """Windows of ``seq_len`` token ids (lists of ints). ``skip`` windows are passed over first (resuming)."""

    def __init__(self, tokenizer, source: str, options: StreamOptions, seq_len: int, chars_per_token: float,
                 num_sequences: int = 64, infinite: bool = True, separator: int | None = -1):
        if seq_len < 1:
            raise UsageError(f"the window length must be at least 1 token, got {seq_len}")
        self.tokenizer, self.source, self.options, self.seq_len = tokenizer, source, options, seq_len
        self.buffer_chars = max(1, int(num_sequences * seq_len * chars_per_token))
        self.infinite = infinite
        self.separator = tokenizer.eos_token_id if separator == -1 else separator
        self.skip = 0
        self.passes = 0  # completed passes over the source
        self.windows_per_pass: int | None = None  # known once the first pass is complete

    def __iter__(self) -> Iterator[list[int]]:
        windows = self._windows()
        return islice(windows, self.skip, None) if self.skip else windows

    def _windows(self) -> Iterator[list[int]]:
        # The windows of data.chunking's packed rule, over the token rows of pass after pass: one rule for a
        # study's packed samples and a recipe's stream (empty documents add nothing, not even a separator).
        self._yielded, self.passes = 0, 0
        for window in packed_windows(self._rows(), self.seq_len, self.separator):
            self._yielded += 1
            yield window

    def _rows(self) -> Iterator[list[int]]:
        """Token rows of the source, tokenized a buffer of about ``buffer_chars`` characters at a time; the source
        is restarted when it runs out unless the dataset is finite."""
        while True:
            tokens = 0
            documents = iter(stream_documents(self.source, self.options))
            while buffer := _buffer(documents, self.buffer_chars):
                for ids in _encode(self.tokenizer, buffer):
                    tokens += len(ids)
                    yield ids
            self.passes += 1
            if self.passes == 1:
                self.windows_per_pass = self._yielded
            if not self.infinite:
                return
            if self.passes == 1 and not tokens:
                raise UsageError(f"corpus {self.source!r} ({self.options.split}) yielded no text to train on")


def _buffer(documents: Iterator[str], chars: int) -> list[str]:
    """The next documents, up to the first that brings their length to ``chars`` characters."""
    buffer, total = [], 0
    for document in documents:
        buffer.append(document)
        total += len(document)
        if total >= chars:
            break
    return buffer


def _encode(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids without special tokens, through the Rust tokenizer (no length warnings: windows are cut here)."""
    return [encoding.ids for encoding in tokenizer.backend_tokenizer.encode_batch(texts, add_special_tokens=False)]
