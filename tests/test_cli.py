import json
import subprocess
import sys

import pytest

from conftest import run_cli


def test_default_run_with_a_reduced_budget_then_show_and_csv(capsys, tmp_path):
    out = tmp_path / "run"
    args = ("scarcity", "--seeds", "1", "--budget-passes", "4", "--unique-samples", "1,4", "--eval-samples", "2", "--quiet",
            "--executor", "inprocess", "--output", str(out))  # in this process: no worker start-up
    code, stdout, _ = run_cli(capsys, *args)
    assert code == 0
    assert "2 run(s) trained (2 completed, 0 failed)" in stdout and "D=1 (4 epochs)" in stdout
    assert "## Answer" not in stdout  # the answer comes from the outcome, not from grepping summary.md
    assert "report.html" in stdout and (out / "summary.md").exists() and (out / "validation_curves.svg").exists()

    code, stdout, stderr = run_cli(capsys, *args)
    assert code == 0 and "skipping 2 completed run(s)" in stderr

    code, stdout, _ = run_cli(capsys, "show", str(out), "--csv", str(tmp_path / "runs.csv"))
    lines = stdout.strip().splitlines()
    assert code == 0 and len(lines) == 3 and lines[0].split()[:3] == ["D", "seed", "epochs"]
    assert (tmp_path / "runs.csv").read_text().count("\n") == 3
    import csv

    row = next(csv.DictReader((tmp_path / "runs.csv").open()))  # every convention's count, the speed; no MFU on a CPU
    assert float(row["flops_per_token_full"]) == float(row["flops_per_token"]) and row["flop_convention"] == "full"
    assert 0 < float(row["flops_per_token_matmul"]) < float(row["flops_per_token_full"])
    assert float(row["flops_per_token_6N"]) > 0 and float(row["tokens_per_second"]) > 0
    assert row["mfu_matmul"] == row["mfu_full"] == ""
    report = (out / "summary.md").read_text()
    assert "Speed: median " in report and "no MFU: no GPU peak is known for where they ran" in report


def test_boolean_settings_are_flags(capsys, tmp_path):
    out = tmp_path / "run"
    code, _, stderr = run_cli(capsys, "scarcity", "--seeds", "1", "--save-models", "--budget-passes", "2", "--unique-samples", "1",
                              "--eval-samples", "1", "--quiet", "--output", str(out))
    assert code == 0, stderr
    saved = list((out / "models").iterdir())
    assert len(saved) == 1
    # A saved run carries its tokenizer: isoflop generate takes it as it is.
    code, stdout, stderr = run_cli(capsys, "generate", str(saved[0]), "--prompt", "def f", "--max-new-tokens", "3")
    assert code == 0 and "def f" in stdout, stderr


def test_data_stats_json(capsys, tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(" \n" + " ".join(["word"] * 127) + "\n", encoding="utf-8")
    code, stdout, _ = run_cli(capsys, "data", "stats", str(path), "--tokenizer", "gpt2", "--seq-len", "64", "--json")
    stats = json.loads(stdout)
    assert code == 0
    assert (stats["rows"], stats["tokens"], stats["chunks"]) == (2, 128, 2)


def test_the_cli_imports_no_heavy_library():
    """``--help`` and configuration errors must not pay for torch, transformers or datasets."""
    code = ("import sys, isoflop.cli; from isoflop.config.load import build_config; build_config(kind='isoflops'); "
            "print(sorted(m for m in ('torch', 'transformers', 'datasets', 'matplotlib') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "args, message",
    [
        (("scarcity", "--preset", "nope"), "error: Invalid value for '--preset': 'nope' is not one of 'classic', 'offline'."),
        (("scarcity", "--seeds", "1", "--budget-passes", "-3"), "error: invalid configuration: budget_passes: Input should be greater than 0"),
        (("scarcity", "--model", "distilgpt2"), "error: model 'distilgpt2' is no folder here, and as a Hub name it needs "
                                                "the Hugging Face Hub, which is unreachable from here"),
        (("scarcity", "--engine", "turbo"), "error: invalid configuration: engine: unknown engine 'turbo'; choose auto, "
                                            "fast, batched, reference"),
        (("scarcity", "--seeds", "-1"), "error: invalid configuration: seeds: seeds must lie between 0 and 4294967295, "
                                        "got -1"),
        (("scarcity", "--seeds", "99999999999"), "error: invalid configuration: seeds: seeds must lie between 0 and "
                                                 "4294967295, got 99999999999"),
        (("scarcity", "--learning-rate", "inf"), "error: invalid configuration: learning_rate: Input should be a finite "
                                                 "number"),
        (("isoflops", "--size-learning-rates", "25M=1e-3"), "error: invalid configuration: size_learning_rates: '25M' is "
                                                            "not a ladder size; choose from 0.4k"),
        (("show", "/nonexistent/folder"), "error: '/nonexistent/folder' holds no isoflop results (no results.sqlite); "
                                          "run a study there first"),
        (("data", "stats", "missing.txt"), "error: corpus 'missing.txt' is neither a file nor a folder"),
    ],
)
def test_bad_input_is_one_line_and_non_zero_exit(capsys, tmp_path, args, message):
    code, stdout, stderr = run_cli(capsys, *args, *(("--output", str(tmp_path / "out")) if args[0] in ("scarcity", "isoflops") else ()))
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1
    assert stderr.startswith(message)
    assert not (tmp_path / "out").exists()


def test_quiet_is_quiet_even_when_loading_a_checkpoint(capfd, tmp_path, pretrained_folder):
    from isoflop.cli import main

    capfd.readouterr()
    main(["scarcity", "--seeds", "1", "--model", str(pretrained_folder), "--budget-passes", "2", "--unique-samples", "1",
          "--eval-samples", "1", "--quiet", "--engine", "reference", "--output", str(tmp_path / "out")])
    captured = capfd.readouterr()
    assert captured.err == ""
    assert captured.out.startswith("1 run(s) trained (1 completed, 0 failed), 0 already done; engine: reference")


def test_a_study_whose_runs_all_failed_says_so_and_lists_only_written_files(capsys, tmp_path):
    code, stdout, stderr = run_cli(capsys, "scarcity", "--seeds", "1", "--learning-rate", "1e30", "--budget-passes", "3", "--unique-samples",
                                   "1,2", "--eval-samples", "1", "--executor", "inprocess", "--quiet", "--output",
                                   str(tmp_path / "out"))
    assert code == 1
    assert "2 run(s) trained (0 completed, 2 failed)" in stdout and "No run completed" in stdout
    assert "(summary.md, report.html)" in stdout and stderr.count("failed:") == 2
    code, stdout, _ = run_cli(capsys, "show", str(tmp_path / "out"))
    assert "failure" in stdout.splitlines()[0] and "at step" in stdout


def test_a_mapping_option_reads_pairs_and_none_clears_it():
    from isoflop.cli.options import CommaMapping

    assert CommaMapping().convert("25k=1e-2, 50k=3e-3", None, None) == {"25k": 1e-2, "50k": 3e-3}
    assert CommaMapping().convert("none", None, None) == {} == CommaMapping().convert("", None, None)


def test_predict_with_unique_tokens_says_how_a_law_without_repetition_terms_treats_repeats(capsys):
    code, stdout, _ = run_cli(capsys, "predict", "--law", "chinchilla", "--params", "1e9", "--tokens", "1e11",
                              "--unique-tokens", "1e10")
    assert code == 0
    assert "note: this law has no repetition terms: D is capped at U = 1e+10" in stdout
    code, stdout, _ = run_cli(capsys, "predict", "--law", "chinchilla", "--params", "1e9", "--tokens", "1e11",
                              "--unique-tokens", "1e10", "--json")
    assert "no repetition terms" in json.loads(stdout)["notes"][0]
    code, stdout, _ = run_cli(capsys, "predict", "--law", "datablations", "--params", "1e9", "--tokens", "1e11",
                              "--unique-tokens", "1e10")
    assert code == 0 and "note:" not in stdout


def test_show_on_a_vocabulary_study_lists_its_arms(capsys, tmp_path):
    from isoflop.results.store import Store
    from helpers import record

    for arm in ("bpe-1024", "bytes"):
        with Store(tmp_path / "vocab" / arm) as store:
            store.ensure_study("s", "isoflops", {"study": "isoflops"})
            store.save(record(kind="isoflops"))
    (tmp_path / "vocab" / "tokenizers").mkdir()
    code, stdout, stderr = run_cli(capsys, "show", str(tmp_path / "vocab"))
    assert code == 0, stderr
    headings = [line for line in stdout.splitlines() if line.startswith("──")]
    assert headings == [f"── bpe-1024 ({tmp_path / 'vocab' / 'bpe-1024'})", f"── bytes ({tmp_path / 'vocab' / 'bytes'})"]


def test_pretrain_interruption_advice_agrees_with_what_the_next_command_accepts(tmp_path):
    from isoflop.errors import UsageError
    from isoflop.recipes.base import CHECKPOINTS, POSITION, CheckpointFolder

    folder = CheckpointFolder(tmp_path, "pretraining")
    assert "run the same command again to start over" in folder.interruption_advice()
    assert folder.starting_point(resume=False) is None  # ... and the same command starts
    checkpoint = tmp_path / CHECKPOINTS / "step-200"
    checkpoint.mkdir(parents=True)
    (checkpoint / POSITION).write_text('{"step": 200, "windows": 800}')
    assert "run the same command with --resume" in folder.interruption_advice()
    assert folder.starting_point(resume=True) == checkpoint  # ... and --resume resumes it
    with pytest.raises(UsageError, match="pass --resume to continue it"):
        folder.starting_point(resume=False)
