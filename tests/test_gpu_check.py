"""benchmarks/gpu_check.py runs everywhere: without a GPU it says what it skipped and checks the rest on the CPU."""

import json
import runpy
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "gpu_check.py"


@pytest.mark.slow  # CI runs both tiers
def test_the_gpu_check_runs_on_a_cpu_and_says_what_it_skipped(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU machine, whatever this one is
    monkeypatch.setattr(sys, "argv", [str(SCRIPT)])
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    runpy.run_path(str(SCRIPT), run_name="__main__")
    report = json.loads(capsys.readouterr().out)
    assert report["device"] == "cpu" and "no CUDA GPU" in report["skipped"]
    assert report["equivalence"]["fp32_within_1e-4"] and report["equivalence"]["runs"] == 3
    speed = report["speed_fp32_cpu_smoke"]
    assert speed["reference_s_per_run"] > 0 and speed["K=2"]["ratio_vs_reference"] > 0
    families = report["families_fp32_cpu_smoke"]
    assert sorted(families) == ["llama-tiny", "qwen3-tiny", "tiny"]
    assert all(f["tokens_per_second"] > 0 and f["mfu"] == {} and set(f["flops_per_token"]) == {"6N", "full", "matmul"}
               for f in families.values())


@pytest.mark.slow
def test_the_gpu_parts_run_on_a_cpu_at_a_tiny_scale(monkeypatch):
    """The parts only a GPU runs in full (bf16 equivalence, packed bf16 speed, bf16 pretraining), on a tiny model."""
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    check = runpy.run_path(str(SCRIPT), run_name="gpu_check")
    tiny = check["CPU_SMOKE"]
    equivalence = check["equivalence"](tiny, bf16=True)
    assert equivalence["fp32_within_1e-4"] and equivalence["bf16_within_tolerance"]
    assert equivalence["bf16_effect_epsilon"] > 0  # bf16 did run: it moves the numbers
    assert check["speed"](tiny, (2,), "bf16")["K=2"]["batched_s_per_run"] > 0
    assert check["pretraining_tokens_per_second"](steps=2, size="tiny", seq_len=32, batch_size=2)["tokens_per_second"] > 0
