"""Comparing tokenizers on the same documents: the usual efficiency metrics.

Words are maximal runs of non-whitespace characters. Each token is attributed to the first
word its character span overlaps (a leading space, as in GPT-2's ``Ġword``, lies outside
the word and does not matter); tokens of pure whitespace belong to no word.

- characters / bytes per token: text per token (more is shorter sequences);
- fertility: tokens per word, counting the tokens attributed to words;
- continued words: the share of words split into two or more tokens;
- unknown rate: tokens that are the unknown token (a byte-level vocabulary has none);
- unused vocabulary: the share of the vocabulary never produced on these documents;
- windows: how many 1024-token windows the documents fill, relative to the first tokenizer;
- Rényi efficiency (Zouhar et al. 2023, α = 2.5): H_α of the unigram distribution / log |V|.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

import numpy as np

WORD = re.compile(r"\S+")
WINDOW = 1024
BATCH = 64
RENYI_ALPHA = 2.5


@dataclass(frozen=True)
class TokenizerMetrics:
    """One tokenizer measured on documents: bytes per token, fertility, vocabulary use, windows needed."""

    name: str
    vocab_size: int
    documents: int
    characters: int
    bytes: int
    words: int
    tokens: int
    chars_per_token: float
    bytes_per_token: float
    fertility: float
    continued_words: float
    unknown_rate: float
    unused_vocabulary: float
    windows: int
    windows_relative: float
    renyi_efficiency: float

    def as_dict(self) -> dict:
        return asdict(self)


COLUMNS = {  # field → (header, format)
    "vocab_size": ("vocab", "{:,}"), "tokens": ("tokens", "{:,}"), "chars_per_token": ("chars/token", "{:.3f}"),
    "bytes_per_token": ("bytes/token", "{:.3f}"), "fertility": ("fertility", "{:.3f}"),
    "continued_words": ("continued words", "{:.1%}"), "unknown_rate": ("unknown", "{:.2%}"),
    "unused_vocabulary": ("unused vocab", "{:.1%}"), "windows_relative": (f"{WINDOW}-token windows vs first", "{:.3f}×"),
    "renyi_efficiency": (f"Rényi eff. (α={RENYI_ALPHA:g})", "{:.3f}"),
}


def measure(tokenizer, name: str, documents: list[str], reference_windows: int | None = None) -> TokenizerMetrics:
    """``tokenizer`` measured on ``documents`` (against the reference's window count when given)."""
    counts = np.zeros(len(tokenizer), dtype=np.int64)
    tokens = words = continued = attributed = 0
    unknown_id = _unknown_id(tokenizer)
    unknown = 0
    backend = tokenizer.backend_tokenizer
    for start in range(0, len(documents), BATCH):
        batch = documents[start : start + BATCH]
        for text, encoded in zip(batch, backend.encode_batch(batch, add_special_tokens=False)):
            words, attributed, continued = _count(text, encoded, counts, (words, attributed, continued))
            tokens += len(encoded.ids)
            if unknown_id is not None:
                unknown += encoded.ids.count(unknown_id)
    characters = sum(len(t) for t in documents)
    size = sum(len(t.encode("utf-8")) for t in documents)
    windows = math.ceil(tokens / WINDOW)
    return TokenizerMetrics(
        name=name, vocab_size=len(tokenizer), documents=len(documents), characters=characters, bytes=size, words=words,
        tokens=tokens, chars_per_token=characters / max(tokens, 1), bytes_per_token=size / max(tokens, 1),
        fertility=attributed / max(words, 1), continued_words=continued / max(words, 1),
        unknown_rate=unknown / max(tokens, 1), unused_vocabulary=float((counts == 0).mean()), windows=windows,
        windows_relative=windows / reference_windows if reference_windows else 1.0,
        renyi_efficiency=renyi_efficiency(counts),
    )


def _count(text: str, encoded, counts, totals: tuple[int, int, int]) -> tuple[int, int, int]:
    """Adds ``encoded``'s ids to ``counts``; returns (words, tokens attributed to words, continued words) updated."""
    words, attributed, continued = totals
    ids = np.asarray(encoded.ids, dtype=np.int64)
    if ids.size == 0:
        return totals
    counts += np.bincount(ids, minlength=len(counts))[: len(counts)]
    spans = [m.span() for m in WORD.finditer(text)]
    if not spans:
        return totals
    word_starts, word_ends = (np.array(v) for v in zip(*spans))
    offsets = np.asarray(encoded.offsets, dtype=np.int64).reshape(-1, 2)
    first = np.searchsorted(word_ends, offsets[:, 0], side="right")
    hit = first < len(spans)
    hit[hit] = word_starts[first[hit]] < offsets[hit, 1]
    per_word = np.bincount(first[hit], minlength=len(spans))
    return words + len(spans), attributed + int(per_word.sum()), continued + int((per_word >= 2).sum())


def renyi_efficiency(counts, alpha: float = RENYI_ALPHA) -> float:
    """H_α(p) / log |V| of the unigram distribution p (Zouhar et al. 2023); |V| counts every vocabulary entry."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    if total == 0 or len(counts) < 2:
        return 0.0
    p = counts[counts > 0] / total
    return float(math.log((p**alpha).sum()) / (1 - alpha) / math.log(len(counts)))


def _unknown_id(tokenizer) -> int | None:
    """The unknown token's id, unless it doubles as end of text (GPT-2): byte-level text never produces it then."""
    unk = tokenizer.unk_token
    if unk is None or unk == tokenizer.eos_token:
        return None
    return tokenizer.unk_token_id


def compare(tokenizers: list[tuple[str, object]], documents: list[str]) -> list[TokenizerMetrics]:
    """Every tokenizer measured on the same documents; the first is the reference."""
    out: list[TokenizerMetrics] = []
    for name, tokenizer in tokenizers:
        out.append(measure(tokenizer, name, documents, out[0].windows if out else None))
    return out
