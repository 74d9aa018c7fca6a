import json

import pytest

from conftest import run_cli


def test_default_run_with_a_reduced_budget_then_show_and_csv(capsys, tmp_path):
    out = tmp_path / "run"
    code, stdout, _ = run_cli(
        capsys, "scarcity", "--budget-passes", "4", "--unique-samples", "1,4", "--eval-samples", "2",
        "--quiet", "--output", str(out),
    )
    assert code == 0
    assert "## Answer" in stdout and "D=1 (4 epochs)" in stdout
    assert (out / "summary.md").exists() and (out / "validation_curves.svg").exists()

    code, stdout, stderr = run_cli(capsys, "scarcity", "--budget-passes", "4", "--unique-samples", "1,4",
                                   "--eval-samples", "2", "--quiet", "--output", str(out))
    assert code == 0 and "skipping 2 completed run(s)" in stderr

    code, stdout, _ = run_cli(capsys, "show", str(out), "--csv", str(tmp_path / "runs.csv"))
    assert code == 0 and len(stdout.strip().splitlines()) == 3
    assert (tmp_path / "runs.csv").read_text().count("\n") == 3


def test_data_stats_json(capsys, tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(" \n" + " ".join(["word"] * 127) + "\n", encoding="utf-8")
    code, stdout, _ = run_cli(capsys, "data", "stats", str(path), "--tokenizer", "gpt2", "--seq-len", "64", "--json")
    stats = json.loads(stdout)
    assert code == 0
    assert (stats["rows"], stats["tokens"], stats["chunks"]) == (2, 128, 2)
    assert stats["chars_per_token"] == pytest.approx(len(path.read_text()) / 128 - 1 / 128 * 0, rel=0.05)


@pytest.mark.parametrize(
    "args",
    [
        ("scarcity", "--preset", "nope"),
        ("scarcity", "--budget-passes", "-3"),
        ("scarcity", "--model", "distilgpt2"),
        ("show", "/nonexistent/folder"),
        ("data", "stats", "missing.txt"),
    ],
)
def test_bad_input_is_one_line_and_non_zero_exit(capsys, tmp_path, args):
    code, stdout, stderr = run_cli(capsys, *args)
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1
    assert "error" in stderr.lower() or "invalid" in stderr.lower()
