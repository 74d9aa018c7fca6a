"""Shared fixtures: the offline GPT-2 tokenizer, small local corpora, a tiny saved checkpoint.

No test touches the network: the Hub probe is forced to "unreachable".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from isoflop import hub
from isoflop.tokenizers import load_tokenizer

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
