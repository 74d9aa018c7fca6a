"""Training, inspecting and comparing byte-level BPE tokenizers; streaming text with a shuffle buffer."""

import json
import math

import pytest

from conftest import jsonl, run_cli
from isoflop.data.stream import StreamOptions, StreamStats, shuffled, stream_documents
from isoflop.tokenization.inspect import _byte_of, readable
from isoflop.tokenization.metrics import measure
from isoflop.tokenization.resolve import load_tokenizer

TEXTS = [
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
    "Ünïcödé façade — naïve café, 中文字符, emoji 🙂🙂 and\ttabs\t\tand    runs of spaces.\n",
    "class Tree:\n    def __init__(self):\n        self.children = []\n\n\n\n",
] * 20
ROUND_TRIP = ["   leading and trailing   ", "\t\ttabs\n\n\nand lines\r\n", "中文 🙂 ü ß ﬁ", "", "x" * 300, "def  f( ):\n\t return 1"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return jsonl(tmp_path_factory.mktemp("corpus") / "docs.jsonl", TEXTS)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus):
    out = tmp_path_factory.mktemp("tok") / "bpe"
    from isoflop.cli import main

    main(["tokenizer", "train", "--corpus", str(corpus), "--vocab-size", "320", "--min-frequency", "1", "--out", str(out)])
    return out


def test_trained_tokenizer_round_trips_and_has_every_byte(trained):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(trained)
    assert len(tokenizer) == 320
    vocab = tokenizer.get_vocab()
    assert all(symbol in vocab for symbol in _byte_of())  # all 256 bytes
    for text in ROUND_TRIP + TEXTS[:3]:
        assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
    record = json.loads((trained / "isoflop_tokenizer.json").read_text())
    assert record["seen"]["documents"] == len(TEXTS) and record["vocab_size"] == 320 and record["base"] == "gpt2"
    assert len(record["seen"]["sha256"]) == 64 and "tokenizers" in record["versions"]


def test_training_is_deterministic(capsys, tmp_path, corpus, trained):
    code, _, err = run_cli(capsys, "tokenizer", "train", "--corpus", str(corpus), "--vocab-size", "320",
                           "--min-frequency", "1", "--out", str(tmp_path / "again"))
    assert code == 0, err
    assert (tmp_path / "again" / "tokenizer.json").read_text() == (trained / "tokenizer.json").read_text()


def test_metrics_match_hand_computed_values():
    bytes_ = load_tokenizer("bytes")
    m = measure(bytes_, "bytes", ["ab cd"])
    # 5 byte tokens; words "ab" and "cd" get 2 tokens each, the space none.
    assert (m.tokens, m.words, m.fertility, m.continued_words) == (5, 2, 2.0, 1.0)
    assert (m.chars_per_token, m.bytes_per_token, m.windows) == (1.0, 1.0, 1)
    assert m.unused_vocabulary == pytest.approx(252 / 257)
    # Five tokens used once each: H_2.5 of a uniform distribution over 5 is log 5.
    assert m.renyi_efficiency == pytest.approx(math.log(5) / math.log(257))
    gpt2 = measure(load_tokenizer("gpt2"), "gpt2", ["hello world"])
    assert (gpt2.tokens, gpt2.fertility, gpt2.continued_words) == (2, 1.0, 0.0)


def test_readable_tokens():
    assert readable("Ġreturn", True) == "␣return"
    assert readable("ĊĠĠ", True) == "↵␣␣"
    assert readable("ä¸", True) == "⟨e4 b8⟩"


def test_streaming_shuffle_is_deterministic_and_visits_every_document_once(tmp_path):
    source = jsonl(tmp_path / "many.jsonl", [f"document {i}" for i in range(53)])
    options = StreamOptions(buffer_size=7, seed=3)
    first = list(stream_documents(str(source), options))
    assert first == list(stream_documents(str(source), options))
    assert sorted(first) == sorted(f"document {i}" for i in range(53)) and len(first) == 53
    assert first != [f"document {i}" for i in range(53)]
    assert sorted(shuffled([str(i) for i in range(5)], 100, 0)) == [str(i) for i in range(5)]
    stats = StreamStats()
    capped = list(stream_documents(str(source), StreamOptions(max_documents=4), stats))
    assert capped == [f"document {i}" for i in range(4)] and stats.documents == 4
    assert len(list(stream_documents(str(source), StreamOptions(max_chars=25)))) == 3


def test_inspect_and_compare_cli(capsys, trained, tmp_path):
    code, out, _ = run_cli(capsys, "tokenizer", "inspect", str(trained), "--keywords", "python", "--text", "    return x")
    assert code == 0 and "320 tokens" in out and "first 10 merges" in out and "keywords: 35" in out and "␣return" in out
    code, out, err = run_cli(capsys, "tokenizer", "compare", str(trained), "gpt2", "bytes", "--corpus", "python-docs",
                             "--max-documents", "20", "--out", str(tmp_path / "cmp"))
    assert code == 0, err
    saved = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [m["name"] for m in saved["metrics"]] == [str(trained), "gpt2", "bytes"]
    assert saved["metrics"][2]["bytes_per_token"] == 1.0
    from PIL import Image

    with Image.open(tmp_path / "cmp" / "compare.png") as plot:  # a real PNG, the six panels' size
        assert plot.format == "PNG" and plot.size == (1320, 720)
    assert "1024-token windows vs first" in out
    code, out, _ = run_cli(capsys, "tokenizer", "compare", "gpt2", "bytes", "--corpus", "python-docs", "--max-documents", "3",
                           "--csv", "--out", str(tmp_path / "cmp2"))
    assert code == 0 and out.splitlines()[0].startswith("name,vocab_size") and len(out.splitlines()) == 3


def test_trained_tokenizer_works_in_a_scarcity_run(capsys, trained, tmp_path, pretrained_folder):
    code, out, err = run_cli(capsys, "scarcity", "--tokenizer", str(trained), "--model", "scratch:tiny", "--train-data",
                             "python-docs", "--budget-passes", "2", "--unique-samples", "1", "--seeds", "1", "--eval-samples", "1",
                             "--seq-len", "16", "--quiet", "--output", str(tmp_path / "run"))
    assert code == 0, err
    code, _, err = run_cli(capsys, "scarcity", "--tokenizer", str(trained), "--model", str(pretrained_folder), "--train-data",
                           "python-docs", "--budget-passes", "2", "--unique-samples", "1", "--seeds", "1", "--quiet", "--output",
                           str(tmp_path / "refused"))
    assert code == 2 and "was trained with 50,257" in err and "never resized" in err


@pytest.mark.parametrize("args, message", [
    (("--vocab-size", "200"), "smaller than the 256-byte alphabet"),
    (("--base", "wordpiece"), "unknown --base 'wordpiece'"),
    (("--corpus", "does/not/exist"), "is neither a file nor a folder"),
    (("--max-documents", "0"), "yielded no text"),
])
def test_bad_training_input_is_one_line_and_leaves_no_folder(capsys, tmp_path, corpus, args, message):
    out = tmp_path / "tok"
    arguments = ["tokenizer", "train", "--corpus", str(corpus), "--out", str(out), *args]
    code, _, err = run_cli(capsys, *arguments)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_inspect_missing_folder_and_bad_keywords(capsys, tmp_path):
    code, _, err = run_cli(capsys, "tokenizer", "inspect", str(tmp_path / "nope"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, "tokenizer", "inspect", "bytes", "--keywords", str(tmp_path / "none.txt"))
    assert code == 2 and "--keywords" in err


@pytest.mark.slow
def test_vocab_study_compares_tokenizers_in_bits_per_byte(capsys, tmp_path):
    out = tmp_path / "vocab"
    args = ["vocab", "--tokenizers", "bytes,bpe:300", "--train-data", "python-docs", "--budgets", "1e9", "--model-sizes",
            "3k,6k", "--seq-len", "16", "--eval-samples", "1", "--evals-per-run", "2", "--quiet", "--output", str(out)]
    code, stdout, err = run_cli(capsys, *args, "--dry-run", "--estimate")  # first: nothing written
    estimates = [line for line in stdout.splitlines() if line.startswith("estimate")]
    assert code == 0 and len(estimates) == 3 and not out.exists(), err
    assert "the tokenizer is not trained yet: timed with 300 byte-tokenizer ids" in estimates[1]
    assert estimates[2].startswith("estimate for the whole vocabulary study: about ")
    assert estimates[2].endswith("(the 2 tokenizers' ladders one after another; training bpe:300 first is not counted)")
    code, stdout, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "C = 1e+09 FLOPs: lowest bits per byte with" in stdout
    assert (out / "bytes" / "results.sqlite").exists() and (out / "bpe-300" / "results.sqlite").exists()
    record = json.loads((out / "tokenizers" / "bpe-300" / "isoflop_tokenizer.json").read_text())
    assert record["corpus"] == "python-docs" and record["vocab_size"] == 300
    assert "bpe-300" in (out / "summary.md").read_text()
    code, stdout, _ = run_cli(capsys, *args)  # everything stored: nothing retrains, the tokenizer is reused
    assert code == 0 and "0 run(s) trained" in stdout
    code, _, err = run_cli(capsys, "vocab", "--tokenizers", "bytes,missing-folder/x", "--output", str(tmp_path / "v2"))
    assert code == 2 and not (tmp_path / "v2").exists()


def test_a_vocabulary_size_off_a_multiple_of_8_is_warned_about(capsys, tmp_path, corpus):
    code, _, err = run_cli(capsys, "tokenizer", "train", "--corpus", str(corpus), "--vocab-size", "300", "--min-frequency", "1",
                           "--out", str(tmp_path / "odd"))
    assert code == 0 and "not a multiple of 8" in err and "consider 304" in err
