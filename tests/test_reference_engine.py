from isoflop.budget import Budget
from isoflop.engines import ReferenceEngine, RunRequest, TrainingSetup
from isoflop.models import model_config

SEQ_LEN = 16


def setup_for(tokenizer, passes: int, learning_rate: float = 1e-3, model: str = "scratch:tiny") -> TrainingSetup:
    text = "The quick brown fox jumps over the lazy dog while the cat watches. " * 40
    ids = tokenizer(text)["input_ids"]
    chunks = [ids[i : i + SEQ_LEN] for i in range(0, len(ids) - SEQ_LEN + 1, SEQ_LEN)]
    return TrainingSetup(
        model=model,
        model_config=model_config(model, len(tokenizer)),
        tokenizer=tokenizer,
        learning_rate=learning_rate,
        budget=Budget(passes=passes, seq_len=SEQ_LEN),
        train_chunks=chunks[:8],
        val_chunks=chunks[8:10],
    )


def train_one(setup, unique_samples=1, seed=1):
    steps = []
    result = next(ReferenceEngine().train(setup, [RunRequest("k", unique_samples, seed)], steps.append))
    return result, steps


def test_a_run_learns_repeated_data_and_reports_every_step(gpt2_tokenizer):
    result, steps = train_one(setup_for(gpt2_tokenizer, passes=30))
    assert result.status == "completed"
    assert len(result.train_loss) == len(result.val_loss) == len(result.learning_rate) == 30
    assert sum(steps) == 30
    assert result.train_loss[-1] < result.train_loss[0] - 1.0
    # Linear decay to zero, no warmup: step i uses peak * (1 - (i - 1) / steps).
    assert result.learning_rate[0] == 1e-3
    assert abs(result.learning_rate[-1] - 1e-3 / 30) < 1e-12


def test_same_config_and_seed_give_identical_numbers(gpt2_tokenizer):
    setup = setup_for(gpt2_tokenizer, passes=10)
    first, _ = train_one(setup, unique_samples=3, seed=7)
    again, _ = train_one(setup, unique_samples=3, seed=7)
    other, _ = train_one(setup, unique_samples=3, seed=8)
    assert first.val_loss == again.val_loss and first.train_loss == again.train_loss
    assert first.val_loss != other.val_loss


def test_exactly_budget_steps_when_d_does_not_divide_it(gpt2_tokenizer):
    result, _ = train_one(setup_for(gpt2_tokenizer, passes=7), unique_samples=3)
    assert len(result.val_loss) == 7


def test_nan_loss_fails_the_run_with_the_reason(gpt2_tokenizer):
    result, _ = train_one(setup_for(gpt2_tokenizer, passes=10, learning_rate=1e30))
    assert result.status == "failed"
    assert "nan" in result.error.lower() or "inf" in result.error.lower()
