import pytest

from isoflop import UsageError
from isoflop.models import build_model, context_length, count_parameters, model_config


def test_scratch_model_init_is_a_function_of_the_seed():
    config = model_config("scratch:tiny", vocab_size=1000)
    first, again, other = build_model("scratch:tiny", config, 1), build_model("scratch:tiny", config, 1), build_model("scratch:tiny", config, 2)
    weight = "transformer.h.0.attn.c_attn.weight"
    assert (first.state_dict()[weight] == again.state_dict()[weight]).all()
    assert not (first.state_dict()[weight] == other.state_dict()[weight]).all()


def test_parameter_counts_separate_embeddings():
    config = model_config("scratch:tiny", vocab_size=1000)
    counts = count_parameters(build_model("scratch:tiny", config, 0))
    embeddings = 1000 * 64 + 1024 * 64  # wte (tied with the LM head) + wpe
    assert counts.total - counts.non_embedding == embeddings
    assert counts.non_embedding > 0


def test_local_pretrained_folder_loads_its_weights(pretrained_folder):
    config = model_config(str(pretrained_folder), vocab_size=50257)
    assert context_length(config) == 128
    model = build_model(str(pretrained_folder), config, seed=5)
    assert model.config.n_embd == 32


def test_dropout_override():
    assert model_config("scratch:tiny", 1000, dropout=0.0).resid_pdrop == 0.0


def test_unknown_scratch_size_lists_the_choices():
    with pytest.raises(UsageError, match="scratch:tiny"):
        model_config("scratch:huge", 1000)


def test_missing_pretrained_model_says_how_to_pass_a_local_path():
    with pytest.raises(UsageError, match="unreachable.*--model PATH"):
        model_config("distilgpt2", 50257)


def test_tokenizer_larger_than_model_vocabulary_is_refused(pretrained_folder):
    with pytest.raises(UsageError, match="tokenizer has"):
        model_config(str(pretrained_folder), vocab_size=60000)
