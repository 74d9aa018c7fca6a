import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import jsonl
from isoflop import UsageError
from isoflop.data.sources import load_rows
from isoflop.data.stream import parse_hub_spec


def test_txt_file_rows_follow_wikitext(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(" \n = A = \n body\n", encoding="utf-8")
    assert load_rows(str(path), "train") == ["", " = A = \n", " body\n"]


def test_jsonl_and_parquet_read_the_text_column(tmp_path):
    jsonl(tmp_path / "a.jsonl", ["one", "two"], column="body")
    pq.write_table(pa.table({"body": ["three"]}), tmp_path / "b.parquet")
    assert load_rows(str(tmp_path / "a.jsonl"), "train", "body") == ["one", "two"]
    assert load_rows(str(tmp_path / "b.parquet"), "train", "body") == ["three"]
    # A folder reads its files in name order.
    assert load_rows(str(tmp_path), "train", "body") == ["one", "two", "three"]


def test_missing_text_column_is_named(tmp_path):
    jsonl(tmp_path / "a.jsonl", ["x"], column="body")
    with pytest.raises(UsageError, match="no 'text' field"):
        load_rows(str(tmp_path / "a.jsonl"), "train")


def test_missing_and_empty_files_are_refused(tmp_path):
    with pytest.raises(UsageError, match="neither a file nor a folder"):
        load_rows(str(tmp_path / "nope.txt"), "train")
    (tmp_path / "empty.txt").write_text("\n \n", encoding="utf-8")
    with pytest.raises(UsageError, match="is empty"):
        load_rows(str(tmp_path / "empty.txt"), "train")
    (tmp_path / "folder").mkdir()
    with pytest.raises(UsageError, match="holds no"):
        load_rows(str(tmp_path / "folder"), "train")


# The larger corpus in the slow tier: the default tier stays under 3 minutes.
@pytest.mark.parametrize("name", ["python-docs", pytest.param("python-stdlib", marks=pytest.mark.slow)])
def test_embedded_corpora_split_by_document_deterministically(name):
    train, validation = load_rows(name, "train"), load_rows(name, "validation")
    assert len(validation) < len(train) / 5
    assert load_rows(name, "validation") == validation
    if name == "python-docs":  # stdlib has identical files (empty __init__.py) in both halves
        assert not set(train) & set(validation)


def test_hub_spec_parts():
    spec = parse_hub_spec("hub:wikitext:wikitext-2-v1#test")
    assert (spec.name, spec.config, spec.split) == ("wikitext", "wikitext-2-v1", "test")
    assert parse_hub_spec("hub:org/data").config is None


def test_hub_dataset_without_hub_fails_at_once_with_advice():
    started = time.perf_counter()
    with pytest.raises(UsageError, match="Hub is unreachable|unreachable from here") as error:
        load_rows("hub:wikitext:wikitext-2-v1", "train")
    assert "--train-data PATH" in str(error.value)
    assert time.perf_counter() - started < 5


def test_the_one_hub_loader_streams_or_loads_whole_the_same_rows(monkeypatch):
    import datasets

    import isoflop.data.stream as stream

    rows = [" = Valkyria = \n", "", " The game began development in 2010 .\n"]
    calls = []

    def load_dataset(name, config, split, streaming):
        calls.append((name, config, split, streaming))
        whole = datasets.Dataset.from_dict({"text": rows, "id": list(range(len(rows)))})
        return whole.to_iterable_dataset() if streaming else whole

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.setattr(stream, "ensure_reachable", lambda what, advice: None)
    assert load_rows("hub:wikitext:wikitext-2-v1", "train") == rows  # the list form: loaded whole, cached
    assert list(stream.stream_documents("hub:wikitext:wikitext-2-v1#test")) == rows
    assert calls == [("wikitext", "wikitext-2-v1", "train", False), ("wikitext", "wikitext-2-v1", "test", True)]
    with pytest.raises(UsageError, match="has no column 'body'.*set --text-column"):
        load_rows("hub:wikitext:wikitext-2-v1", "train", text_column="body")


def test_a_latin_1_file_reads_with_its_encoding_and_a_study_keyed_before_keeps_its_keys(tmp_path, capsys):
    import json

    from conftest import run_cli
    from isoflop import build_config

    path = tmp_path / "latin1.txt"
    path.write_bytes("Caf\u00e9 cr\u00e8me, na\u00efve r\u00e9sum\u00e9\n".encode("latin-1") * 50)
    code, out, _ = run_cli(capsys, "data", "stats", str(path), "--encoding", "latin-1", "--json")
    assert code == 0 and json.loads(out)["rows"] == 50
    assert build_config(overrides={"encoding": None}).identity() == build_config().identity()  # unset: keys as before
    assert build_config(overrides={"encoding": "latin-1"}).data.encoding == "iso8859-1"


@pytest.mark.parametrize("before, bad", [(b"Caf", b"\xe9 au lait"), (b"a" * ((1 << 20) - 1), b"\xc3("),
                                         (b"a" * (1 << 20), b"Caf\xe9")])
def test_the_first_byte_an_encoding_cannot_read_is_found_at_its_file_offset(tmp_path, before, bad):
    from isoflop.data.stream import _first_undecodable

    path = tmp_path / "mixed.txt"
    path.write_bytes(before + bad)
    offset, byte = _first_undecodable(path, "utf-8")
    assert (path.read_bytes()[offset], byte) == (byte, {b"\xe9": 0xE9, b"\xc3": 0xC3}[bytes([byte])])
    assert offset == len(before) + (3 if bad.startswith(b"Caf") else 0)
