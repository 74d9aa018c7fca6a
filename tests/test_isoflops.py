import json
import math

import numpy as np
import pytest

from conftest import run_cli, write_corpus
from isoflop import UsageError
from isoflop.budget import flops_per_token
from isoflop.fit import chinchilla
from isoflop.data.prepare import bits_per_byte, bytes_per_token
from isoflop.models import LADDER
from isoflop.store import Store
from isoflop.studies.config import IsoflopsConfig, build_config
from isoflop.studies.isoflops import fit_table_from, plan, run_isoflops
from isoflop.tokenizers import load_tokenizer


def tiny_config(corpus, output, **changes):
    train, valid = corpus
    settings = dict(
        budgets=(3e9, 1e10), model_sizes=("25k", "50k", "100k"), train_data=str(train), validation_data=str(valid),
        seq_len=32, batch_size=4, eval_samples=4, evals_per_run=3, min_steps=5, output=str(output),
    )
    settings.update(changes)
    return build_config(overrides=settings, kind=IsoflopsConfig)


@pytest.fixture
def big_corpus(tmp_path):
    return write_corpus(tmp_path / "train.txt", 400), write_corpus(tmp_path / "valid.txt", 8)


def test_ladder_spans_0_1m_to_125m_non_embedding_parameters():
    sizes = [12 * s.n_layer * s.n_embd**2 for s in LADDER.values()]
    assert sizes == sorted(sizes)
    assert sizes[0] < 0.1e6 and 110e6 < sizes[-1] < 130e6
    assert 12 * LADDER["100k"].n_layer * LADDER["100k"].n_embd ** 2 == pytest.approx(0.1e6, rel=0.05)


def test_full_flop_count_adds_attention_and_the_lm_head_to_6n():
    size = LADDER["100k"]
    non_embedding = 12 * size.n_layer * size.n_embd**2
    six_n = flops_per_token(non_embedding, size.n_layer, size.n_embd, size.n_head, 257, 128, "6N")
    full = flops_per_token(non_embedding, size.n_layer, size.n_embd, size.n_head, 257, 128, "full")
    assert six_n == 6 * non_embedding
    assert full == 3 * (size.n_layer * (24 * 64**2 + 4 * 128 * 64 + 3 * 2 * 128) + 4 * 257 * 64)


def test_plan_gives_each_size_the_tokens_its_budget_allows_and_skips_the_too_big(corpus, tmp_path):
    config = tiny_config(corpus, tmp_path / "o", min_steps=40)
    runs, too_big = plan(config, vocab_size=257)
    for run in runs:
        assert run.tokens * run.flops_per_token == pytest.approx(run.budget_flops, rel=0.02)
    assert any("100k at C=3e+09" in s for s in too_big)
    small = [r for r in runs if r.size == "25k"]
    assert small[1].steps > small[0].steps


def test_unique_token_cap_makes_runs_repeat_data(corpus, tmp_path):
    runs, _ = plan(tiny_config(corpus, tmp_path / "o", unique_tokens=32 * 10), vocab_size=257)
    assert all(r.unique_chunks == 10 for r in runs)


def test_byte_tokenizer_counts_one_token_per_byte():
    tokenizer = load_tokenizer("bytes")
    ids = tokenizer("héllo\n")["input_ids"]
    assert len(ids) == len("héllo\n".encode()) and len(tokenizer) == 257
    assert bytes_per_token([ids], tokenizer) == 1.0
    assert bits_per_byte(math.log(2), 1.0) == 1.0


def test_isoflops_study_end_to_end_and_resume(big_corpus, tmp_path, monkeypatch):
    # The report's approach-3 fit uses 4,500 starts; a coarse grid keeps this test fast.
    monkeypatch.setattr(chinchilla, "DEFAULT_GRID", {k: v[::3] for k, v in chinchilla.DEFAULT_GRID.items()})
    config = tiny_config(big_corpus, tmp_path / "out")
    outcome = run_isoflops(config, echo=lambda line: None, progress=False)
    assert outcome.trained == 6 - len(outcome.too_big) and not outcome.failed
    with Store(tmp_path / "out") as store:
        runs = store.runs()
    assert all(r["bits_per_byte"] > 0 and r["budget_flops"] in (3e9, 1e10) for r in runs)
    assert all(sum(m["val_loss"] is not None for m in r["metrics"]) >= 3 for r in runs)
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "isoFLOP" in summary and (tmp_path / "out" / "isoflop_profiles.png").exists()
    assert len(fit_table_from(str(tmp_path / "out")).N) == len(runs)
    assert run_isoflops(config, echo=lambda line: None, progress=False).trained == 0


def test_isoflops_bad_input(big_corpus, tmp_path):
    with pytest.raises(UsageError, match="unknown ladder size"):
        tiny_config(big_corpus, tmp_path / "o", model_sizes=("7b",))
    with pytest.raises(UsageError, match="positive number of FLOPs"):
        tiny_config(big_corpus, tmp_path / "o", budgets=(-1.0,))
    with pytest.raises(UsageError, match="too big for every budget"):
        run_isoflops(tiny_config(big_corpus, tmp_path / "o", budgets=(1e3,)), progress=False)
    with pytest.raises(UsageError, match="set --unique-tokens"):
        run_isoflops(tiny_config(big_corpus, tmp_path / "o", budgets=(1e12,)), progress=False)
    assert not (tmp_path / "o").exists()


def write_isoflop_csv(path, law_exponent=0.5):
    rows = ["N,D,loss,C"]
    for C in (1e18, 1e19, 1e20, 1e21):
        n_opt = 0.1 * (C / 6) ** law_exponent
        for n in n_opt * np.geomspace(0.2, 5, 7):
            d = C / (6 * n)
            rows.append(f"{n},{d},{1.7 + 400 / n**0.34 + 400 / d**0.28},{C}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_fit_cli_approach_2_json_and_advise(capsys, tmp_path):
    csv = write_isoflop_csv(tmp_path / "points.csv")
    code, out, _ = run_cli(capsys, "fit", str(csv), "--approach", "2", "--json", "--bootstrap", "50")
    result = json.loads(out)
    assert code == 0 and result["a"] == pytest.approx(0.28 / 0.62, abs=0.03) and "frontier" in result

    saved = tmp_path / "law.json"
    law = {"law": {"E": 1.7, "A": 400, "B": 400, "alpha": 0.34, "beta": 0.28, "bootstrap_samples": []},
           "range": {"N": [1e6, 1e9], "D": [1e8, 1e11], "C": [1e18, 1e21]}}
    saved.write_text(json.dumps(law))
    code, out, _ = run_cli(capsys, "advise", "--flops", "3e12", "--fit", str(saved), "--json")
    advice = json.loads(out)
    assert code == 0 and advice["N"] < 1e6
    assert any("outside the range" in note for note in advice["notes"])
    code, out, _ = run_cli(capsys, "advise", "--flops", "1e20", "--unique-tokens", "1e9", "--fit", str(saved), "--json")
    assert json.loads(out)["epochs"] > 1


@pytest.mark.parametrize(
    ("content", "message"),
    [("N,D\n1,2\n", "lacks column"), ("N,D,loss\n1,2,x\n", "non-number"), ("N,D,loss\n1,2,-3\n", "positive")],
)
def test_fit_cli_bad_csv_is_one_line(capsys, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, _, err = run_cli(capsys, "fit", str(path))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
