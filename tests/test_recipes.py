"""The recipes: packed datasets, pretraining (resumable, data-parallel), fine-tuning, generation."""

import json
import math
import os
import shutil
import subprocess
import sys
from itertools import islice

import pytest

from conftest import jsonl, run_cli
from isoflop.data.packed import ConstantLengthDataset
from isoflop.data.stream import StreamOptions
from isoflop.tokenization.resolve import load_tokenizer

DOCS = [f"document {i}: " + "abcdefghij"[i % 10] * (5 + i % 7) + " end." for i in range(40)]
NO_DROPOUT = "resid_pdrop=0,embd_pdrop=0,attn_pdrop=0"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return jsonl(tmp_path_factory.mktemp("docs") / "docs.jsonl", DOCS)


def test_infinite_packing_yields_full_windows_restarts_and_repeats_nothing_within_a_pass(corpus):
    bytes_ = load_tokenizer("bytes")
    data = ConstantLengthDataset(bytes_, str(corpus), StreamOptions(), seq_len=16, chars_per_token=1.0, num_sequences=2)
    tokens_per_pass = sum(len(d.encode()) + 1 for d in DOCS)  # each document and its EOS
    per_pass = tokens_per_pass // 16
    windows = list(islice(data, 3 * per_pass))
    assert all(len(w) == 16 for w in windows) and data.passes >= 2  # restarted the source, twice
    first = [tuple(w) for w in windows[:per_pass]]
    assert len(set(first)) == len(first)  # no window twice before the source is exhausted
    assert bytes_.decode([t for w in first for t in w]).startswith(DOCS[0] + "<|endoftext|>" + DOCS[1])


def test_fixed_packing_equals_group_texts(corpus):
    gpt2 = load_tokenizer("gpt2")
    fixed = list(ConstantLengthDataset(gpt2, str(corpus), StreamOptions(), seq_len=8, chars_per_token=4.0, num_sequences=3,
                               infinite=False, separator=None))
    # 🤗's run_clm group_texts: tokenize each text, concatenate everything, cut full blocks, drop the rest.
    concatenated = [t for text in DOCS for t in gpt2(text)["input_ids"]]
    total = len(concatenated) // 8 * 8
    assert fixed == [concatenated[i : i + 8] for i in range(0, total, 8)]


@pytest.mark.parametrize("rule", ["packed", "concatenated"])
def test_the_stream_is_cut_by_the_same_rule_as_a_studys_packed_samples(tmp_path, rule):
    from isoflop.data.chunking import windows

    texts = ["alpha beta", "", "gamma", "", "", "delta epsilon zeta", "eta"] * 3  # empty documents add nothing
    path = jsonl(tmp_path / "mixed.jsonl", texts)
    bytes_ = load_tokenizer("bytes")
    separator = bytes_.eos_token_id if rule == "packed" else None
    stream = list(ConstantLengthDataset(bytes_, str(path), StreamOptions(), seq_len=8, chars_per_token=1.0,
                                        num_sequences=1, infinite=False, separator=separator))
    rows = [bytes_(text, add_special_tokens=False)["input_ids"] for text in texts]
    assert stream == list(windows(rows, 8, rule, bytes_.eos_token_id)) and len(stream) > 5


def pretrain_args(out, *extra):
    return ["pretrain", "--tokenizer", "bytes", "--train-data", "python-docs", "--size", "tiny", "--gpt2-overrides",
            "n_layer=1,n_embd=16,n_head=2", "--seq-len", "16", "--batch-size", "4", "--max-steps", "6", "--eval-every", "3",
            "--eval-samples", "8", "--checkpoint-every", "3", "--shuffle-buffer", "20", "--warmup-steps", "2", "--quiet",
            "--output", str(out), *extra]


def metrics(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def test_pretrain_interrupted_and_resumed_equals_uninterrupted(capsys, tmp_path, monkeypatch):
    import torch

    code, out, err = run_cli(capsys, *pretrain_args(tmp_path / "whole"))
    assert code == 0, err
    assert "validation perplexity" in out and "non-embedding" in out and "FLOPs (full count" in out

    import isoflop.recipes.pretrain as pretrain

    original = pretrain.checkpoint

    def crash_after(run, step):
        original(run, step)
        raise KeyboardInterrupt  # the run dies right after its step-3 checkpoint

    monkeypatch.setattr(pretrain, "checkpoint", crash_after)
    code, _, _ = run_cli(capsys, *pretrain_args(tmp_path / "split"))
    assert code == 130 and not (tmp_path / "split" / "model").exists()
    monkeypatch.setattr(pretrain, "checkpoint", original)
    code, _, err = run_cli(capsys, *pretrain_args(tmp_path / "split"), "--resume")
    assert code == 0, err
    assert "resumed from" in err
    whole, split = metrics(tmp_path / "whole"), metrics(tmp_path / "split")
    strip = [{k: v for k, v in m.items() if k != "tokens_per_second"} for m in whole]
    assert [{k: v for k, v in m.items() if k != "tokens_per_second"} for m in split] == strip  # bit for bit
    from safetensors.torch import load_file

    left, right = (load_file(tmp_path / name / "model" / "model.safetensors") for name in ("whole", "split"))
    assert all(torch.equal(left[k], right[k]) for k in left)


def without_tokens_per_second(folder):
    return [{k: v for k, v in m.items() if k != "tokens_per_second"} for m in metrics(folder)]


@pytest.mark.slow
def test_lightning_loop_matches_accelerate_per_step_and_resumes_exactly(capsys, tmp_path, monkeypatch):
    pytest.importorskip("lightning")
    # Dropout on (GPT-2's 0.1) and two micro-batches per step: the same draws, sums and clipping in both loops.
    accumulated = ("--batch-size", "2", "--gradient-accumulation", "2")
    code, _, err = run_cli(capsys, *pretrain_args(tmp_path / "accelerate", *accumulated))
    assert code == 0, err
    code, out, err = run_cli(capsys, *pretrain_args(tmp_path / "lightning", *accumulated, "--loop", "lightning"))
    assert code == 0, err
    assert "validation perplexity" in out
    accelerate, lightning = without_tokens_per_second(tmp_path / "accelerate"), without_tokens_per_second(tmp_path / "lightning")
    assert [m["step"] for m in lightning] == [m["step"] for m in accelerate] == list(range(7))
    for a, b in zip(accelerate, lightning):
        assert set(a) == set(b)
        for key in ("train_loss", "eval_loss", "learning_rate"):
            if key in a:
                assert abs(a[key] - b[key]) <= 1e-5, (a["step"], key, a[key], b[key])
    import isoflop.recipes.lightning as loop

    original = loop.CheckpointFolder.save

    def crash_after(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise KeyboardInterrupt  # the run dies right after its step-3 checkpoint

    monkeypatch.setattr(loop.CheckpointFolder, "save", crash_after)
    code, _, err = run_cli(capsys, *pretrain_args(tmp_path / "split", *accumulated, "--loop", "lightning"))
    assert code == 130 and "run the same command with --resume" in err
    monkeypatch.setattr(loop.CheckpointFolder, "save", original)
    code, _, err = run_cli(capsys, *pretrain_args(tmp_path / "split", *accumulated, "--loop", "lightning", "--resume"))
    assert code == 0 and "resumed from" in err, err
    assert without_tokens_per_second(tmp_path / "split") == lightning  # bit for bit
    code, out, _ = run_cli(capsys, "show", str(tmp_path / "lightning"))
    assert code == 0 and "lightning" in out


def test_the_lightning_loop_without_lightning_installed_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "lightning", None)  # import lightning now raises ImportError
    monkeypatch.delitem(sys.modules, "isoflop.recipes.lightning", raising=False)
    code, _, err = run_cli(capsys, *pretrain_args(tmp_path / "p", "--loop", "lightning"))
    assert code == 2 and err.strip() == ("error: --loop lightning needs PyTorch Lightning: pip install "
                                         "'isoflop[lightning]', or use --loop accelerate")
    assert not (tmp_path / "p").exists()


def test_pretrained_model_loads_and_serves_as_a_study_model(capsys, tmp_path):
    from transformers import AutoModelForCausalLM

    code, _, err = run_cli(capsys, *pretrain_args(tmp_path / "p"))
    assert code == 0, err
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "p" / "model")
    assert model.config.vocab_size == len(load_tokenizer("bytes"))
    code, out, _ = run_cli(capsys, "show", str(tmp_path / "p"))
    assert code == 0 and "completed" in out
    code, _, err = run_cli(capsys, "scarcity", "--model", str(tmp_path / "p" / "model"), "--tokenizer", str(tmp_path / "p" / "model"),
                           "--train-data", "python-docs", "--budget-passes", "2", "--unique-samples", "1", "--seeds", "1", "--eval-samples", "1",
                           "--seq-len", "16", "--quiet", "--output", str(tmp_path / "study"))
    assert code == 0, err


@pytest.mark.slow
def test_two_processes_match_one_with_the_same_global_batch(tmp_path):
    common = ["--tokenizer", "bytes", "--train-data", "python-docs", "--size", "tiny", "--gpt2-overrides",
              f"n_layer=1,n_embd=16,n_head=2,{NO_DROPOUT}", "--seq-len", "16", "--max-steps", "5", "--eval-every", "5",
              "--shuffle-buffer", "20", "--quiet"]
    isoflop = shutil.which("isoflop")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run([isoflop, "pretrain", *common, "--batch-size", "4", "--eval-samples", "8", "--output", str(tmp_path / "one")],
                            capture_output=True, text=True, env=env)
    assert single.returncode == 0, single.stderr
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
              "--mixed_precision", "no", "--dynamo_backend", "no", isoflop, "pretrain", *common, "--batch-size", "2",
              "--eval-samples", "8", "--output", str(tmp_path / "two")]
    double = subprocess.run(launch, capture_output=True, text=True, env=env)
    assert double.returncode == 0, double.stderr
    one, two = metrics(tmp_path / "one"), metrics(tmp_path / "two")
    assert len(one) == len(two) == 6
    for a, b in zip(one, two):
        for key in ("train_loss", "eval_loss"):
            if key in a:
                # Same global batch of 4 windows: only the order of the gradient sums differs (gloo's all-reduce).
                assert b[key] == pytest.approx(a[key], rel=1e-5), (a["step"], key)


def test_finetune_lowers_validation_perplexity(capsys, tmp_path, pretrained_folder, gpt2_tokenizer):
    model = tmp_path / "base"
    shutil.copytree(pretrained_folder, model)
    gpt2_tokenizer.save_pretrained(model)
    train = jsonl(tmp_path / "train.jsonl", ["the cat sat on the mat and the dog sat on the log. "] * 60)
    valid = jsonl(tmp_path / "valid.jsonl", ["the dog sat on the mat and the cat sat on the log. "] * 10)
    code, out, err = run_cli(capsys, "finetune", "--model", str(model), "--train-data", str(train), "--validation-data", str(valid),
                             "--seq-len", "32", "--learning-rate", "3e-3", "--epochs", "2", "--batch-size", "8", "--quiet",
                             "--out", str(tmp_path / "ft"))
    assert code == 0, err
    from isoflop.results.store import Store

    with Store(tmp_path / "ft", create=False) as store:
        evaluated = store.records()[0].evaluated()
    before, after = math.exp(evaluated[0].val_loss), math.exp(evaluated[-1].val_loss)
    assert after < before / 2 and [m.step for m in evaluated] == [0, 4, 8]  # before, then after each epoch
    assert f"validation perplexity {before:,.2f} → {after:,.2f}" in out
    code, _, err = run_cli(capsys, "finetune", "--model", str(model), "--train-data", str(train), "--validation-data", str(valid),
                           "--seq-len", "4096", "--out", str(tmp_path / "ft2"))
    assert code == 2 and "exceeds the model's context" in err
    mismatched = tmp_path / "mismatched"
    shutil.copytree(pretrained_folder, mismatched)
    load_tokenizer("bytes").save_pretrained(mismatched)  # a tokenizer that is not the model's own
    code, _, err = run_cli(capsys, "finetune", "--model", str(mismatched), "--train-data", str(train), "--validation-data", str(valid),
                           "--out", str(tmp_path / "ft3"))
    assert code == 2 and "was trained with 50,257" in err and not (tmp_path / "ft3").exists()


def test_generate_is_reproducible_for_a_seed(capsys, tmp_path, pretrained_folder, gpt2_tokenizer):
    model = tmp_path / "m"
    shutil.copytree(pretrained_folder, model)
    gpt2_tokenizer.save_pretrained(model)
    args = ["generate", str(model), str(model), "--prompt", "def fibonacci(n):", "--max-new-tokens", "8", "--seed", "3"]
    code, first, err = run_cli(capsys, *args)
    assert code == 0, err
    blocks = first.split("── ")[1:]
    assert len(blocks) == 2 and blocks[0] == blocks[1]  # the same model, prompt and seed: the same sample
    assert "parameters), seed 3" in first and "def fibonacci(n):" in first
    _, again, _ = run_cli(capsys, *args)
    assert again == first
    _, other, _ = run_cli(capsys, *args[:-1], "4")
    assert other.split("seed 4")[1] != first.split("seed 3")[1]


@pytest.mark.parametrize("args, message", [
    (("pretrain", "--tokenizer", "bytes", "--train-data", "EMPTY", "--validation-data", "EMPTY", "--out", "OUT"), "yielded no text"),
    (("pretrain", "--tokenizer", "bytes", "--resume", "--out", "OUT"), "holds no checkpoint"),
    (("pretrain", "--tokenizer", "bytes", "--seq-len", "2048", "--out", "OUT"), "exceeds the model's context"),
    (("pretrain", "--tokenizer", "bytes", "--size", "huge", "--out", "OUT"), "unknown --size 'huge'"),
    (("finetune", "--model", "MISSING", "--out", "OUT"), "no such folder"),
    (("pretrain", "--tokenizer", "bytes", "--report-to", "neptune", "--out", "OUT"), "unknown tracker(s) neptune"),
])
def test_bad_recipe_input_is_one_line(capsys, tmp_path, args, message):
    (tmp_path / "empty.jsonl").write_text("")
    replaced = [a.replace("EMPTY", str(tmp_path / "empty.jsonl")).replace("OUT", str(tmp_path / "out"))
                .replace("MISSING", str(tmp_path / "missing")) for a in args]
    code, _, err = run_cli(capsys, *replaced)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out" / "model").exists()
