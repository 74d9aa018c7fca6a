"""Where text comes from: the Hugging Face Hub, local files, or corpora embedded in Python.

A *source spec* is one string:

* ``python-docs`` — the English text of the standard library's ``pydoc_data.topics``,
  one row per topic;
* ``python-stdlib`` — the standard library's ``.py`` sources, one row per file;
* ``hub:NAME[:CONFIG][#SPLIT]`` — a Hub dataset through ``datasets.load_dataset``,
  e.g. ``hub:wikitext:wikitext-2-v1``;
* anything else is a local path: a ``.txt``, ``.jsonl`` or ``.parquet`` file, or a
  folder of them.

Rows are returned as a list of strings, in a deterministic order.
"""

from __future__ import annotations

import json
import sysconfig
import zlib
from dataclasses import dataclass
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


def load_rows(spec: str, split: Split, text_column: str = "text") -> list[str]:
    """The rows of ``spec``; ``split`` picks the half of an embedded or Hub corpus."""
    if spec in EMBEDDED_CORPORA:
        return _embedded_rows(spec, split)
    if spec.startswith(HUB_PREFIX):
        return _hub_rows(parse_hub_spec(spec), split, text_column)
    return _local_rows(Path(spec), text_column)


def load_splits(train_data: str, validation_data: str | None, text_column: str) -> tuple[list[str], list[str]]:
    """Training and validation rows: an explicit validation source, else the corpus's own validation split."""
    train_rows = load_rows(train_data, "train", text_column)
    if validation_data is not None:
        return train_rows, load_rows(validation_data, "validation", text_column)
    if is_local(train_data):
        raise UsageError("local training data needs --validation-data PATH too (a separate file or folder)")
    return train_rows, load_rows(train_data, "validation", text_column)


def is_local(spec: str) -> bool:
    return spec not in EMBEDDED_CORPORA and not spec.startswith(HUB_PREFIX)


def _in_validation(document_name: str) -> bool:
    # crc32 is stable across runs and platforms, unlike hash().
    return zlib.crc32(document_name.encode()) % VALIDATION_EVERY == 0


def _embedded_rows(name: str, split: Split) -> list[str]:
    documents = _python_docs() if name == "python-docs" else _python_stdlib()
    want_validation = split == "validation"
    return [text for doc, text in documents if _in_validation(doc) == want_validation]


def _python_docs() -> list[tuple[str, str]]:
    from pydoc_data.topics import topics

    return sorted(topics.items())


def _python_stdlib() -> list[tuple[str, str]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    documents = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if "site-packages" in relative or "dist-packages" in relative:
            continue
        try:
            documents.append((relative, path.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, OSError):
            # A few test fixtures are deliberately not UTF-8; they are skipped, not repaired.
            continue
    if not documents:
        raise UsageError(f"no Python sources found under {root} for the python-stdlib corpus")
    return documents


def _hub_rows(hub: HubSpec, split: Split, text_column: str) -> list[str]:
    import datasets

    split_name = hub.split or split
    ensure_reachable(
        f"Hub dataset {hub.name!r}",
        "pass local files instead (--train-data PATH --validation-data PATH), "
        "or set HF_HUB_OFFLINE=1 if it is in your datasets cache",
    )
    try:
        dataset = datasets.load_dataset(hub.name, hub.config, split=split_name)
    except Exception as error:  # the Hub raises many types: offline, unknown name, bad config
        raise UsageError(
            f"could not load Hub dataset {hub.name!r} (config {hub.config!r}, split {split_name!r}): "
            f"{first_line(error)}; check the name, or pass local files instead (--train-data PATH --validation-data PATH)"
        ) from error
    if text_column not in dataset.column_names:
        raise UsageError(
            f"Hub dataset {hub.name!r} has no column {text_column!r} (it has {dataset.column_names}); "
            "set --text-column"
        )
    return list(dataset[text_column])


def _local_rows(path: Path, text_column: str) -> list[str]:
    if not path.exists():
        raise UsageError(
            f"data {str(path)!r} is neither a file nor a folder, nor one of {', '.join(EMBEDDED_CORPORA)} "
            f"or {HUB_PREFIX}NAME[:CONFIG]"
        )
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in LOCAL_SUFFIXES)
        if not files:
            raise UsageError(f"folder {str(path)!r} holds no {'/'.join(LOCAL_SUFFIXES)} files")
    else:
        files = [path]
    rows: list[str] = []
    for file in files:
        rows.extend(_file_rows(file, text_column))
    if not any(row.strip() for row in rows):
        raise UsageError(f"data {str(path)!r} is empty: it holds no text")
    return rows


def _file_rows(path: Path, text_column: str) -> list[str]:
    suffix = path.suffix
    if suffix == ".txt":
        return txt_rows(path.read_text(encoding="utf-8"))
    if suffix == ".jsonl":
        return _jsonl_rows(path, text_column)
    if suffix == ".parquet":
        return _parquet_rows(path, text_column)
    raise UsageError(f"cannot read {str(path)!r}: supported files are {', '.join(LOCAL_SUFFIXES)}")


def txt_rows(text: str) -> list[str]:
    """Rows as Hugging Face's ``wikitext`` has them: one per line, line break kept, blank lines ''.

    Keeping the line break matters: it is a token, and it changes the chunk count.
    """
    return ["" if not line.strip() else line for line in text.splitlines(keepends=True)]


def _jsonl_rows(path: Path, text_column: str) -> list[str]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise UsageError(f"{path}:{number} is not valid JSON ({error.msg})") from error
            if not isinstance(record, dict) or text_column not in record:
                raise UsageError(f"{path}:{number} has no {text_column!r} field; set --text-column")
            rows.append(str(record[text_column]))
    return rows


def _parquet_rows(path: Path, text_column: str) -> list[str]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several types for a broken file
        raise UsageError(f"cannot read parquet file {str(path)!r}: {error}") from error
    if text_column not in table.column_names:
        raise UsageError(f"{path} has no column {text_column!r} (it has {table.column_names}); set --text-column")
    return [str(value) for value in table.column(text_column).to_pylist()]

