"""The batched engine against the reference engine: same sample order, dropout 0, fp32 on CPU."""

import pytest
import torch

from conftest import engine, make_data, make_run, train
from helpers import assert_equivalent, compare_saved, runs


# In the slow tier beside its 100-step comparison: the default tier stays under 3 minutes.
@pytest.mark.slow
@pytest.mark.parametrize("source", ["scratch", "pretrained"])
def test_batched_equals_reference_in_a_few_steps(reference_of, gpt2_tokenizer, pretrained_folder, tmp_path, source):
    model = "scratch:tiny" if source == "scratch" else str(pretrained_folder)
    assert compare_saved(reference_of, gpt2_tokenizer, model, 8, tmp_path) == 3 * 8  # progress counts every member's steps


@pytest.mark.slow  # the schedule and AdamW groups are training/optim's, which the fast engine's test checks by default
def test_batched_equals_reference_with_warmup_cosine_decay_and_sparse_evaluation(gpt2_tokenizer):
    data = make_data(gpt2_tokenizer)
    planned = runs(10, schedule="cosine", warmup_fraction=0.3, weight_decay=0.1, max_grad_norm=0.5, eval_steps=(5, 10))
    assert_equivalent(train(engine("reference"), planned, data)[0], train(engine("batched"), planned, data)[0])


@pytest.mark.slow
@pytest.mark.parametrize("source", ["scratch", "pretrained"])
def test_batched_equals_reference_step_by_step_over_100_steps(reference_of, gpt2_tokenizer, pretrained_folder, tmp_path,
                                                               source):
    model = "scratch:tiny" if source == "scratch" else str(pretrained_folder)
    compare_saved(reference_of, gpt2_tokenizer, model, 100, tmp_path)


def test_members_are_independent_of_their_pack(gpt2_tokenizer):
    data = make_data(gpt2_tokenizer)
    together, _ = train(engine("batched"), runs(6), data)
    for run in runs(6):
        alone, _ = train(engine("batched"), [run], data)
        assert together[run.key].val_loss == pytest.approx(alone[run.key].val_loss, abs=1e-5)


def test_out_of_memory_splits_the_pack_and_loses_no_run(gpt2_tokenizer, monkeypatch):
    batched = engine("batched")
    original = batched._train_pack

    def fail_when_large(pack, data, on_step, checkpoint):
        if len(pack.runs) > 1:
            raise torch.OutOfMemoryError("pretend")
        return original(pack, data, on_step, checkpoint)

    monkeypatch.setattr(batched, "_train_pack", fail_when_large)
    results, _ = train(batched, runs(3), make_data(gpt2_tokenizer))
    assert sorted(results) == ["d1", "d3", "d8"]
    assert all(r.status == "completed" for r in results.values())


def test_nan_loss_fails_the_members_with_the_step(gpt2_tokenizer):
    results, _ = train(engine("batched"), runs(10, learning_rate=1e30), make_data(gpt2_tokenizer))
    assert all(r.status == "failed" and "at step" in r.error for r in results.values())


def test_pack_size_option_caps_the_pack(gpt2_tokenizer):
    batched = engine("batched", pack_size=2)
    assert batched.pack_limit(runs(1)[0], make_data(gpt2_tokenizer), 7) == 2


def test_bf16_on_cpu_is_refused_by_supports(gpt2_tokenizer, monkeypatch):
    from isoflop import hardware

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert engine("batched", precision="bf16").supports(["scratch:tiny"], len(gpt2_tokenizer)) == \
        "bf16 needs a CUDA GPU; use --precision fp32 on CPU"
    monkeypatch.setattr(hardware, "cpuinfo", lambda: {"flags": "avx2"})  # the Trainer's bf16 on a CPU without it
    assert "neither avx512_bf16 nor amx_bf16" in engine("reference", precision="bf16").supports(["scratch:tiny"], 257)


class Killed(Exception):
    """Stands in for a kill in the middle of a pack."""


def test_a_pack_killed_mid_way_resumes_from_its_checkpoint_with_the_same_numbers(tmp_path):
    from isoflop.engines.base import Pack
    from isoflop.tokenization.resolve import load_tokenizer

    data = make_data(load_tokenizer("bytes"))
    planned = tuple(make_run(r.key, r.unique_samples, r.seed, 12, dropout=0.1, eval_steps=(4, 8, 12)) for r in runs(12))
    uninterrupted, _ = train(engine("batched"), planned, data)
    pack = Pack(planned, checkpoint_dir=tmp_path / "checkpoints")
    done = []

    def die_at_step_7(steps):
        done.append(steps)
        if sum(done) >= 7 * len(planned):
            raise Killed

    with pytest.raises(Killed):
        list(engine("batched", checkpoint_seconds=0).train(pack, data, die_at_step_7))
    assert len(list((tmp_path / "checkpoints").glob("*.pt"))) == 1
    reported = []
    resumed = {r.key: r for r in engine("batched", checkpoint_seconds=0).train(pack, data, reported.append)}
    assert reported[0] == 6 * len(planned)  # the steps the checkpoint already held, counted once
    for key, expected in uninterrupted.items():
        got = resumed[key]
        assert (got.train_loss, got.val_loss, got.learning_rate, got.eval_steps) == (
            expected.train_loss, expected.val_loss, expected.learning_rate, expected.eval_steps)
    assert not list((tmp_path / "checkpoints").glob("*.pt"))  # removed once every result was taken
