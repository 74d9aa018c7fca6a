import pytest

from conftest import engine, make_data, make_run, train


def train_one(tokenizer, **run):
    results, steps = train(engine("reference"), [make_run(**run)], make_data(tokenizer))
    return results["k"], steps


def test_a_run_learns_repeated_data_and_reports_every_step(gpt2_tokenizer):
    result, steps = train_one(gpt2_tokenizer, steps=30)
    assert result.status == "completed"
    assert len(result.train_loss) == len(result.val_loss) == len(result.learning_rate) == 30
    assert steps == 30
    assert result.train_loss[-1] < result.train_loss[0] - 1.0
    # Linear decay to zero, no warmup: step i uses peak * (1 - (i - 1) / steps).
    assert result.learning_rate[0] == 1e-3
    assert abs(result.learning_rate[-1] - 1e-3 / 30) < 1e-12


def test_same_config_and_seed_give_identical_numbers(gpt2_tokenizer):
    first, _ = train_one(gpt2_tokenizer, unique_samples=3, seed=7)
    again, _ = train_one(gpt2_tokenizer, unique_samples=3, seed=7)
    other, _ = train_one(gpt2_tokenizer, unique_samples=3, seed=8)
    assert first.val_loss == again.val_loss and first.train_loss == again.train_loss
    assert first.val_loss != other.val_loss


def test_exactly_the_run_steps_when_d_does_not_divide_them(gpt2_tokenizer):
    result, _ = train_one(gpt2_tokenizer, steps=7, unique_samples=3)
    assert len(result.val_loss) == 7


def test_evaluates_only_at_the_run_evaluation_steps(gpt2_tokenizer):
    result, _ = train_one(gpt2_tokenizer, steps=9, eval_steps=(4, 8, 9))
    assert result.eval_steps == [4, 8, 9] and len(result.val_loss) == 3
    assert len(result.train_loss) == 9


def test_warmup_and_cosine_follow_the_shared_schedule(gpt2_tokenizer):
    from isoflop.training.schedule import lr_factor

    result, _ = train_one(gpt2_tokenizer, steps=10, schedule="cosine", warmup_fraction=0.2)
    expected = [1e-3 * lr_factor(step, 10, 2, "cosine") for step in range(10)]
    assert result.learning_rate == pytest.approx(expected, abs=1e-12)


def test_nan_loss_fails_the_run_with_the_reason(gpt2_tokenizer):
    result, _ = train_one(gpt2_tokenizer, learning_rate=1e30)
    assert result.status == "failed"
    assert "nan" in result.error.lower() or "inf" in result.error.lower()


@pytest.mark.slow  # torch.compile builds its kernels first
def test_the_reference_engine_compiles_on_request_to_the_same_numbers(gpt2_tokenizer):
    from conftest import engine, make_data, train
    from helpers import assert_equivalent, runs

    data = make_data(gpt2_tokenizer)
    planned = runs(4)[:1]  # one compilation
    assert engine("reference", compile=True).compile
    assert_equivalent(train(engine("reference"), planned, data)[0], train(engine("reference", compile=True), planned, data)[0])


def test_compile_with_an_engine_that_does_not_compile_is_refused(capsys, tmp_path):
    from conftest import run_cli

    code, _, err = run_cli(capsys, "scarcity", "--compile", "--output", str(tmp_path / "out"))
    assert code == 2 and "--compile is an option of the reference engine" in err and not (tmp_path / "out").exists()
