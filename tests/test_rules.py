"""Hyperparameters that scale with the run: each rule's values, what they change in the plan and its keys."""

import math

import pytest

from isoflop import build_config
from isoflop.config.parts import OptimizerConfig
from isoflop.errors import UsageError
from isoflop.studies.dry_run import dry_run, planned
from isoflop.training.rules import batch_size, beta2, half_life, learning_rate, resolved


def test_each_rule_gives_the_published_value():
    power = OptimizerConfig(lr_rule="power", lr_power_c=1e-2, lr_power_n0=1e6, lr_power_p=1 / 3)
    assert learning_rate(power, 8_000_000, 1e9, None) == pytest.approx(1e-2 / 2)  # (8)^(-1/3) = 1/2
    step_law = OptimizerConfig(lr_rule="step-law", batch_rule="step-law")
    assert learning_rate(step_law, 1e8, 1e10, None) == pytest.approx(1.79 * 1e8 ** -0.713 * 1e10 ** 0.307)
    assert batch_size(step_law, 1e10, 2048) == round(0.58 * 1e10 ** 0.571 / 2048)
    assert learning_rate(OptimizerConfig(lr_rule="table"), 1, 1, 3e-3) == 3e-3
    assert learning_rate(OptimizerConfig(learning_rate=2e-3), 1, 1, None) == 2e-3  # no rule: fixed
    with pytest.raises(UsageError, match="no per-size rates"):
        learning_rate(OptimizerConfig(lr_rule="table"), 1, 1, None)


def test_beta2_from_a_half_life_keeps_the_memory_in_tokens_at_every_batch():
    rule = OptimizerConfig(beta2_rule="half-life", beta2_half_life=1e6)
    for tokens_per_step in (64, 2048, 524_288):
        assert half_life(beta2(rule, tokens_per_step), tokens_per_step) == pytest.approx(1e6)
    assert half_life(0.999, 64) == pytest.approx(64 * math.log(0.5) / math.log(0.999))  # ~44k tokens
    assert beta2(OptimizerConfig(adam_beta2=0.98), 64) == 0.98
    trained = resolved(rule, 1000, 1e6, 64)
    assert trained.adam_beta2 == pytest.approx(0.5 ** (64 / 1e6)) and trained.batch_size == rule.batch_size


def test_a_rule_moves_the_rates_and_the_keys_and_no_rule_keeps_every_key(tmp_path):
    base = dict(output=str(tmp_path / "out"), budgets=(1e11,), model_sizes=("2k", "6k"), bracket=0)
    table = planned(build_config(kind="isoflops", overrides=base))[1]
    named = planned(build_config(kind="isoflops", overrides=base | {"lr_rule": "table"}))[1]
    power = planned(build_config(kind="isoflops", overrides=base | {"lr_rule": "power", "lr_power_c": 1e-2}))[1]
    assert [r.spec.optimizer.learning_rate for r in table] == [3e-2, 1e-2]  # the default's table
    assert [r.spec.optimizer.learning_rate for r in named] == [3e-2, 1e-2]
    rates = [r.spec.optimizer.learning_rate for r in power]
    sizes = [r.facts.parameters.non_embedding for r in power]
    assert rates == pytest.approx([1e-2 * (n / 1e6) ** (-1 / 3) for n in sizes])
    assert all(r.config["resolved"]["learning_rate"] == rate for r, rate in zip(power, rates))
    assert {r.spec.key for r in power}.isdisjoint({r.spec.key for r in table})
    assert "resolved" not in table[0].config


def test_the_dry_run_names_the_rules_and_beta2_s_memory(tmp_path):
    config = build_config(kind="isoflops", overrides=dict(output=str(tmp_path / "out"), budgets=(1e11,),
                                                          model_sizes=("2k",), bracket=0, lr_rule="power",
                                                          beta2_rule="half-life"))
    text = "\n".join(dry_run(config))
    assert "learning rate: the power rule" in text and "AdamW beta2: the half-life rule" in text
    assert "a half-life of 7,084,917 tokens" in text


@pytest.mark.parametrize(("overrides", "message"), [
    ({"lr_power_c": 1e-2}, "--lr-power-c applies to --lr-rule power"),
    ({"beta2_half_life": 1e6}, "--beta2-half-life applies to --beta2-rule half-life"),
])
def test_a_rule_setting_without_its_rule_is_refused(tmp_path, overrides, message):
    with pytest.raises(UsageError, match=message):
        build_config(kind="isoflops", overrides=dict(output=str(tmp_path / "o")) | overrides)
