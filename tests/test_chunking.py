import pytest

from conftest import SHARED_WIKITEXT
from isoflop.data.chunking import packed_windows, per_row_windows
from isoflop.data.prepare import corpus_stats, fingerprint, take_chunks
from isoflop.data.stream import txt_rows


def test_per_row_windows_keep_only_full_windows_and_never_join_rows():
    rows = [list(range(10)), list(range(100, 103)), list(range(200, 208))]
    assert list(per_row_windows(rows, 4)) == [[0, 1, 2, 3], [4, 5, 6, 7], [200, 201, 202, 203], [204, 205, 206, 207]]


def test_per_row_windows_return_every_window_of_a_long_row():
    # tokenizers 0.23.2's return_overflowing_tokens returns only the first window; we must not.
    assert len(list(per_row_windows([list(range(1000))], 64))) == 15


def test_packed_windows_join_rows_with_eos_and_skip_empty_rows():
    rows = [[1, 2, 3], [], [4, 5], [6, 7, 8, 9]]
    assert list(packed_windows(rows, 4, eos_id=0)) == [[1, 2, 3, 0], [4, 5, 0, 6], [7, 8, 9, 0]]


def test_txt_rows_keep_line_breaks_and_blank_lines_become_empty():
    assert txt_rows(" \n = Title = \n \n text line\n") == ["", " = Title = \n", "", " text line\n"]


def test_line_break_is_a_token_and_changes_the_chunk_count(gpt2_tokenizer):
    rows = [" ".join(["word"] * 63) + "\n"]  # 63 words + the line break = 64 tokens
    assert len(take_chunks(rows, gpt2_tokenizer, 64, "per-row", None)) == 1
    assert len(take_chunks([rows[0].rstrip("\n")], gpt2_tokenizer, 64, "per-row", None)) == 0


def test_take_chunks_stops_at_the_limit(gpt2_tokenizer):
    rows = ["word " * 640] * 50
    assert len(take_chunks(rows, gpt2_tokenizer, 64, "per-row", 7)) == 7


def test_fingerprint_changes_with_the_data():
    assert fingerprint([[1, 2]], [[3, 4]]) == fingerprint([[1, 2]], [[3, 4]])
    assert fingerprint([[1, 2]], [[3, 4]]) != fingerprint([[1, 2]], [[3, 5]])
    assert fingerprint([[1, 2], [3, 4]]) != fingerprint([[1, 2]], [[3, 4]])


@pytest.mark.skipif(not (SHARED_WIKITEXT / "valid.txt").exists(), reason="real WikiText-2 not available here")
def test_real_wikitext2_validation_has_3029_per_row_chunks(gpt2_tokenizer):
    rows = txt_rows((SHARED_WIKITEXT / "valid.txt").read_text(encoding="utf-8"))
    stats = corpus_stats(rows, gpt2_tokenizer, 64, "per-row")
    assert stats.rows == 3760
    assert stats.tokens == 256061
    assert stats.chunks == 3029
