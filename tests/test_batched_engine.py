"""The batched engine against the reference engine: same sample order, dropout 0, fp32 on CPU."""

import dataclasses

import pytest
import torch
from transformers import GPT2LMHeadModel

from isoflop.engines import BatchedEngine, ReferenceEngine, RunRequest
from isoflop.models import model_config
from test_reference_engine import setup_for

STEPS = 100
LOSS_TOLERANCE = 1e-4
RUNS = [RunRequest("d1", 1, 1), RunRequest("d3", 3, 2), RunRequest("d8", 8, 3)]


def train(engine, setup):
    return {r.key: r for r in engine.train(setup, RUNS, lambda n: None)}


@pytest.mark.parametrize("source", ["scratch", "pretrained"])
def test_batched_equals_reference_step_by_step(gpt2_tokenizer, pretrained_folder, tmp_path, source):
    model = "scratch:tiny" if source == "scratch" else str(pretrained_folder)
    setup = setup_for(gpt2_tokenizer, passes=STEPS, model=model)
    setup = dataclasses.replace(
        setup, model_config=model_config(model, len(gpt2_tokenizer), dropout=0.0), save_models_to=tmp_path / "ref"
    )
    reference = train(ReferenceEngine(), setup)
    batched = train(BatchedEngine(), dataclasses.replace(setup, save_models_to=tmp_path / "batched"))
    for key, expected in reference.items():
        got = batched[key]
        assert got.status == expected.status == "completed"
        assert len(got.val_loss) == STEPS
        assert max(abs(a - b) for a, b in zip(got.train_loss, expected.train_loss)) < LOSS_TOLERANCE
        assert max(abs(a - b) for a, b in zip(got.val_loss, expected.val_loss)) < LOSS_TOLERANCE
        assert got.learning_rate == pytest.approx(expected.learning_rate, abs=1e-12)
        # Final weights: both saved as ordinary HF checkpoints; they agree to 1e-3 absolute.
        ours = GPT2LMHeadModel.from_pretrained(tmp_path / "batched" / key).state_dict()
        theirs = GPT2LMHeadModel.from_pretrained(tmp_path / "ref" / key).state_dict()
        for name, tensor in theirs.items():
            torch.testing.assert_close(ours[name], tensor, atol=1e-3, rtol=0)


def test_members_are_independent_of_their_pack(gpt2_tokenizer):
    setup = setup_for(gpt2_tokenizer, passes=10)
    setup = dataclasses.replace(setup, model_config=model_config("scratch:tiny", len(gpt2_tokenizer), dropout=0.0))
    together = train(BatchedEngine(), setup)
    alone = {r.key: r for r in BatchedEngine(max_members=1).train(setup, RUNS, lambda n: None)}
    for key in together:
        assert together[key].val_loss == pytest.approx(alone[key].val_loss, abs=1e-5)


def test_out_of_memory_splits_the_pack_and_loses_no_run(gpt2_tokenizer, monkeypatch):
    setup = setup_for(gpt2_tokenizer, passes=3)
    engine = BatchedEngine()
    original = engine._train_pack

    def fail_when_large(setup, pack, on_step):
        if len(pack) > 1:
            raise torch.OutOfMemoryError("pretend")
        return original(setup, pack, on_step)

    monkeypatch.setattr(engine, "_train_pack", fail_when_large)
    results = list(engine.train(setup, RUNS, lambda n: None))
    assert sorted(r.key for r in results) == sorted(r.key for r in RUNS)
    assert all(r.status == "completed" for r in results)


def test_nan_loss_fails_the_members_with_the_step(gpt2_tokenizer):
    setup = setup_for(gpt2_tokenizer, passes=10, learning_rate=1e30)
    results = list(BatchedEngine().train(setup, RUNS, lambda n: None))
    assert all(r.status == "failed" and "at step" in r.error for r in results)


def test_bf16_on_cpu_is_refused():
    from isoflop import UsageError

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(UsageError, match="needs a CUDA GPU"):
        BatchedEngine(precision="bf16")
