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
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from ..data.stream import StreamOptions, StreamStats, stream_documents
from ..errors import UsageError
from ..files import atomic_folder
from ..provenance import library_versions
from .resolve import BYTES, GPT2_SPECIAL_TOKEN, load_tokenizer

BYTE_ALPHABET = 256
BATCH = 1000
RECORD = "isoflop_tokenizer.json"
BASES = ("gpt2", BYTES)


@dataclass(frozen=True)
class TrainSettings:
    """How a byte-level BPE is trained: corpus, size, base pipeline, minimum pair frequency, stream."""

    corpus: str = "python-stdlib"
    vocab_size: int = 4096
    base: str = "gpt2"
    min_frequency: int = 2
    special_tokens: tuple[str, ...] = ()
    stream: StreamOptions = StreamOptions()

    def warnings(self) -> list[str]:
        """What is worth a warning before training (errors are raised by ``check``)."""
        if self.vocab_size % 8:
            up = self.vocab_size + 8 - self.vocab_size % 8
            return [f"--vocab-size {self.vocab_size} is not a multiple of 8: the embedding and LM-head matrices then miss "
                    f"the tile sizes fast matrix kernels use (tensor cores want multiples of 8, 64 on recent GPUs); "
                    f"consider {up}"]
        return []


def check_settings(settings: TrainSettings, size_option: str = "--vocab-size") -> None:
    """Every bad setting, before any work: one line each (``size_option`` names where the size was given)."""
    if settings.base not in BASES and not Path(settings.base).is_dir():
        raise UsageError(f"unknown --base {settings.base!r}: give gpt2, bytes or a tokenizer folder saved with save_pretrained")
    least = BYTE_ALPHABET + 1 + len(settings.special_tokens)
    if settings.vocab_size < least:
        raise UsageError(f"{size_option}: a vocabulary of {settings.vocab_size} is smaller than the 256-byte alphabet plus "
                         f"{1 + len(settings.special_tokens)} special token(s); choose at least {least}")
    if settings.min_frequency < 1:
        raise UsageError(f"--min-frequency must be at least 1, got {settings.min_frequency}")


def check(settings: TrainSettings, out: Path) -> None:
    """Every bad input, before any work: one line each."""
    check_settings(settings)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--out {str(out)!r} already exists; choose a new folder or remove it")


def train_tokenizer(settings: TrainSettings, out: Path, progress: bool = True) -> dict:
    """Train, save to ``out`` (all or nothing) and return the record written beside the tokenizer."""
    from tqdm.auto import tqdm

    check(settings, out)
    base = load_tokenizer(settings.base)
    if not base.is_fast:
        raise UsageError(f"--base {settings.base!r} has no fast (Rust) tokenizer to train from")
    stats = StreamStats()
    documents = stream_documents(settings.corpus, settings.stream, stats)
    started = time.perf_counter()
    with tqdm(documents, unit=" docs", desc="training tokenizer", disable=not progress, delay=1.0) as bar:
        trained = base.train_new_from_iterator(
            _batches(bar), settings.vocab_size, new_special_tokens=list(settings.special_tokens) or None,
            min_frequency=settings.min_frequency, show_progress=False,
        )
    if stats.characters == 0:
        raise UsageError(f"corpus {settings.corpus!r} yielded no text (split {settings.stream.split!r}); "
                         "check the spec, the split and --max-documents/--max-chars")
    record = {
        "corpus": settings.corpus, "split": settings.stream.split, "text_column": settings.stream.text_column,
        "shuffle": {"buffer_size": settings.stream.buffer_size, "seed": settings.stream.seed},
        "caps": {"max_documents": settings.stream.max_documents, "max_chars": settings.stream.max_chars},
        "seen": stats.as_dict(), "base": settings.base, "vocab_size_requested": settings.vocab_size,
        "vocab_size": len(trained), "min_frequency": settings.min_frequency,
        "special_tokens": [GPT2_SPECIAL_TOKEN, *settings.special_tokens] if settings.base in BASES else list(trained.all_special_tokens),
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
