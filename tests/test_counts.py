"""Exact counts for every family: the arithmetic of a rung equals the model built (parameters on the meta device, and
the ``matmul`` FLOPs per token equal what torch's FlopCounterMode counts in a training step with eager attention)."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from isoflop.models.build import (build_model, config_facts, count_matmul_parameters, count_parameters, meta_model,
                                  model_config, model_facts)
from isoflop.models.counts import flops_per_token
from isoflop.models.families import FAMILIES, family_architecture
from isoflop.models.specs import SCRATCH_SIZES

VOCAB, SEQ_LEN, BATCH = 257, 32, 2
SHAPES = ["25k", "800k"]  # one head of width 32 and two layers; four heads of width 32 and four layers


def spec(family: str, size: str) -> str:
    return f"scratch:{size}" if family == "gpt2" else f"scratch:{family}-{size}"


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("size", SHAPES)
def test_a_rung_s_arithmetic_is_the_model_built(family, size):
    facts = model_facts(spec(family, size), VOCAB)
    config = model_config(spec(family, size), VOCAB)
    assert config.model_type == family
    assert facts.parameters == count_parameters(config) if family == "gpt2" else True
    model = meta_model(config)
    assert facts.parameters.total == sum({id(p): p.numel() for p in model.parameters()}.values())
    assert facts.matmul == count_matmul_parameters(model)
    assert config_facts(config) == facts  # the same counts from the config alone (a local folder's path)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("size", SHAPES)
def test_matmul_flops_per_token_are_what_flop_counter_mode_counts_in_a_training_step(family, size):
    config = model_config(spec(family, size), VOCAB)
    config._attn_implementation = "eager"  # SDPA on the CPU hides its matmuls from the counter
    model = build_model(spec(family, size), config, seed=0)
    ids = torch.randint(0, VOCAB, (BATCH, SEQ_LEN))
    with FlopCounterMode(display=False) as counter:
        model(input_ids=ids, labels=ids).loss.backward()
    per_token = counter.get_total_flops() / (BATCH * SEQ_LEN)
    assert per_token == flops_per_token(model_facts(spec(family, size), VOCAB), SEQ_LEN, "matmul")


def test_the_families_differ_as_their_rules_say():
    rung = SCRATCH_SIZES["800k"]  # 128 wide, 4 layers, 4 heads
    gpt2, llama, qwen3 = (family_architecture(family, rung, VOCAB) for family in ("gpt2", "llama", "qwen3"))
    assert (gpt2.mlp_width, llama.mlp_width, qwen3.mlp_width) == (512, 344, 384)
    assert (gpt2.kv_heads, llama.kv_heads, qwen3.kv_heads) == (4, 4, 2)
    assert (gpt2.tied_head, llama.tied_head, qwen3.tied_head) == (True, False, True)
    assert (llama.rope_theta, qwen3.rope_theta, qwen3.qk_norm, llama.qk_norm) == (500_000.0, 1_000_000.0, True, False)


def test_a_local_qwen3_folder_is_counted_from_its_config(tmp_path):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(vocab_size=VOCAB, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=32, tie_word_embeddings=False)
    Qwen3ForCausalLM(config).save_pretrained(tmp_path / "qwen")
    facts = model_facts(str(tmp_path / "qwen"), VOCAB)
    arch = facts.architecture
    assert (arch.family, arch.n_layer, arch.n_head, arch.kv_heads, arch.head_width, arch.tied_head) == \
        ("qwen3", 2, 4, 2, 32, False)
    model = build_model(str(tmp_path / "qwen"), model_config(str(tmp_path / "qwen"), VOCAB), seed=0)
    model.config._attn_implementation = "eager"
    ids = torch.randint(0, VOCAB, (1, SEQ_LEN))
    with FlopCounterMode(display=False) as counter:
        model(input_ids=ids, labels=ids).loss.backward()
    assert counter.get_total_flops() / SEQ_LEN == flops_per_token(facts, SEQ_LEN, "matmul")


@pytest.mark.slow  # a study; the folder's counts are pinned in the default tier above
def test_a_study_of_a_local_qwen3_folder_trains_and_records_its_counts(tmp_path, corpus):
    """Any save_pretrained causal LM is a study's model: its counts come from its config, the fast engine trains it."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from isoflop import build_config, run_study
    from isoflop.results.store import Store

    config = Qwen3Config(vocab_size=257, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=1, head_dim=16, max_position_embeddings=64)
    Qwen3ForCausalLM(config).save_pretrained(tmp_path / "qwen")
    train, valid = corpus
    study = build_config(overrides=dict(model=str(tmp_path / "qwen"), tokenizer="bytes", train_data=str(train),
                                        validation_data=str(valid), seq_len=16, budget_passes=4, unique_samples=(2,),
                                        seeds=(1,), eval_samples=2, engine="fast", output=str(tmp_path / "out")))
    run_study(study, echo=lambda line: None, progress=False)
    with Store(tmp_path / "out", create=False) as store:
        (record,) = store.records()
    assert record.completed and record.flop_convention == "full" and record.engine == "fast"
    assert record.flop_counts["matmul"] == flops_per_token(model_facts(str(tmp_path / "qwen"), 257), 16, "matmul")
