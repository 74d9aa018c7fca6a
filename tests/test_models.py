import pytest

from isoflop import UsageError
from isoflop.models.build import build_model, context_length, count_parameters, model_config, model_facts
from isoflop.models.families import family_architecture
from isoflop.models.specs import LADDER, SCRATCH_SIZES, parameter_count


def test_scratch_model_init_is_a_function_of_the_seed():
    config = model_config("scratch:tiny", vocab_size=1000)
    first, again, other = (build_model("scratch:tiny", config, seed) for seed in (1, 1, 2))
    weight = "transformer.h.0.attn.c_attn.weight"
    assert (first.state_dict()[weight] == again.state_dict()[weight]).all()
    assert not (first.state_dict()[weight] == other.state_dict()[weight]).all()


@pytest.mark.parametrize("size", ["12k", "25k", "300k", "tiny", "small"])
def test_parameter_formula_equals_the_real_model(size):
    """The planning arithmetic, pinned against the HF model it stands for."""
    config = model_config(f"scratch:{size}", vocab_size=257)
    model = build_model(f"scratch:{size}", config, 0)
    unique = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in unique.values())
    embeddings = model.transformer.wte.weight.numel() + model.transformer.wpe.weight.numel()
    counted = parameter_count(family_architecture("gpt2", SCRATCH_SIZES[size], 257))
    assert (counted.total, counted.non_embedding) == (total, total - embeddings)
    assert count_parameters(config) == counted


def test_ladder_spans_0_1m_to_125m_non_embedding_parameters():
    sizes = [12 * s.n_layer * s.n_embd**2 for s in LADDER.values()]
    assert sizes == sorted(sizes)
    assert sizes[0] < 0.1e6 and 110e6 < sizes[-1] < 130e6


def test_local_pretrained_folder_loads_its_weights_and_facts(pretrained_folder):
    config = model_config(str(pretrained_folder), vocab_size=50257)
    assert context_length(config) == 128
    assert build_model(str(pretrained_folder), config, seed=5).config.n_embd == 32
    facts = model_facts(str(pretrained_folder), 50257)
    assert facts.context == 128 and facts.architecture.n_layer == 2


def test_dropout_override_sets_all_three_dropouts():
    config = model_config("scratch:tiny", 1000, dropout=0.25)
    assert (config.resid_pdrop, config.embd_pdrop, config.attn_pdrop) == (0.25, 0.25, 0.25)
    default = model_config("scratch:tiny", 1000)
    assert (default.resid_pdrop, default.embd_pdrop, default.attn_pdrop) == (0.1, 0.1, 0.1)  # GPT-2's own


def test_unknown_scratch_size_lists_the_choices():
    with pytest.raises(UsageError, match="scratch:tiny"):
        model_facts("scratch:huge", 1000)


def test_missing_pretrained_model_says_how_to_pass_a_local_path():
    with pytest.raises(UsageError, match="unreachable.*--model PATH"):
        model_config("distilgpt2", 50257)


def test_tokenizer_larger_than_model_vocabulary_is_refused(pretrained_folder):
    with pytest.raises(UsageError, match="tokenizer has"):
        model_config(str(pretrained_folder), vocab_size=60000)
