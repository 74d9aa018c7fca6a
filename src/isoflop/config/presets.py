"""Named presets, one registry per study kind: partial configs in flat setting names.

Every preset but ``offline`` (the default spelled out) writes to its own default folder, ``isoflop-runs/KIND-PRESET``,
so that presets run one after another never meet in one folder (a study refuses another study's folder).
"""

from __future__ import annotations

from typing import Any

from .parts import CLASSIC_BATCH_SIZE, CLASSIC_EVAL_SAMPLES, CLASSIC_LEARNING_RATE, CLASSIC_SEQ_LEN
from .studies import CLASSIC_BUDGET_PASSES, CLASSIC_UNIQUE_SAMPLES, VOCAB_DEFAULTS, WSD_DEFAULTS

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "scarcity": {
        # The classic exercise exactly: distilGPT2 fine-tuned on WikiText-2 from the Hub, one run per D as it was set
        # (--seeds 1,2,3 adds the spread).
        "classic": {
            "output": "isoflop-runs/scarcity-classic",
            "seeds": (1,),
            "model": "distilgpt2",
            "tokenizer": "gpt2",
            "train_data": "hub:wikitext:wikitext-2-v1",
            "validation_data": None,
            "chunking": "per-row",
            "seq_len": CLASSIC_SEQ_LEN,
            "budget_passes": CLASSIC_BUDGET_PASSES,
            "batch_size": CLASSIC_BATCH_SIZE,
            "learning_rate": CLASSIC_LEARNING_RATE,
            "eval_samples": CLASSIC_EVAL_SAMPLES,
            "unique_samples": CLASSIC_UNIQUE_SAMPLES,
        },
        # The offline default, spelled out.
        "offline": {},
    },
    "isoflops": {
        "offline": {},
        # The vocabulary study's offline default (isoflop vocab), as an isoFLOP study of one tokenizer.
        "vocab": dict(VOCAB_DEFAULTS) | {"output": "isoflop-runs/isoflops-vocab"},
        # The offline default with Llama blocks (RMSNorm, SwiGLU, RoPE, untied head; models.families), the same rungs,
        # budgets and per-size rates: the family's effect alone.
        "llama": {"output": "isoflop-runs/isoflops-llama", "family": "llama"},
        # Warmup-stable-decay: every budget's run of a size branches from one constant-rate trunk (Hägele et al. 2024).
        "wsd": dict(WSD_DEFAULTS) | {"output": "isoflop-runs/isoflops-wsd"},
        # A GPU-scale study in the spirit of Hoffmann et al.: GPT-2 tokenizer, WikiText-103, 1e16–1e18 FLOPs.
        # WikiText-103 holds ~117M GPT-2 tokens and the largest runs read up to 3.2B: the runs draw from its first
        # 100M tokens, repeating them (up to 32 epochs at 1e18, in the data-constrained regime), which --dry-run, the
        # study's start and its report state. A study without repetition at these budgets streams a larger corpus
        # (--train-data hub:HuggingFaceFW/fineweb-edu:sample-10BT --holdout 0.001) on a machine that holds its samples.
        "gpu": {
            "output": "isoflop-runs/isoflops-gpu",
            "budgets": (1e16, 3e16, 1e17, 3e17, 1e18),
            "model_sizes": ("800k", "2m", "5m", "10m", "25m", "50m", "85m", "125m"),
            "tokenizer": "gpt2",
            "train_data": "hub:wikitext:wikitext-103-v1",
            "seq_len": 512,
            "batch_size": 32,
            "learning_rate": 1e-3,
            "eval_samples": 64,
            "unique_tokens": 100_000_000,
        },
    },
}
