"""The GPU check: one command, one JSON object, everything isoflop has never measured on a GPU.

    python benchmarks/gpu_check.py            # on one CUDA GPU: sized for under 8 minutes (not yet run on one)

On a CUDA GPU it measures, in one run:

* equivalence: the batched engine against the reference (the HF Trainer) on the offline default's protocol
  (3 runs, 100 steps, dropout 0): fp32 step by step, and bf16 within its derived tolerance — bf16 moves the
  reference from fp32 by ε, the engines agree in fp32 to δ, so a batched bf16 that rounds where the Trainer's
  autocast does lies within 2ε + δ of the bf16 reference (the test of the fast engine's bf16 uses the same bound);
* speed: seconds per run of the batched engine with K = 1, 8 and 32 runs packed, against the reference's per
  run, on the offline default and on the distilgpt2 architecture (10 steps), in bf16;
* pretraining tokens per second in bf16 (``isoflop pretrain``, GPT-2 small, batch 16 × 512);
* one rung of each family (gpt2, llama, qwen3 at the 50m rung: 50M–90M parameters with the GPT-2 vocabulary)
  trained by the reference engine in bf16 (SDPA, the Trainer's fused AdamW): tokens per second and MFU under the
  ``matmul`` and ``full`` conventions, as every record now stores them;
* the peak GPU memory of each part.

Without CUDA it runs the same code on the CPU at a tiny scale, and says which parts it skipped, so that CI keeps
the script working (``tests/test_gpu_check.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from engines import gap, measure  # noqa: E402 - the engines benchmark's measurement, shared

from isoflop.hardware import describe_cpu  # noqa: E402

DEFAULT = {"dropout": 0.0, "unique_samples": (10,)}
DISTILGPT2 = {"model": "scratch:distilgpt2", "budget_passes": 10, "unique_samples": (10,), "dropout": 0.0}
# Without a GPU: the same parts on a tiny model, so that every line of the script runs.
CPU_SMOKE = {"model": "scratch:tiny", "tokenizer": "bytes", "budget_passes": 6, "unique_samples": (2,), "eval_samples": 2,
             "dropout": 0.0}
PACK_SIZES = (1, 8, 32, 128)
FAMILY_RUNG = {"size": "50m", "tokenizer": "gpt2", "seq_len": 512, "batch_size": 8, "budget_passes": 160}
CPU_FAMILY_RUNG = {"size": "tiny", "tokenizer": "bytes", "seq_len": 32, "batch_size": 2, "budget_passes": 4}


def seeds(count: int) -> dict:
    return {"seeds": tuple(range(1, count + 1))}


def peak_memory(reset: bool = False) -> float | None:
    if not torch.cuda.is_available():
        return None
    if reset:
        torch.cuda.reset_peak_memory_stats()
    return round(torch.cuda.max_memory_allocated() / 2**30, 2)


def equivalence(case: dict, bf16: bool) -> dict:
    """The batched engine against the reference, fp32 (and bf16 within 2ε + δ)."""
    peak_memory(reset=True)
    runs = case | seeds(3)
    reference32, batched32 = measure("reference", "inprocess", None, runs), measure("batched", "inprocess", None, runs)
    delta = gap(reference32, batched32)
    result = {"runs": batched32["runs"], "fp32_max_abs_delta_loss": float(f"{delta:.3g}"), "fp32_within_1e-4": delta < 1e-4}
    if bf16:
        reference16 = measure("reference", "inprocess", None, runs, "bf16")
        batched16 = measure("batched", "inprocess", None, runs, "bf16")
        epsilon, tolerance = gap(reference16, reference32), 2 * gap(reference16, reference32) + delta
        result |= {"bf16_effect_epsilon": float(f"{epsilon:.3g}"),
                   "bf16_max_abs_delta_loss": float(f"{gap(reference16, batched16):.3g}"),
                   "bf16_tolerance": float(f"{tolerance:.3g}"),
                   "bf16_within_tolerance": gap(reference16, batched16) <= tolerance}
    return result | {"peak_memory_gib": peak_memory()}


def speed(case: dict, pack_sizes: tuple[int, ...], precision: str) -> dict:
    """Seconds per run of the batched engine with K runs packed, against the reference's per run."""
    peak_memory(reset=True)
    reference = measure("reference", "inprocess", None, case | seeds(1), precision)
    result = {"reference_s_per_run": round(reference["wall_per_run"], 3)}
    for size in pack_sizes:
        peak_memory(reset=True)
        batched = measure("batched", "inprocess", None, case | seeds(size) | {"pack_size": size}, precision)
        result[f"K={size}"] = {"batched_s_per_run": round(batched["wall_per_run"], 4),
                               "ratio_vs_reference": round(reference["wall_per_run"] / batched["wall_per_run"], 2),
                               "peak_memory_gib": peak_memory()}
    return result


def pretraining_tokens_per_second(steps: int = 60, size: str = "small", seq_len: int = 512, batch_size: int = 16) -> dict:
    """``isoflop pretrain`` in bf16: GPT-2 small, batch 16 × 512 tokens, the byte tokenizer, no evaluation."""
    from isoflop.config.recipes import PretrainConfig
    from isoflop.recipes.pretrain import pretrain

    peak_memory(reset=True)
    with tempfile.TemporaryDirectory() as folder:
        config = PretrainConfig(size=size, tokenizer="bytes", seq_len=seq_len, batch_size=batch_size, max_steps=steps,
                                warmup_steps=steps // 10, eval_every=10**9, eval_samples=4, checkpoint_every=10**9,
                                precision="bf16", output=str(Path(folder) / "run"))
        tokens = pretrain(config, progress=False, echo=lambda _: None).tokens_per_second
    return {"model": f"GPT-2 {size}", "steps": steps, "batch": f"{batch_size} x {seq_len}", "tokens_per_second": round(tokens),
            "peak_memory_gib": peak_memory()}


def families(rung: dict, precision: str) -> dict:
    """One rung of each family trained by the reference engine (a study of one run): the tokens per second, MFU in
    both conventions and FLOPs per token its record stores, and the peak memory."""
    from isoflop import build_config, run_study
    from isoflop.models.families import FAMILIES, scratch_spec
    from isoflop.results.store import Store

    result = {}
    for family in FAMILIES:
        peak_memory(reset=True)
        with tempfile.TemporaryDirectory() as folder:
            passes = rung["budget_passes"]
            config = build_config(overrides={
                "model": scratch_spec(family, rung["size"]), "tokenizer": rung["tokenizer"], "seq_len": rung["seq_len"],
                "batch_size": rung["batch_size"], "budget_passes": passes, "unique_samples": (passes,), "seeds": (1,),
                "eval_samples": 2, "evals_per_run": 1, "engine": "reference", "precision": precision,
                "executor": "inprocess", "output": str(Path(folder) / "run")})
            run_study(config, echo=lambda _: None, progress=False)
            with Store(Path(folder) / "run", create=False) as store:
                (record,) = store.records()
        result[record.model.removeprefix("scratch:")] = {
            "parameters": record.parameters, "tokens_per_second": round(record.tokens_per_second or 0),
            "mfu": {name: round(value, 4) for name, value in record.mfu.items()},
            "flops_per_token": {name: float(f"{value:.4g}") for name, value in record.flop_counts.items()},
            "peak_memory_gib": peak_memory()}
    return result


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    started = time.perf_counter()
    cuda = torch.cuda.is_available()
    report = {"device": torch.cuda.get_device_name() if cuda else "cpu", "cpu": describe_cpu(),
              "torch": torch.__version__, "cuda": torch.version.cuda if cuda else None}
    if cuda:
        report["equivalence"] = equivalence(DEFAULT, bf16=True)
        report["speed_bf16"] = {"offline default (100 steps)": speed(DEFAULT, PACK_SIZES, "bf16"),
                                "distilgpt2 architecture (10 steps)": speed(DISTILGPT2, PACK_SIZES, "bf16")}
        report["pretraining_bf16"] = pretraining_tokens_per_second()
        report["families_bf16"] = families(FAMILY_RUNG, "bf16")
    else:
        report["skipped"] = ("no CUDA GPU: bf16 equivalence, the speed at K = 1, 8, 32 and 128 on the offline default and "
                             "the distilgpt2 architecture, pretraining tokens/s, the families' 50m rungs in bf16 with "
                             "their MFU, and peak memory need one; the fp32 equivalence, the speed at K = 1 and 2 and "
                             "each family's tiny rung ran on the CPU instead (no MFU: no GPU peak), to keep the script "
                             "working")
        report["equivalence"] = equivalence(CPU_SMOKE, bf16=False)
        report["speed_fp32_cpu_smoke"] = speed(CPU_SMOKE, (1, 2), "fp32")
        report["families_fp32_cpu_smoke"] = families(CPU_FAMILY_RUNG, "fp32")
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
