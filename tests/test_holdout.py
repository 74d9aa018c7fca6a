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
    assert large.train_chunks[:20] == small.train_chunks
    held_out = "".join(doc for doc in DOCUMENTS if in_holdout(doc, 0.1))
    trained = "".join(doc for doc in DOCUMENTS if not in_holdout(doc, 0.1))
    validation_text = tokenizer.decode(small.val_chunks[0])
    assert validation_text[:60] in held_out and validation_text[:60] not in trained


def test_holdout_and_a_validation_source_are_refused_together(tmp_path):
    with pytest.raises(UsageError, match="--holdout sets the validation set aside from --train-data"):
        build_config(overrides={"train_data": "python-docs", "validation_data": "python-docs", "holdout": 0.01,
                                "output": str(tmp_path / "o")})
