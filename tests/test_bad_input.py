"""No traceback for user input, anywhere: every bad value gets exit code 2, one stderr line, and nothing written.

The table is the closing note's bad-input table; the property tests throw numbers (NaN, ±inf, 0, negatives,
huge, tiny) and malformed files at the commands that take them.
"""

import contextlib
import io
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isoflop.cli import main
from isoflop.results.store import Store
from helpers import record

LAW = {"law": {"E": 1.7, "A": 400, "B": 400, "alpha": 0.34, "beta": 0.28, "bootstrap_samples": []},
       "range": {"N": [1e6, 1e9], "D": [1e8, 1e11], "C": [1e18, 1e21]}}


def run(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def workspace(tmp_path, pretrained_folder, gpt2_tokenizer):
    """Files the bad inputs point at: a law, CSVs good and bad, a scarcity folder, a plain file."""
    (tmp_path / "law.json").write_text(json.dumps(LAW))
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "nolaw.json").write_text('{"approach": 2}')
    (tmp_path / "partial.json").write_text('{"law": {"E": 1.7}}')
    (tmp_path / "notjson.json").write_text("{nope")
    (tmp_path / "short.csv").write_text("N,D,loss\n1e6,1e9,3.0\n2e6\n")
    (tmp_path / "zeroc.csv").write_text("N,D,loss,C\n1e6,1e9,3.0,0\n2e6,1e9,2.9,1e16\n3e6,1e9,2.8,1e16\n")
    (tmp_path / "two.csv").write_text("N,D,loss\n1e6,1e9,3.0\n2e6,2e9,2.9\n")
    (tmp_path / "three.csv").write_text("N,D,loss\n1e6,1e9,3.0\n2e6,2e9,2.9\n3e6,3e9,2.8\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "swapped.csv").write_text("N,D,U,loss\n1e6,1e8,1e9,3.0\n2e6,1e8,1e7,2.9\n3e6,2e8,1e10,2.8\n")
    (tmp_path / "inverted.csv").write_text("N,D,loss,C\n1e6,1e9,3.0,1.6e-16\n2e6,1e9,2.9,8e-17\n3e6,1e9,2.8,5e-17\n")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x81")
    (tmp_path / "plain.txt").write_text("x")
    (tmp_path / "onesize.csv").write_text("N,D,U,loss\n" + "".join(f"1e6,1e9,{u:g},{3 + 1e-9 / u * 1e8:.6f}\n"
                                                                    for u in (1e8, 2e8, 5e8, 1e9)))
    (tmp_path / "latin1.txt").write_bytes("Caf\u00e9 cr\u00e8me, na\u00efve r\u00e9sum\u00e9\n".encode("latin-1") * 50)
    with Store(tmp_path / "scarcity") as store:
        store.ensure_study("s", "scarcity", {"study": "scarcity"})
        store.save(record())
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "results.sqlite").write_text("not a database")
    (tmp_path / "foreign").mkdir()
    with sqlite3.connect(tmp_path / "foreign" / "results.sqlite") as connection:
        connection.execute("CREATE TABLE people (name TEXT)")
    connection.close()
    shutil.copytree(pretrained_folder, tmp_path / "no-tokenizer")  # a model saved alone (n_positions 128)
    shutil.copytree(pretrained_folder, tmp_path / "model")
    gpt2_tokenizer.save_pretrained(tmp_path / "model")
    (tmp_path / "finished" / "model").mkdir(parents=True)  # a pretraining run that ended
    return tmp_path


STUDY = ("--budget-passes", "2", "--unique-samples", "1", "--eval-samples", "1", "--quiet")
BAD_INPUTS = [
    # (command line, what the one line must say); OUT is a fresh output folder, W the workspace
    (("scarcity", "--seeds", "-1", "--output", "OUT"), "seeds must lie between 0 and 4294967295"),
    (("scarcity", "--seeds", "99999999999", "--output", "OUT"), "seeds must lie between"),
    (("scarcity", "--learning-rate", "inf", "--output", "OUT"), "learning_rate: Input should be a finite number"),
    (("scarcity", "--learning-rate", "nan", "--output", "OUT"), "learning_rate"),
    (("scarcity", "--budget-passes", "0", "--output", "OUT"), "budget_passes"),
    (("scarcity", "--unique-samples", "0", "--output", "OUT"), "positive number of samples"),
    (("scarcity", "--unique-samples", "x", "--output", "OUT"), "give whole numbers separated by commas"),
    (("scarcity", "--budget-passes", "50", "--unique-samples", "10,100", "--output", "OUT"),
     "D = 100 exceeds the 50 samples a budget of 50 passes reads"),
    (("scarcity", "--model", "scratch:huge", *STUDY, "--output", "OUT"), "unknown model size"),
    (("scarcity", "--engine", "nope", "--output", "OUT"), "unknown engine 'nope'"),
    (("scarcity", "--pack-size", "4", *STUDY, "--output", "OUT"), "--engine auto chose the fast engine for this study"),
    (("scarcity", "--preset", "nope", "--output", "OUT"), "'nope' is not one of"),
    (("scarcity", "--estimate", "--output", "OUT"), "--estimate goes with --dry-run"),
    (("scarcity", "--config", "W/missing.yaml", "--output", "OUT"), "does not exist"),
    (("scarcity", "--precision", "bf16", "--engine", "batched", *STUDY, "--output", "OUT"), "needs a CUDA GPU"),
    (("scarcity", *STUDY, "--output", "W/plain.txt"), "is a file, not a folder"),
    (("scarcity", *STUDY, "--output", "W/plain.txt/below"), "cannot be created"),
    (("scarcity", "--grid", "n_layer=2,4", "--output", "OUT"), "n_layer is not a model or optimizer setting"),
    (("scarcity", "--grid", "seq_len=16,32", "--output", "OUT"), "may not change the model's shape"),
    (("scarcity", "--grid", "schedule=1,2", "--output", "OUT"), "schedule is not a numeric setting"),
    (("scarcity", "--grid", "weight_decay=", "--output", "OUT"), "the axis weight_decay has no values"),
    (("scarcity", "--grid", "weight_decay", "--output", "OUT"), "give an axis as FIELD=V1,V2"),
    (("scarcity", "--grid", "weight_decay=0,x", "--output", "OUT"), "give an axis as FIELD=V1,V2"),
    (("scarcity", "--grid", "weight_decay=0,inf", "--output", "OUT"), "Input should be a finite number"),
    (("scarcity", "--grid", "dropout=nan", "--output", "OUT"), "Input should be a finite number"),
    (("scarcity", "--grid", "weight_decay=-1", "--output", "OUT"), "--grid weight_decay=-1: Input should be greater"),
    (("scarcity", "--grid", "dropout=0", "--grid", "dropout=0.1", "--output", "OUT"), "the axis dropout is given twice"),
    (("scarcity", "--cooldown-fraction", "0.3", "--output", "OUT"), "--cooldown-fraction applies to --schedule wsd only"),
    (("isoflops", "--schedule", "wsd", "--output", "OUT"), "give --warmup-steps N instead of --warmup-fraction"),
    (("isoflops", "--preset", "wsd", "--cooldown-fraction", "0", "--output", "OUT"), "cooldown_fraction: Input should be greater than 0"),
    (("isoflops", "--grid", "batch_size=1.5", "--output", "OUT"), "batch_size=1.5: Input should be a valid integer"),
    (("isoflops", "--budgets", "-1", "--output", "OUT"), "positive number of FLOPs"),
    (("isoflops", "--budgets", "nan", "--output", "OUT"), "budgets"),
    (("isoflops", "--model-sizes", "7b", "--output", "OUT"), "unknown ladder size"),
    (("isoflops", "--size-learning-rates", "25M=1e-3", "--output", "OUT"), "not a ladder size"),
    (("isoflops", "--size-learning-rates", "25k=-5", "--output", "OUT"), "positive finite"),
    (("show", "W/nothing"), "holds no isoflop results"),
    (("show", "W/scarcity", "--csv", "W/missing/runs.csv"), "its folder does not exist"),
    (("data", "stats", "W/missing.txt"), "neither a file nor a folder"),
    (("data", "stats", "python-docs", "--seq-len", "0"), "seq_len"),
    (("data", "stats", "W/latin1.txt"), "is not utf-8 text (byte 0xe9 at offset 3 cannot be utf-8: another "
     "encoding, or a binary file?); if it is Latin-1 pass --encoding latin-1"),
    (("data", "stats", "W/latin1.txt", "--encoding", "klingon"), "--encoding 'klingon' is no text encoding Python knows"),
    (("scarcity", "--train-data", "W/latin1.txt", "--validation-data", "W/latin1.txt", *STUDY, "--output", "OUT"),
     "is not utf-8 text"),
    (("fit", "W/onesize.csv", "--approach", "constrained"), "needs runs of at least 2 model sizes and 2 data sizes"),
    (("fit", "W/three.csv", "--where", "model=x"), "has no column 'model'"),
    (("fit", "W/three.csv", "--where", "model"), "give COLUMN=VALUE"),
    (("fit", "W/three.csv", "--approach", "3", "--minima"), "--minima fits approach 2's frontier"),
    (("fit", "W/three.csv", "--approach", "2", "--allocation-resamples", "40", "--window", "2"), "--window: Input should be greater than or equal to 3"),
    (("fit", "W/three.csv", "--approach", "finetune"), "needs at least 5 data sizes"),
    (("fit", "W/scarcity", "--approach", "finetune"), "is a study folder"),
    (("predict", "--law", "W/law.json", "--samples", "1e4"), "is an L(N, D) law"),
    (("fit", "W/missing.csv"), "is not a file"),
    (("fit", "W/short.csv"), "line 3 has a different number of fields"),
    (("fit", "W/zeroc.csv", "--approach", "1"), "column C must be positive"),
    (("fit", "W/two.csv", "--approach", "1"), "approach 1 needs the loss envelope at 3 or more"),
    (("fit", "W/three.csv", "--approach", "3"), "approach 3 needs at least 5 points"),
    (("fit", "W/empty.csv"), "has no rows"),
    (("fit", "W/binary.csv"), "not a readable CSV"),
    (("fit", "W/scarcity"), "holds a scarcity study"),
    (("fit", "W/three.csv", "--save", "W/missing/law.json"), "its folder does not exist"),
    (("fit", "W/three.csv", "--columns", "X=1"), "each entry is NAME=HEADER"),
    (("fit", "W/three.csv", "--columns", "N=size"), "maps N to 'size', which"),
    (("fit", "W/three.csv", "--budgets", "1e18,abc"), "give numbers separated by commas"),
    (("fit", "W/three.csv", "--huber-delta", "-1"), "--huber-delta: Input should be greater than 0"),
    (("fit", "W/three.csv", "--approach", "2", "--allocation-resamples", "40", "--budget-tolerance", "2"), "--budget-tolerance: Input should be less than 1"),
    (("fit", "W/three.csv", "--approach", "2", "--allocation-resamples", "40", "--budgets", "-1"), "--budgets: give positive budgets separated by commas"),
    (("advise", "--flops", "nan", "--fit", "W/law.json"), "--flops must be a positive finite number"),
    (("advise", "--flops", "inf", "--fit", "W/law.json"), "--flops must be a positive finite number"),
    (("advise", "--flops", "-1", "--fit", "W/law.json"), "--flops must be a positive finite number"),
    (("advise", "--flops", "1e-30", "--fit", "W/law.json"), "far outside what the law describes"),
    (("advise", "--flops", "1e20", "--unique-tokens", "nan", "--fit", "W/law.json"), "--unique-tokens must be"),
    (("advise", "--flops", "1e20", "--fit", "W/missing.json"), "does not exist"),
    (("advise", "--flops", "1e20", "--fit", "W/notjson.json"), "is not JSON"),
    (("advise", "--flops", "1e20", "--fit", "W/list.json"), "holds no fit"),
    (("advise", "--flops", "1e20", "--fit", "W/nolaw.json"), "holds no fitted law"),
    (("advise", "--flops", "1e20", "--fit", "W/partial.json"), "holds no complete L(N, D) law"),
    (("fit", "W/swapped.csv"), "line(s) 2, 4: U exceeds D"),
    (("fit", "W/inverted.csv", "--approach", "2", "--allocation-resamples", "40"), "line(s) 2, 3, 4: C/(N·D) = 1.6e-31 lies outside [2, 12]"),
    # Issue 22: results that are not ours, generate's prompt and context, paths that do not exist, combinations
    (("show", "W/corrupt"), "results.sqlite is not a readable SQLite database (file is not a database); it was left untouched"),
    (("show", "W/foreign"), "results.sqlite is another program's SQLite database (tables: people)"),
    (("scarcity", *STUDY, "--output", "W/corrupt"), "is not a readable SQLite database"),
    (("scarcity", *STUDY, "--output", "W/foreign"), "another program's SQLite database"),
    (("isoflops", "--output", "W/scarcity"), "holds a scarcity study, not a isoflops one; read it with 'isoflop show"),
    (("show", "W/scarcity", "--per-step"), "--per-step shapes the CSV export and does nothing alone; add --csv PATH"),
    (("show", "W/scarcity", "--csv", "W/x.csv", "--evaluated-only"), "--evaluated-only picks the steps of a --per-step export"),
    (("generate", "W/model", "--prompt", ""), "--prompt is empty"),
    # numpy's legacy seeding takes seeds below 2**32: every seed setting says so before any work.
    (("generate", "W/model", "--prompt", "Hello", "--seed", "4294967296"), "--seed: Input should be less than or equal to 4294967295"),
    (("generate", "W/model", "--prompt", "Hello", "--top-p", "0"), "--top-p: Input should be greater than 0"),
    (("pretrain", "--seed", "4294967296", "--out", "OUT"), "seed: Input should be less than or equal to 4294967295"),
    (("finetune", "--seed", "4294967296", "--out", "OUT"), "seed: Input should be less than or equal to 4294967295"),
    (("fit", "W/three.csv", "--seed", "4294967296"), "--seed: Input should be less than or equal to 4294967295"),
    (("generate", "W/model", "--prompt", "Hello there", "--max-new-tokens", "200"),
     "the prompt's 2 tokens plus --max-new-tokens 200 exceed the model's context of 128 tokens; use --max-new-tokens "
     "126 or less"),
    (("generate", "W/model", "--prompt", "word " * 130), "shorten the prompt"),
    (("generate", "W/no-tokenizer", "--prompt", "Hello"), "holds no tokenizer files"),
    (("generate", "W/model", "W/no-tokenizer", "--prompt", "Hello"), "holds no tokenizer files"),
    (("generate", "./nope", "--prompt", "Hello"), "tokenizer './nope': no such folder"),
    (("scarcity", "--model", "./nope", *STUDY, "--output", "OUT"), "model './nope': no such folder"),
    (("tokenizer", "inspect", "~/nope-folder"), "no such folder"),
    (("scarcity", "--tokenizer", "o/nope-tok", *STUDY, "--output", "OUT"),
     "tokenizer 'o/nope-tok' is no folder here, and as a Hub name it needs the Hugging Face Hub"),
    (("vocab", "--tokenizers", "bytes,bpe:10", "--output", "OUT"),
     "--tokenizers bpe:10: a vocabulary of 10 is smaller than the 256-byte alphabet"),
    (("pretrain", "--mixed-precision", "fp16", "--out", "OUT"), "--precision fp16 needs a CUDA GPU"),
    (("pretrain", "--resume", "--out", "W/finished"), "--resume: nothing to resume, the run in"),
    (("pretrain", "--out", "W/finished"), "holds a finished pretraining run"),
    # Issue 21: settings that say one thing two ways, and options the chosen command cannot honour.
    (("pretrain", "--warmup-fraction", "0.1", "--warmup-steps", "5", "--output", "OUT"),
     "--warmup-fraction and --warmup-steps both set the warmup; give one"),
    (("scarcity", "--evals-per-run", "3", "--eval-every", "2", "--output", "OUT"),
     "--evals-per-run and --eval-every both set how often to evaluate; give one"),
    (("scarcity", "--precision", "fp16", "--output", "OUT"), "--precision fp16: the study engines train in fp32 or bf16"),
    (("pretrain", "--chunking", "per-row", "--output", "OUT"), "--chunking per-row cuts each row on its own"),
    (("tokenizer", "train", "--min-frequency", "0", "--output", "OUT"), "min_frequency: Input should be greater than or equal to 1"),
    (("vocab", "--tokenizers", "bytes", "--output", "OUT"), "tokenizers: give at least two tokenizers to compare"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(workspace, args, message):
    args = [a.replace("W/", f"{workspace}/").replace("OUT", str(workspace / "out")) for a in args]
    before = files(workspace)
    code, _, stderr = run(*args)
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert message in stderr
    assert files(workspace) == before and not (workspace / "out").exists()


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_bf16_on_a_cpu_without_it_is_one_line_naming_the_missing_flags(workspace, monkeypatch, engine):
    from isoflop import hardware

    monkeypatch.setattr(hardware, "cpuinfo", lambda: {"flags": "fpu avx2 avx512f"})
    before = files(workspace)
    code, _, stderr = run("scarcity", "--precision", "bf16", "--engine", engine, *STUDY, "--output", workspace / "out")
    assert code == 2 and len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert "neither avx512_bf16 nor amx_bf16" in stderr and "--precision fp32" in stderr
    assert files(workspace) == before and not (workspace / "out").exists()


numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -1.0, 1e-300, 1e300, 1e20]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flops=numbers, unique=st.one_of(st.none(), numbers))
def test_advise_answers_or_refuses_in_one_line_for_any_number(workspace, flops, unique):
    args = ["advise", "--flops", repr(flops), "--fit", workspace / "law.json", "--json"]
    if unique is not None:
        args += ["--unique-tokens", repr(unique)]
    code, stdout, stderr = run(*args)
    assert "Traceback" not in stderr
    if code == 0:
        advice = json.loads(stdout)
        assert advice["N"] >= 1 and advice["D"] >= 1
    elif code == 1:  # approach 3 refuses a budget where its forecast is its own E (issue 31)
        assert "extrapolates blind" in stderr and len(stderr.strip().splitlines()) == 1
    else:
        assert code == 2 and len(stderr.strip().splitlines()) == 1


cells = st.one_of(numbers.map(repr), st.text(alphabet="0123456789.e-x, \t\"", max_size=6))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(cells, min_size=0, max_size=4), max_size=6), header=st.sampled_from(["N,D,loss", "N,D,loss,C", "N,D", ""]))
def test_fit_answers_or_refuses_in_one_line_for_any_small_csv(workspace, rows, header):
    path = workspace / "random.csv"
    path.write_text(header + "\n" + "".join(",".join(row) + "\n" for row in rows))
    code, _, stderr = run("fit", path, "--approach", "2", "--allocation-resamples", "40", "--bootstrap", "5")
    assert "Traceback" not in stderr
    assert code in (0, 2)
    if code == 2:
        assert len(stderr.strip().splitlines()) == 1


def full_disk(monkeypatch):
    """Every atomic rename fails with ENOSPC (as on a full disk; tests/test_write_faults.py fills a real one)."""
    import errno

    import isoflop.files

    def full(*_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(isoflop.files.os, "replace", full)


def test_a_full_disk_is_one_line_and_the_old_file_stays(workspace, monkeypatch):
    full_disk(monkeypatch)
    code, _, stderr = run("fit", workspace / "three.csv", "--approach", "1", "--save", workspace / "law.json")
    assert code == 2 and "cannot write" in stderr and "No space left on device" in stderr
    assert len(stderr.strip().splitlines()) == 1 and json.loads((workspace / "law.json").read_text()) == LAW
