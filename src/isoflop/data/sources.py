"""Where text comes from: the Hugging Face Hub, local files, or corpora embedded in Python.

Source specs are described in ``data.stream``. Rows are returned as a list of strings, in a deterministic order (``data.stream`` yields them lazily).
"""

from __future__ import annotations

from ..errors import UsageError, first_line
from ..hub import ensure_reachable
from .stream import HUB_PREFIX, HubSpec, Split, StreamOptions, is_local, parse_hub_spec, stream_documents


def load_rows(spec: str, split: Split, text_column: str = "text") -> list[str]:
    """The rows of ``spec``; ``split`` picks the half of an embedded or Hub corpus. Hub datasets are loaded
    whole (and cached); everything else is the stream of ``data.stream`` collected."""
    if spec.startswith(HUB_PREFIX):
        return _hub_rows(parse_hub_spec(spec), split, text_column)
    rows = list(stream_documents(spec, StreamOptions(split=split, text_column=text_column)))
    if not any(row.strip() for row in rows):
        raise UsageError(f"data {spec!r} is empty: it holds no text" if is_local(spec)
                         else f"the embedded corpus {spec!r} has no {split} documents on this Python installation")
    return rows


def load_splits(train_data: str, validation_data: str | None, text_column: str) -> tuple[list[str], list[str]]:
    """Training and validation rows: an explicit validation source, else the corpus's own validation split."""
    train_rows = load_rows(train_data, "train", text_column)
    if validation_data is not None:
        return train_rows, load_rows(validation_data, "validation", text_column)
    if is_local(train_data):
        raise UsageError("local training data needs --validation-data PATH too (a separate file or folder)")
    return train_rows, load_rows(train_data, "validation", text_column)


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


