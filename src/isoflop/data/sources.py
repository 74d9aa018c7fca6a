"""Where text comes from: the Hugging Face Hub, local files, or corpora embedded in Python.

Source specs are described in ``data.stream``; this is its stream collected into a list of rows, in
a deterministic order, for the studies (which hold their samples in memory).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np

from ..errors import UsageError
from .stream import HUB_PREFIX, Split, StreamOptions, is_local, stream_documents


def load_rows(spec: str, split: Split, text_column: str = "text", encoding: str = "utf-8") -> list[str]:
    """The rows of ``spec``, the stream of ``data.stream`` collected; ``split`` picks the half of an embedded or Hub
    corpus (a Hub dataset is loaded whole, through the datasets cache, rather than streamed)."""
    rows = list(stream_documents(spec, StreamOptions(split=split, text_column=text_column, streaming=False, encoding=encoding)))
    if not any(row.strip() for row in rows):
        where = ("data {!r} is empty: it holds no text" if is_local(spec) else
                 "Hub dataset {!r} holds no text in its " + split + " split" if spec.startswith(HUB_PREFIX) else
                 "the embedded corpus {!r} has no " + split + " documents on this Python installation")
        raise UsageError(where.format(spec))
    return rows


def in_holdout(document: str, share: float) -> bool:
    """Whether a document belongs to the held-out share: a hash of its text below ``share`` of the hash range (the
    same answer in every run, budget and process)."""
    content = (document.encode("utf-8", "surrogatepass") if isinstance(document, str)
               else np.asarray(document, dtype=np.int64).tobytes())  # a pretokenized document: its ids
    digest = hashlib.blake2b(content, digest_size=8).digest()
    return int.from_bytes(digest, "big") < share * 2**64


def streamed_splits(data_config) -> tuple[Iterator, Iterator]:
    """Training and validation documents, streamed lazily (a Hub dataset is not downloaded whole; pretokenized
    documents come as lists of ids): with ``holdout``, the held-out share of the training source by document hash is
    the validation set and the rest the training set; else the validation source (or the source's own split)."""
    def options(split: Split) -> StreamOptions:
        return StreamOptions(split=split, text_column=data_config.text_column, streaming=True,
                             encoding=data_config.text_encoding, pretokenized=bool(data_config.pretokenized))

    share, source = data_config.holdout, data_config.train_data
    if share is not None:
        return ((doc for doc in stream_documents(source, options("train")) if not in_holdout(doc, share)),
                (doc for doc in stream_documents(source, options("train")) if in_holdout(doc, share)))
    if data_config.validation_data is None and is_local(source):
        raise UsageError("local training data needs --validation-data PATH too (a separate file or folder), or "
                         "--holdout SHARE to set some of its documents aside")
    validation = data_config.validation_data or source
    return stream_documents(source, options("train")), stream_documents(validation, options("validation"))


def load_splits(train_data: str, validation_data: str | None, text_column: str,
                encoding: str = "utf-8") -> tuple[list[str], list[str]]:
    """Training and validation rows: an explicit validation source, else the corpus's own validation split."""
    train_rows = load_rows(train_data, "train", text_column, encoding)
    if validation_data is not None:
        return train_rows, load_rows(validation_data, "validation", text_column, encoding)
    if is_local(train_data):
        raise UsageError("local training data needs --validation-data PATH too (a separate file or folder)")
    return train_rows, load_rows(train_data, "validation", text_column, encoding)
