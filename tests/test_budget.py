import pytest

from isoflop import Budget, UsageError
from isoflop.models.counts import evaluation_flops, flops_per_token
from isoflop.models.families import scratch_facts
from isoflop.models.specs import LADDER


def test_classic_budget_is_100_steps_of_64_tokens():
    budget = Budget(passes=100, seq_len=64, batch_size=1)
    assert budget.steps == 100
    assert budget.tokens == 6400
    assert budget.epochs(100) == 1.0
    assert budget.epochs(1) == 100.0


def test_epochs_are_fractional_when_d_does_not_divide_the_budget():
    assert Budget(passes=100, seq_len=64).epochs(30) == pytest.approx(100 / 30)


def test_batch_size_divides_passes_into_steps():
    budget = Budget(passes=100, seq_len=64, batch_size=4)
    assert budget.steps == 25
    assert budget.tokens == 6400
    assert budget.epochs(50) == 2.0


def test_full_flop_count_adds_attention_and_the_lm_head_to_6n():
    facts = scratch_facts("gpt2", LADDER["100k"], 257)
    non_embedding = facts.parameters.non_embedding
    assert flops_per_token(facts, 128, "6N") == 6 * non_embedding
    full = flops_per_token(facts, 128, "full")
    assert full == 3 * (2 * (24 * 64**2 + 4 * 128 * 64 + 3 * 2 * 128) + 4 * 257 * 64)


def test_evaluation_costs_a_third_of_training_per_token():
    assert evaluation_flops(600.0, tokens=10) == 2000.0


@pytest.mark.parametrize("passes", [0, -5])
def test_non_positive_budget_is_refused(passes):
    with pytest.raises(UsageError, match="positive number of passes"):
        Budget(passes=passes, seq_len=64)


def test_budget_not_divisible_by_batch_size_is_refused():
    with pytest.raises(UsageError, match="not a whole number of steps"):
        Budget(passes=10, seq_len=64, batch_size=3)
