import pytest

from isoflop import Budget, UsageError


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


def test_flops_follow_6n_for_training_and_2n_for_evaluation():
    budget = Budget(passes=100, seq_len=64)
    assert budget.train_flops(1_000) == 6 * 1_000 * 6400
    assert budget.eval_flops(1_000, eval_samples=10) == 2 * 1_000 * 10 * 64 * 100


@pytest.mark.parametrize("passes", [0, -5])
def test_non_positive_budget_is_refused(passes):
    with pytest.raises(UsageError, match="positive number of passes"):
        Budget(passes=passes, seq_len=64)


def test_budget_not_divisible_by_batch_size_is_refused():
    with pytest.raises(UsageError, match="not a whole number of steps"):
        Budget(passes=10, seq_len=64, batch_size=3)
