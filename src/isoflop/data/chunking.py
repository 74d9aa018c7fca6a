"""Cutting token rows into fixed-length training samples. Pure functions on lists of ids.

Three rules:

* ``per-row`` — the classic exercise (called ``seed`` before: still accepted): every row is cut into consecutive windows of
  ``seq_len`` tokens, only full windows are kept, rows never join. We cut the windows
  ourselves: ``return_overflowing_tokens`` silently returns only the first window with
  tokenizers 0.23.2, which would keep less than half of WikiText-2.
* ``packed`` — the ``group_texts`` recipe: rows are joined, each followed by EOS, and
  the stream is cut into full windows; the incomplete tail is dropped.
* ``concatenated`` — 🤗's ``group_texts``: rows are joined without a separator and cut the
  same way (the fine-tuning recipe's blocks).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal

ChunkingRule = Literal["per-row", "packed", "concatenated"]
# The rule's old name, still accepted from configs and command lines, and what run keys call it.
OLD_NAMES = {"seed": "per-row"}


def per_row_windows(token_rows: Iterable[list[int]], seq_len: int) -> Iterator[list[int]]:
    """Full ``seq_len`` windows of each row, in order; a row's tail shorter than ``seq_len`` is dropped."""
    for ids in token_rows:
        for start in range(0, len(ids) - seq_len + 1, seq_len):
            yield ids[start : start + seq_len]


def packed_windows(token_rows: Iterable[list[int]], seq_len: int, eos_id: int | None) -> Iterator[list[int]]:
    """Full ``seq_len`` windows of the stream of non-empty rows, each followed by ``eos_id`` (None: joined as is)."""
    buffer: list[int] = []
    for ids in token_rows:
        if not ids:
            continue
        buffer.extend(ids)
        if eos_id is not None:
            buffer.append(eos_id)
        while len(buffer) >= seq_len:
            yield buffer[:seq_len]
            del buffer[:seq_len]


def windows(
    token_rows: Iterable[list[int]], seq_len: int, rule: ChunkingRule, eos_id: int | None
) -> Iterator[list[int]]:
    """Dispatch on the chunking rule."""
    if rule == "per-row":
        return per_row_windows(token_rows, seq_len)
    if rule == "packed":
        if eos_id is None:
            raise ValueError("packed chunking needs an EOS token id")
        return packed_windows(token_rows, seq_len, eos_id)
    if rule == "concatenated":
        return packed_windows(token_rows, seq_len, None)
    raise ValueError(f"unknown chunking rule {rule!r}")
