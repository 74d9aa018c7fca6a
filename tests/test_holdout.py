"""Data at scale: a streamed source's validation set set aside by document hash — the same documents at every
run and budget, never trained on — tested with local JSONL and parquet stand-ins of a FineWeb-style corpus."""

import json

import pytest

from isoflop import build_config
from isoflop.config.parts import DataConfig
from isoflop.data.prepare import prepare_data
from isoflop.data.sources import in_holdout
from isoflop.errors import UsageError
from isoflop.tokenization.resolve import load_tokenizer

DOCUMENTS = [f"document {i}: " + "the quick brown fox jumps over the lazy dog. " * (1 + i % 5) for i in range(600)]


def test_the_held_out_share_is_a_hash_of_the_text_close_to_the_share_asked():
    held = [in_holdout(doc, 0.1) for doc in DOCUMENTS]
    assert held == [in_holdout(doc, 0.1) for doc in DOCUMENTS]  # the same answer every time
    assert 0.07 < sum(held) / len(held) < 0.13  # 600 documents: the share within ±3 standard errors
    assert all(in_holdout(doc, 0.2) for doc, h in zip(DOCUMENTS, held) if h)  # a larger share keeps the smaller's


@pytest.fixture(params=["jsonl", "parquet"])
def corpus(request, tmp_path):
    path = tmp_path / f"web.{request.param}"
    if request.param == "jsonl":
        path.write_text("".join(json.dumps({"text": doc, "id": i}) + "\n" for i, doc in enumerate(DOCUMENTS)))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"text": DOCUMENTS, "id": list(range(len(DOCUMENTS)))}), path)
    return path


def test_a_study_s_validation_set_is_the_held_out_documents_at_every_budget(corpus):
    tokenizer = load_tokenizer("bytes")
    config = DataConfig(train_data=str(corpus), holdout=0.1, seq_len=32, chunking="packed")
    small = prepare_data(config, tokenizer, 20, 8, "")
    large = prepare_data(config, tokenizer, 400, 8, "")
    assert small.val_chunks == large.val_chunks  # fixed across runs and budgets
    assert large.train_chunks[:20] == small.train_chunks  # TokenWindows compare by their ids
    held_out = "".join(doc for doc in DOCUMENTS if in_holdout(doc, 0.1))
    trained = "".join(doc for doc in DOCUMENTS if not in_holdout(doc, 0.1))
    validation_text = tokenizer.decode(small.val_chunks[0])
    assert validation_text[:60] in held_out and validation_text[:60] not in trained


def test_holdout_and_a_validation_source_are_refused_together(tmp_path):
    with pytest.raises(UsageError, match="--holdout sets the validation set aside from --train-data"):
        build_config(overrides={"train_data": "python-docs", "validation_data": "python-docs", "holdout": 0.01,
                                "output": str(tmp_path / "o")})


def test_training_windows_take_four_bytes_a_token_and_fingerprint_as_lists_did(corpus):
    from isoflop.data.prepare import TokenWindows, fingerprint

    data = prepare_data(DataConfig(train_data=str(corpus), holdout=0.1, seq_len=32, chunking="packed"),
                        load_tokenizer("bytes"), 300, 4, "")
    windows = data.train_chunks
    assert isinstance(windows, TokenWindows) and windows.array.dtype == "int32"
    assert windows.array.nbytes == 4 * 300 * 32  # lists of Python ints: ~40 bytes a token for ids past 256
    as_lists = [list(window) for window in windows]
    assert windows[5] == as_lists[5] and windows[:7] == as_lists[:7] and len(windows[10:]) == 290
    # Stored runs keep their data fingerprints: the same bytes hashed as the lists of before.
    assert data.run_fingerprint(50) == fingerprint(as_lists[:50], data.val_chunks)


@pytest.mark.parametrize("suffix", ["jsonl", pytest.param("parquet", marks=pytest.mark.slow)])
def test_a_pretokenized_source_gives_the_windows_its_text_gives(tmp_path, suffix):
    tokenizer = load_tokenizer("bytes")
    texts = {"train": DOCUMENTS[:400], "valid": DOCUMENTS[400:]}
    for name, docs in texts.items():
        ids = [tokenizer(doc)["input_ids"] for doc in docs]
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"text": doc}) + "\n" for doc in docs))
        if suffix == "jsonl":
            (tmp_path / f"{name}-ids.jsonl").write_text("".join(json.dumps({"input_ids": i}) + "\n" for i in ids))
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({"input_ids": ids}), tmp_path / f"{name}-ids.parquet")
    text = DataConfig(train_data=str(tmp_path / "train.jsonl"), validation_data=str(tmp_path / "valid.jsonl"),
                      seq_len=32, chunking="packed")
    ids = DataConfig(train_data=str(tmp_path / f"train-ids.{suffix}"),
                     validation_data=str(tmp_path / f"valid-ids.{suffix}"), text_column="input_ids", pretokenized=True,
                     seq_len=32, chunking="packed")
    from_text, from_ids = (prepare_data(config, tokenizer, 200, 4, "") for config in (text, ids))
    assert from_ids.train_chunks == from_text.train_chunks and from_ids.val_chunks == from_text.val_chunks
    with pytest.raises(UsageError, match="holds text, not token ids"):
        prepare_data(ids.model_copy(update={"text_column": "text", "train_data": str(tmp_path / "train.jsonl"),
                                            "validation_data": str(tmp_path / "valid.jsonl")}), tokenizer, 10, 2, "")
    gpt2_ids = [load_tokenizer("gpt2")(doc)["input_ids"] for doc in DOCUMENTS[:50]]
    (tmp_path / "gpt2-ids.jsonl").write_text("".join(json.dumps({"input_ids": i}) + "\n" for i in gpt2_ids))
    with pytest.raises(UsageError, match="past the 257 of tokenizer .*its ids were made by another"):
        prepare_data(ids.model_copy(update={"train_data": str(tmp_path / "gpt2-ids.jsonl")}), tokenizer, 10, 2, "")
