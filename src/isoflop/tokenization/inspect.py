"""Looking inside a tokenizer: its vocabulary, merges, longest tokens, how it splits a text, keyword coverage.

Tokens are shown readably: byte-level symbols become the bytes they stand for, a space
shows as ␣, a line break as ↵, a tab as ⇥, and a token that is only part of a UTF-8
character shows its bytes as ⟨e4 b8⟩.
"""

from __future__ import annotations

import json
import keyword
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import UsageError

VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}


@cache
def _byte_of() -> dict[str, int]:
    """GPT-2's byte-level alphabet, inverted: printable Latin-1 bytes stand for themselves, the other bytes
    (space, control characters, …) for the characters from U+0100 on, in byte order (Ġ is the space)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return {**{chr(b): b for b in printable}, **{chr(256 + i): b for i, b in enumerate(others)}}


def is_byte_level(tokenizer) -> bool:
    """Whether the tokenizer's pre-tokenizer or decoder is byte-level."""
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    pre = state.get("pre_tokenizer") or {}
    kinds = [pre.get("type")] + [p.get("type") for p in pre.get("pretokenizers", [])]
    return "ByteLevel" in kinds


def token_bytes(token: str, byte_level: bool) -> bytes:
    """The bytes a token stands for (byte-level tokens decoded from GPT-2's byte alphabet)."""
    if byte_level and all(c in _byte_of() for c in token):
        return bytes(_byte_of()[c] for c in token)
    return token.replace("▁", " ").encode("utf-8")


def readable(token: str, byte_level: bool) -> str:
    """The token as a person reads it (see the module docstring)."""
    raw = token_bytes(token, byte_level)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "⟨" + " ".join(f"{b:02x}" for b in raw) + "⟩"
    return "".join(VISIBLE.get(c, c) for c in text)


@dataclass(frozen=True)
class Inspection:
    """What ``isoflop tokenizer inspect`` shows: size, special tokens, first and last merges, longest tokens."""

    name: str
    vocab_size: int
    special_tokens: list[str]
    first_merges: list[tuple[int, str, str, str]]  # (id of the result, left, right, result), readable
    last_merges: list[tuple[int, str, str, str]]
    longest: list[tuple[int, str, int]]  # (id, readable token, bytes)
    record: dict | None  # how isoflop trained it, when it did

    def as_dict(self) -> dict:
        return {"name": self.name, "vocab_size": self.vocab_size, "special_tokens": self.special_tokens,
                "first_merges": self.first_merges, "last_merges": self.last_merges, "longest": self.longest,
                "record": self.record}


def inspect_tokenizer(tokenizer, name: str, count: int = 10) -> Inspection:
    """Look inside ``tokenizer``: its merges and longest tokens (``count`` of each)."""
    byte_level = is_byte_level(tokenizer)
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    model = state.get("model", {})
    vocab = tokenizer.get_vocab()
    merges = [m.split(" ", 1) if isinstance(m, str) else m for m in model.get("merges", [])]

    def shown(pair):
        left, right = pair
        return (vocab.get(left + right, -1), readable(left, byte_level), readable(right, byte_level),
                readable(left + right, byte_level))

    special = set(tokenizer.all_special_tokens)
    lengths = sorted(((len(token_bytes(t, byte_level)), i, t) for t, i in vocab.items() if t not in special), reverse=True)
    record = None
    if Path(name).is_dir() and (Path(name) / "isoflop_tokenizer.json").is_file():
        record = json.loads((Path(name) / "isoflop_tokenizer.json").read_text(encoding="utf-8"))
    return Inspection(name, len(tokenizer), sorted(special), [shown(m) for m in merges[:count]],
                      [shown(m) for m in merges[-count:]] if merges else [],
                      [(i, readable(t, byte_level), n) for n, i, t in lengths[:count]], record)


def split_text(tokenizer, text: str) -> list[str]:
    """``text``'s tokens, readable."""
    byte_level = is_byte_level(tokenizer)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return [readable(t, byte_level) for t in tokenizer.convert_ids_to_tokens(ids)]


def keyword_coverage(tokenizer, keywords: list[str]) -> dict[str, list[str]]:
    """Which keywords are one token on their own and after a space (as they mostly appear in code)."""
    out: dict[str, list[str]] = {"single": [], "single_after_space": [], "split": []}
    for word in keywords:
        alone = len(tokenizer(word, add_special_tokens=False)["input_ids"]) == 1
        spaced = len(tokenizer(" " + word, add_special_tokens=False)["input_ids"]) == 1
        if alone:
            out["single"].append(word)
        if spaced:
            out["single_after_space"].append(word)
        if not (alone or spaced):
            out["split"].append(word)
    return out


def keywords_from(spec: str) -> list[str]:
    """``python`` (Python's keywords) or a file with one keyword per line."""
    if spec == "python":
        return list(keyword.kwlist)
    path = Path(spec)
    if not path.is_file():
        raise UsageError(f"--keywords {spec!r}: give python or a file with one keyword per line")
    words = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not words:
        raise UsageError(f"--keywords {spec!r} holds no keywords")
    return words
