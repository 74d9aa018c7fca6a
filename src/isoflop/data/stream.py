"""Where text comes from, read lazily, one document at a time.

A *source spec* is one string:

* ``python-docs`` — the English text of the standard library's ``pydoc_data.topics``,
  one document per topic;
* ``python-stdlib`` — the standard library's ``.py`` sources, one document per file;
* ``hub:NAME[:CONFIG][#SPLIT]`` — a Hub dataset through ``datasets.load_dataset``,
  e.g. ``hub:wikitext:wikitext-2-v1``;
* anything else is a local path: a ``.txt`` (one document per line, as ``wikitext`` has
  them), ``.jsonl`` or ``.parquet`` file, or a folder of them.

For corpora too large to hold in memory (training a tokenizer, pretraining): Hub datasets
with ``streaming=True``, local files line by line (``.txt``), record by record (``.jsonl``)
or batch by batch (``.parquet``), the embedded corpora file by file. An optional shuffle
buffer works as ``datasets.IterableDataset.shuffle`` does: it holds ``buffer_size``
documents and yields a random one of them as each new one arrives, so a finite corpus is
visited exactly once, in an order fixed by the seed. Caps stop the stream after
``max_documents`` documents or once ``max_chars`` characters have been yielded.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import random
import sysconfig
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import UsageError, first_line
from ..hub import ensure_reachable


Split = Literal["train", "validation"]
EMBEDDED_CORPORA = ("python-docs", "python-stdlib")
LOCAL_SUFFIXES = (".txt", ".jsonl", ".parquet")
HUB_PREFIX = "hub:"
# One document in this many goes to validation in the embedded corpora.
VALIDATION_EVERY = 10


@dataclass(frozen=True)
class HubSpec:
    """A ``hub:NAME[:CONFIG][#SPLIT]`` data spec, parsed."""

    name: str
    config: str | None
    split: str | None


def parse_hub_spec(spec: str) -> HubSpec:
    """``hub:NAME[:CONFIG][#SPLIT]`` → its parts."""
    body = spec[len(HUB_PREFIX) :]
    body, _, split = body.partition("#")
    name, _, config = body.partition(":")
    if not name:
        raise UsageError(f"hub dataset spec {spec!r} names no dataset; write hub:NAME[:CONFIG][#SPLIT]")
    return HubSpec(name=name, config=config or None, split=split or None)


def is_local(spec: str) -> bool:
    """Whether ``spec`` names a local file or folder (not an embedded corpus, not the Hub)."""
    return spec not in EMBEDDED_CORPORA and not spec.startswith(HUB_PREFIX)


def _in_validation(document_name: str) -> bool:
    # crc32 is stable across runs and platforms, unlike hash().
    return zlib.crc32(document_name.encode()) % VALIDATION_EVERY == 0


def _python_docs() -> list[tuple[str, str]]:
    from pydoc_data.topics import topics

    return sorted(topics.items())


def stdlib_files() -> list[tuple[str, Path]]:
    """The standard library's ``.py`` files (relative name, path), sorted, third-party packages left out."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if "site-packages" not in relative and "dist-packages" not in relative:
            files.append((relative, path))
    if not files:
        raise UsageError(f"no Python sources found under {root} for the python-stdlib corpus")
    return files


def txt_rows(text: str) -> list[str]:
    """Rows as Hugging Face's ``wikitext`` has them: one per line, line break kept, blank lines ''.

    Keeping the line break matters: it is a token, and it changes the chunk count.
    """
    return ["" if not line.strip() else line for line in text.splitlines(keepends=True)]


@dataclass(frozen=True)
class StreamOptions:
    """How documents are read from a source: its split and text column, the shuffle buffer, the caps."""

    split: Split = "train"
    text_column: str = "text"
    buffer_size: int | None = None  # None or 0: the source's own order
    seed: int = 0
    max_documents: int | None = None
    max_chars: int | None = None
    streaming: bool = True  # Hub datasets: streamed, or (False) loaded whole through the datasets cache
    encoding: str = "utf-8"  # local .txt and .jsonl files
    pretokenized: bool = False  # the column holds token ids (lists of ints), yielded as lists, not text

    def __post_init__(self) -> None:
        for name in ("buffer_size", "max_documents", "max_chars"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 0, got {value}")


@dataclass
class StreamStats:
    """What a stream yielded: counted as it goes, and a fingerprint of the exact text."""

    documents: int = 0
    characters: int = 0
    _hash: object = field(default_factory=hashlib.sha256, repr=False)

    def add(self, text: str) -> None:
        self.documents += 1
        self.characters += len(text)
        self._hash.update(len(text).to_bytes(8, "little"))
        self._hash.update(text.encode("utf-8", "surrogatepass"))

    @property
    def fingerprint(self) -> str:
        return self._hash.hexdigest()

    def as_dict(self) -> dict:
        return {"documents": self.documents, "characters": self.characters, "sha256": self.fingerprint}


def stream_documents(spec: str, options: StreamOptions = StreamOptions(), stats: StreamStats | None = None) -> Iterator[str]:
    """The documents of ``spec`` one at a time (shuffled through a buffer if asked, capped if asked); ``stats``
    counts what was yielded."""
    documents = _source(spec, options)
    if options.buffer_size:
        documents = shuffled(documents, options.buffer_size, options.seed)
    chars = 0
    for count, text in enumerate(documents):
        if options.max_documents is not None and count >= options.max_documents:
            return
        if options.max_chars is not None and chars >= options.max_chars:
            return
        chars += len(text)
        if stats is not None:
            stats.add(text)
        yield text


def shuffled(items: Iterable[str], buffer_size: int, seed: int) -> Iterator[str]:
    """A buffered shuffle: each arriving item replaces a random one of the buffer, which is yielded; the buffer
    is drained in random order at the end. Every item comes out exactly once."""
    rng = random.Random(seed)
    buffer: list[str] = []
    for item in items:
        if len(buffer) < buffer_size:
            buffer.append(item)
            continue
        index = rng.randrange(buffer_size)
        yield buffer[index]
        buffer[index] = item
    rng.shuffle(buffer)
    yield from buffer


def _source(spec: str, options: StreamOptions) -> Iterator[str]:
    if spec in EMBEDDED_CORPORA:
        return _embedded(spec, options.split)
    if spec.startswith(HUB_PREFIX):
        return _hub(spec, options)
    return _local(Path(spec), options)


def _embedded(name: str, split: Split) -> Iterator[str]:
    want_validation = split == "validation"
    if name == "python-docs":
        for document, text in _python_docs():
            if _in_validation(document) == want_validation:
                yield text
        return
    for relative, path in stdlib_files():
        if _in_validation(relative) != want_validation:
            continue
        try:
            yield path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # as the list form does: a few test fixtures are deliberately not UTF-8


def _hub(spec: str, options: StreamOptions) -> Iterator[str]:
    """The one Hub loader: ``datasets.load_dataset``, streamed, or whole through the datasets cache (the list form,
    ``options.streaming`` False: what the classic exercise's WikiText-2 is)."""
    import datasets

    hub = parse_hub_spec(spec)
    split = hub.split or options.split
    ensure_reachable(f"Hub dataset {hub.name!r}", "pass local files instead (--train-data PATH --validation-data PATH), "
                     "or set HF_HUB_OFFLINE=1 if it is in your datasets cache")
    try:
        dataset = datasets.load_dataset(hub.name, hub.config, split=split, streaming=options.streaming)
    except Exception as error:  # the Hub raises many types: offline, unknown name, bad config
        raise UsageError(f"could not load Hub dataset {hub.name!r} (config {hub.config!r}, split {split!r}): "
                         f"{first_line(error)}; check the name, or pass local files instead (--train-data PATH "
                         "--validation-data PATH)") from error
    columns = dataset.column_names  # None for a stream whose features are not declared: checked per record
    if columns is not None and options.text_column not in columns:
        raise UsageError(f"Hub dataset {hub.name!r} has no column {options.text_column!r} (it has {list(columns)}); "
                         "set --text-column")
    if not options.streaming:
        yield from (_value(text, options, hub.name) for text in dataset[options.text_column])
        return
    for record in dataset:
        if options.text_column not in record:
            raise UsageError(f"Hub dataset {hub.name!r} has no column {options.text_column!r} "
                             f"(it has {sorted(record)}); set --text-column")
        yield _value(record[options.text_column], options, hub.name)


def _local(path: Path, options: StreamOptions) -> Iterator[str]:
    if not path.exists():
        raise UsageError(f"corpus {str(path)!r} is neither a file nor a folder, nor one of {', '.join(EMBEDDED_CORPORA)} "
                         f"or {HUB_PREFIX}NAME[:CONFIG]")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in LOCAL_SUFFIXES) if path.is_dir() else [path]
    if not files:
        raise UsageError(f"folder {str(path)!r} holds no {'/'.join(LOCAL_SUFFIXES)} files")
    for file in files:
        yield from _file(file, options)


def _lines(path: Path, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """(line number, line) of a text file in ``encoding``; a file in another encoding (Latin-1 read as UTF-8, a
    binary) is one clear error naming the byte and its offset."""
    try:
        with path.open(encoding=encoding) as handle:
            yield from enumerate(handle, start=1)
    except UnicodeDecodeError:
        offset, byte = _first_undecodable(path, encoding)
        raise UsageError(f"{path} is not {encoding} text (byte {byte:#04x} at offset {offset:,} cannot be {encoding}: another "
                         f"encoding, or a binary file?); if it is Latin-1 pass --encoding latin-1, or convert it "
                         f"(iconv -f latin1 -t utf-8 {path} > {path.stem}.utf8{path.suffix})") from None
    except OSError as error:
        raise UsageError(f"{path} cannot be read ({error.strerror})") from None


def _first_undecodable(path: Path, encoding: str, chunk: int = 1 << 20) -> tuple[int, int]:
    """The file offset and value of the first byte that ``encoding`` cannot decode (read in chunks, never whole)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    start = 0
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            pending = decoder.getstate()[0]  # bytes of a character begun in the previous block
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                where = error.start - len(pending)
                return start + where, (pending + block)[error.start]
            start += len(block)
    pending = decoder.getstate()[0]  # a character the file ends in the middle of
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        return start - len(pending) + error.start, pending[error.start]
    return start, 0


def _value(value, options: StreamOptions, where: str):
    """A record's column as a document: its text, or (pretokenized) its token ids as a list of ints."""
    if not options.pretokenized:
        return str(value)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise UsageError(f"{where}: column {options.text_column!r} holds text, not token ids; drop --pretokenized, or "
                         "point --text-column at the ids (e.g. input_ids)")
    return [int(token) for token in value]


def _file(path: Path, options: StreamOptions) -> Iterator[str]:
    text_column, encoding = options.text_column, options.encoding
    if path.suffix == ".txt":
        if options.pretokenized:
            raise UsageError(f"{path} is text: --pretokenized reads token ids from a .jsonl or .parquet column")
        for _, line in _lines(path, encoding):
            yield from txt_rows(line)
    elif path.suffix == ".jsonl":
        for number, line in _lines(path, encoding):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise UsageError(f"{path}:{number} is not valid JSON ({error.msg})") from error
            if not isinstance(record, dict) or text_column not in record:
                raise UsageError(f"{path}:{number} has no {text_column!r} field; set --text-column")
            yield _value(record[text_column], options, f"{path}:{number}")
    elif path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            handle = pq.ParquetFile(path)
        except Exception as error:  # pyarrow raises several types for a broken file
            raise UsageError(f"cannot read parquet file {str(path)!r}: {first_line(error)}") from error
        if text_column not in handle.schema_arrow.names:
            raise UsageError(f"{path} has no column {text_column!r} (it has {handle.schema_arrow.names}); set --text-column")
        for batch in handle.iter_batches(columns=[text_column]):
            yield from (_value(value, options, str(path)) for value in batch.column(0).to_pylist())
    else:
        raise UsageError(f"cannot read {str(path)!r}: supported files are {', '.join(LOCAL_SUFFIXES)}")
