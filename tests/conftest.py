"""Shared fixtures: the offline GPT-2 tokenizer, small local corpora, a tiny saved checkpoint.

No test touches the network: the Hub probe is forced to "unreachable".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from isoflop import hub
from isoflop.tokenization.resolve import load_tokenizer

SHARED_WIKITEXT = Path(__file__).resolve().parents[2] / "shared" / "data" / "wikitext-2"

SENTENCE = "The quick brown fox jumps over the lazy dog while the cat watches from the warm windowsill. "


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


@pytest.fixture(scope="session")
def gpt2_tokenizer():
    return load_tokenizer("gpt2")


def write_corpus(path: Path, rows: int, words_per_row: int = 3) -> Path:
    """A .txt corpus whose rows each hold a few sentences (~20 tokens per sentence)."""
    path.write_text("".join(f"{i}: " + SENTENCE * words_per_row + "\n" for i in range(rows)), encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path) -> tuple[Path, Path]:
    """Local train/validation .txt files with enough 16-token chunks for small studies."""
    return write_corpus(tmp_path / "train.txt", 20), write_corpus(tmp_path / "valid.txt", 4)


@pytest.fixture(scope="session")
def pretrained_folder(tmp_path_factory, gpt2_tokenizer) -> Path:
    """A tiny GPT-2 saved with save_pretrained, standing in for a Hub checkpoint."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(gpt2_tokenizer), n_positions=128, n_layer=2, n_embd=32, n_head=2)
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def reference_of(tmp_path_factory, gpt2_tokenizer):
    """``reference_of(model, steps)``: the reference engine's results on the engine tests' three runs, with the
    folder of their saved models; trained once per session, so the fast and batched engines meet the same baseline."""
    from helpers import saved_runs

    trained = {}

    def reference(model: str, steps: int):
        if (model, steps) not in trained:
            folder = tmp_path_factory.mktemp("reference")
            results, _ = train(engine("reference"), saved_runs(model, steps), make_data(gpt2_tokenizer), folder)
            trained[model, steps] = results, folder
        return trained[model, steps]

    return reference


def jsonl(path: Path, texts: list[str], column: str = "text") -> Path:
    path.write_text("".join(json.dumps({column: t}) + "\n" for t in texts), encoding="utf-8")
    return path


def run_cli(capsys, *args):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    from isoflop.cli import main

    code = 0
    try:
        main(list(args))
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def make_data(tokenizer, seq_len: int = 16, train: int = 8, val: int = 2):
    """PreparedData from a repeated sentence: ``train`` training and ``val`` validation chunks."""
    from isoflop.data.prepare import PreparedData, bytes_per_token

    ids = tokenizer(SENTENCE * 40)["input_ids"]
    chunks = [ids[i : i + seq_len] for i in range(0, len(ids) - seq_len + 1, seq_len)]
    val_chunks = chunks[train : train + val]
    return PreparedData(tokenizer, chunks[:train], val_chunks, seq_len, "seed", bytes_per_token(val_chunks, tokenizer))


def make_run(key="k", unique_samples=1, seed=1, steps=10, model="scratch:tiny", dropout=None, eval_steps=None, **optimizer):
    """A RunSpec with the classic optimizer settings unless overridden (learning rate 1e-3)."""
    from isoflop.config.parts import OptimizerConfig
    from isoflop.engines.base import RunSpec

    settings = {"learning_rate": 1e-3} | optimizer
    return RunSpec(key, f"D={unique_samples} seed={seed}", seed, model, dropout, unique_samples, steps,
                   OptimizerConfig(**settings), tuple(eval_steps or range(1, steps + 1)))


def engine(name: str, **settings):
    """An engine built from an EngineConfig."""
    from isoflop.config.parts import EngineConfig
    from isoflop.config.engines import entry

    return entry(name).load()(EngineConfig(engine=name, **settings))


def train(engine_, runs, data, save_models_to=None):
    """Every result of one pack, by key, and the steps reported."""
    from isoflop.engines.base import Pack

    steps = []
    results = {r.key: r for r in engine_.train(Pack(tuple(runs), save_models_to), data, steps.append)}
    return results, sum(steps)
