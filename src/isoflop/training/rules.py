"""Hyperparameters that scale with the run: each run's peak learning rate, batch and AdamW β₂ from the optimizer
part's rules (``--lr-rule``, ``--batch-rule``, ``--beta2-rule``), resolved once when the study is planned.

- Learning rate: ``fixed`` (``--learning-rate``); ``table`` (the study's per-size rates, today's isoFLOP default);
  ``power``, c·(N/N₀)^−p of non-embedding N (OLMo-core's form, p = 1/3 by default); ``step-law``,
  η = 1.79·N^−0.713·D^0.307 with N non-embedding parameters and D training tokens (Li et al. 2025, "Predictable Scale:
  Part I — Optimal Hyperparameter Scaling Law in Large Language Model Pretraining").
- Batch: ``fixed`` (``--batch-size``) or ``step-law``, B = 0.58·D^0.571 tokens (the same paper), in whole samples.
- β₂: ``fixed`` (``--adam-beta2``) or ``half-life``: β₂ = 0.5^(tokens per step / half-life), the same memory in
  tokens at every batch (0.999 at 64 tokens per step is a half-life of ~44k tokens; 0.95 at 524,288, ~7.1M).

The resolved values are what the run trains with: they go into its optimizer settings and its key.
"""

from __future__ import annotations

import math

from ..config.parts import BETA2_HALF_LIFE, LR_POWER_N0, LR_POWER_P, OptimizerConfig
from ..errors import UsageError

STEP_LAW_LR = (1.79, -0.713, 0.307)  # η = a · N^b · D^c
STEP_LAW_BATCH = (0.58, 0.571)  # B (tokens) = a · D^b


def learning_rate(optimizer: OptimizerConfig, non_embedding: int, tokens: float, table_rate: float | None) -> float:
    """The peak rate ``optimizer``'s rule gives a run of ``non_embedding`` parameters reading ``tokens`` tokens
    (``table_rate``: the study's rate for its size, if it has one)."""
    rule = optimizer.lr_rule
    if rule == "power":
        c = optimizer.lr_power_c or optimizer.learning_rate
        n0 = optimizer.lr_power_n0 or LR_POWER_N0
        p = LR_POWER_P if optimizer.lr_power_p is None else optimizer.lr_power_p
        return c * (non_embedding / n0) ** -p
    if rule == "step-law":
        a, b, c = STEP_LAW_LR
        return a * non_embedding**b * tokens**c
    if rule == "table":
        if table_rate is None:
            raise UsageError("--lr-rule table: this study has no per-size rates for this model; choose another --lr-rule")
        return table_rate
    if rule is None and table_rate is not None:  # the study's own default: its table
        return table_rate
    return optimizer.learning_rate


def batch_size(optimizer: OptimizerConfig, tokens: float, seq_len: int) -> int:
    """The batch (samples per step) ``optimizer``'s rule gives a run reading ``tokens`` tokens."""
    if optimizer.batch_rule == "step-law":
        a, b = STEP_LAW_BATCH
        return max(1, round(a * tokens**b / seq_len))
    return optimizer.batch_size


def beta2(optimizer: OptimizerConfig, tokens_per_step: int) -> float:
    """AdamW's β₂ for a run taking ``tokens_per_step`` tokens a step."""
    if optimizer.beta2_rule == "half-life":
        return 0.5 ** (tokens_per_step / (optimizer.beta2_half_life or BETA2_HALF_LIFE))
    return optimizer.adam_beta2


def half_life(beta: float, tokens_per_step: int) -> float:
    """The tokens after which AdamW's second moment has forgotten half of a gradient: steps × tokens per step."""
    return tokens_per_step * math.log(0.5) / math.log(beta) if 0 < beta < 1 else math.inf


def rule_values(asked: OptimizerConfig, trained: OptimizerConfig) -> dict:
    """What a run's rules resolved to, for its key: nothing when no rule is set (so existing keys stay)."""
    if asked.lr_rule is None and asked.batch_rule is None and asked.beta2_rule is None:
        return {}
    return {"resolved": {"learning_rate": trained.learning_rate, "batch_size": trained.batch_size,
                         "adam_beta2": trained.adam_beta2}}


def resolved(optimizer: OptimizerConfig, non_embedding: int, tokens: float, seq_len: int,
             table_rate: float | None = None) -> OptimizerConfig:
    """``optimizer`` with its rules applied to one run: its learning rate, batch and β₂ as it trains with them."""
    batch = batch_size(optimizer, tokens, seq_len)
    return optimizer.model_copy(update={
        "learning_rate": learning_rate(optimizer, non_embedding, tokens, table_rate),
        "batch_size": batch,
        "adam_beta2": beta2(optimizer, batch * seq_len),
    })
