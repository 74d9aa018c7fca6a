import pytest

from isoflop import UsageError
from isoflop.tokenization.resolve import load_tokenizer


def test_offline_gpt2_ids_equal_gpt2s(gpt2_tokenizer):
    assert gpt2_tokenizer("Hello world")["input_ids"] == [15496, 995]
    assert len(gpt2_tokenizer) == 50257
    assert gpt2_tokenizer.eos_token_id == 50256


def test_pad_token_is_eos_as_the_classic_collator_needs(gpt2_tokenizer):
    assert gpt2_tokenizer.pad_token_id == gpt2_tokenizer.eos_token_id


def test_local_tokenizer_folder_loads(tmp_path, gpt2_tokenizer):
    gpt2_tokenizer.save_pretrained(tmp_path)
    assert load_tokenizer(str(tmp_path))("Hello world")["input_ids"] == [15496, 995]


def test_unknown_tokenizer_without_hub_is_one_clear_error():
    with pytest.raises(UsageError, match="unreachable.*local folder"):
        load_tokenizer("someone/not-a-tokenizer")
