"""The fast engine against the reference engine: same sample order, dropout 0, fp32 on CPU."""

import pytest
import torch

from conftest import engine, make_data, make_run, train
from isoflop.training.head_loss import IGNORE_INDEX, head_cross_entropy, head_cross_entropy_eval
from helpers import assert_equivalent, compare_saved, runs


def test_chunked_head_loss_and_gradients_equal_autograd_cross_entropy():
    torch.manual_seed(0)
    hidden = torch.randn(150, 16, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(2500, 16, dtype=torch.float64, requires_grad=True)  # three vocabulary chunks, the last partial
    labels = torch.randint(0, 2500, (150,))
    labels[::7] = IGNORE_INDEX
    expected = torch.nn.functional.cross_entropy(hidden @ weight.t(), labels, ignore_index=IGNORE_INDEX)
    expected_grads = torch.autograd.grad(expected, (hidden, weight))
    got = head_cross_entropy(hidden, weight, labels)
    got_grads = torch.autograd.grad(got, (hidden, weight), retain_graph=True)
    torch.testing.assert_close(got, expected)
    for ours, theirs in zip(got_grads, expected_grads):
        torch.testing.assert_close(ours, theirs)
    for ours, theirs in zip(torch.autograd.grad(3 * got, (hidden, weight)), expected_grads):
        torch.testing.assert_close(ours, 3 * theirs)  # a scaled loss scales both gradients
    assert head_cross_entropy_eval(hidden.detach(), weight.detach(), labels) == pytest.approx(expected.item(), rel=1e-12)


# In the slow tier beside its 100-step comparison (the default tier compares the engines with warmup, cosine and
# weight decay below): the default tier stays under 3 minutes.
@pytest.mark.slow
@pytest.mark.parametrize("source", ["scratch", "pretrained"])
def test_fast_equals_reference_in_a_few_steps(reference_of, gpt2_tokenizer, pretrained_folder, tmp_path, source):
    model = "scratch:tiny" if source == "scratch" else str(pretrained_folder)
    assert compare_saved(reference_of, gpt2_tokenizer, model, 8, tmp_path, "fast") == 3 * 8


def test_fast_equals_reference_with_warmup_cosine_decay_weight_decay_and_sparse_evaluation(gpt2_tokenizer):
    data = make_data(gpt2_tokenizer)
    planned = runs(10, schedule="cosine", warmup_fraction=0.3, weight_decay=0.1, max_grad_norm=0.5, eval_steps=(5, 10),
                   batch_size=2)
    assert_equivalent(train(engine("reference"), planned, data)[0], train(engine("fast"), planned, data)[0])


@pytest.mark.slow
@pytest.mark.parametrize("source", ["scratch", "pretrained"])
def test_fast_equals_reference_step_by_step_over_100_steps(reference_of, gpt2_tokenizer, pretrained_folder, tmp_path,
                                                            source):
    model = "scratch:tiny" if source == "scratch" else str(pretrained_folder)
    compare_saved(reference_of, gpt2_tokenizer, model, 100, tmp_path, "fast")


def test_dropout_is_a_function_of_the_run_seed_alone(gpt2_tokenizer):
    data = make_data(gpt2_tokenizer)
    run = make_run("a", 3, 5, 6, dropout=0.1)
    first, _ = train(engine("fast"), [run], data)
    torch.manual_seed(123)  # whatever the process did before
    again, _ = train(engine("fast"), [run], data)
    assert first["a"].train_loss == again["a"].train_loss


def test_nan_loss_fails_the_run_with_the_step(gpt2_tokenizer):
    results, _ = train(engine("fast"), runs(10, learning_rate=1e30), make_data(gpt2_tokenizer))
    assert all(r.status == "failed" and "at step" in r.error for r in results.values())


def test_the_c_kernel_and_the_pytorch_fallback_give_the_same_loss_and_gradients(monkeypatch):
    from isoflop.training import head_loss, kernels

    assert kernels.load() is not None, "the CI machine has a C compiler: the kernel must build and pass its check"
    generator = torch.Generator().manual_seed(3)
    hidden = torch.randn(37, 24, generator=generator)
    weight = torch.randn(3001, 24, generator=generator) * 0.3  # several chunks, odd widths: vector tails
    labels = torch.randint(0, 3001, (37,), generator=generator)
    labels[::5] = head_loss.IGNORE_INDEX

    def loss_and_gradients():
        h, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
        loss = head_loss.head_cross_entropy(h, w, labels)
        loss.backward()
        return loss.item(), h.grad, w.grad, head_loss.head_cross_entropy_eval(hidden, weight, labels)

    fused = loss_and_gradients()
    monkeypatch.setattr(kernels, "load", lambda: None)
    plain = loss_and_gradients()
    assert fused[0] == pytest.approx(plain[0], rel=1e-6) and fused[3] == pytest.approx(plain[3], rel=1e-6)
    torch.testing.assert_close(fused[1], plain[1], rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(fused[2], plain[2], rtol=1e-5, atol=1e-8)


def test_without_a_working_compiler_the_head_falls_back_to_pytorch(monkeypatch, tmp_path):
    from isoflop.training import kernels

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("CC", "false")  # a compiler that always fails
    monkeypatch.setattr(kernels.shutil, "which", lambda name: "/bin/false" if name == "false" else None)
    assert kernels.load.__wrapped__() is None
    monkeypatch.setenv("ISOFLOP_HEAD_KERNEL", "pytorch")
    assert kernels.load.__wrapped__() is None


def test_an_interrupted_run_resumes_from_its_checkpoint_with_the_numbers_of_an_uninterrupted_one(gpt2_tokenizer, tmp_path):
    from isoflop.engines.base import Pack

    data = make_data(gpt2_tokenizer)
    run = make_run("a", 3, 5, 12, dropout=0.1, eval_steps=(4, 8, 12))
    whole, _ = train(engine("fast"), [run], data)
    fast = engine("fast", checkpoint_seconds=0)  # a checkpoint after every step
    pack = Pack((run,), checkpoint_dir=tmp_path)
    trained = []

    def stop_at_step_7(steps):
        trained.append(steps)
        if sum(trained) == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        list(fast.train(pack, data, stop_at_step_7))
    assert len(list(tmp_path.glob("*.pt"))) == 1
    reported = []
    resumed = list(fast.train(pack, data, reported.append))
    assert reported[0] == 6 and sum(reported) == 12  # the checkpoint's steps, then the rest
    assert resumed[0].train_loss == whole["a"].train_loss and resumed[0].val_loss == whole["a"].val_loss
    assert resumed[0].learning_rate == whole["a"].learning_rate and resumed[0].eval_steps == [4, 8, 12]
    assert not list(tmp_path.glob("*.pt")), "a run's checkpoint is removed once its result is handed on"


def bf16_comparison(steps):
    """One run of ``steps`` steps by the reference in fp32 and bf16 (and in bf16 on one thread: another summation
    order) and by the fast engine in fp32 and bf16."""
    from isoflop.tokenization.resolve import load_tokenizer

    data, run = make_data(load_tokenizer("bytes")), [make_run("a", 8, 1, steps, dropout=0.0)]
    results = {name: train(engine(kind, precision=precision), run, data)[0]["a"]
               for name, kind, precision in (("ref32", "reference", "fp32"), ("ref16", "reference", "bf16"),
                                             ("fast32", "fast", "fp32"), ("fast16", "fast", "bf16"))}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results["ref16_other_order"] = train(engine("reference", precision="bf16"), run, data)[0]["a"]
    finally:
        torch.set_num_threads(threads)
    return results


def assert_bf16_within_the_precisions_own_effect(results):
    """The tolerance, derived: two valid bf16 trainings part by ε, measured here over the whole run as the larger of
    the reference's distance from its fp32 run and from itself summed in another order (one thread: in fp32 that
    moves no loss by more than ~1e-5, in bf16 it can move them as far as bf16 does); the engines agree in fp32 to δ.
    A bf16 fast engine that rounds where the Trainer's autocast does lies within ε of its own fp32 run, so by the
    triangle inequality within 2ε + δ of the bf16 reference. At step 0 both evaluate the same weights: they differ by
    roundings of the loss only, less than one bf16 unit (2^-8 relative)."""
    def gap(a, b):
        return max(abs(x - y) for x, y in zip(a.train_loss + a.val_loss, b.train_loss + b.val_loss))

    epsilon = max(gap(results["ref16"], results["ref32"]), gap(results["ref16"], results["ref16_other_order"]))
    delta = gap(results["fast32"], results["ref32"])
    assert 0 < epsilon and delta < 1e-4  # bf16 does change the numbers; fp32 agrees as it always has
    assert gap(results["fast16"], results["fast32"]) <= 2 * epsilon
    assert gap(results["fast16"], results["ref16"]) <= 2 * epsilon + delta
    initial = results["ref16"].initial_val_loss
    assert abs(results["fast16"].initial_val_loss - initial) <= 2**-8 * initial


def test_bf16_fast_agrees_with_the_bf16_trainer_within_bf16s_own_effect():
    assert_bf16_within_the_precisions_own_effect(bf16_comparison(20))


@pytest.mark.slow
def test_bf16_fast_agrees_with_the_bf16_trainer_over_100_steps():
    assert_bf16_within_the_precisions_own_effect(bf16_comparison(100))


def test_bf16_is_refused_on_a_cpu_without_it_naming_the_missing_feature(monkeypatch):
    from isoflop import hardware

    monkeypatch.setattr(hardware, "cpuinfo", lambda: {"flags": "fpu avx2 avx512f"})
    reason = engine("fast", precision="bf16").supports(["scratch:tiny"], 257)
    assert "neither avx512_bf16 nor amx_bf16" in reason and "--precision fp32" in reason
    assert engine("fast").supports(["scratch:tiny"], 257) is None  # fp32 stays the default, and runs anywhere


@pytest.mark.slow  # tests/test_counts.py pins every family's shape and counts in the default tier
@pytest.mark.parametrize("family", ["llama", "qwen3"])
def test_fast_equals_reference_on_every_family(gpt2_tokenizer, family):
    """The blocks run through HF's own Llama and Qwen3 modules; the head's chunked loss reads their hidden states."""
    data = make_data(gpt2_tokenizer)
    planned = runs(6, model=f"scratch:{family}-tiny", schedule="cosine", warmup_fraction=0.2, weight_decay=0.1,
                   eval_steps=(3, 6))[:1]
    reference, fast = train(engine("reference"), planned, data)[0], train(engine("fast"), planned, data)[0]
    assert_equivalent(reference, fast)
    assert all(result.train_loss[-1] < result.train_loss[0] for result in fast.values())  # they learn
