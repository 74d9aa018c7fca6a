"""Training speed of each family on this machine: the fast engine (one thread, fp32) at a few rungs, in tokens per
second and as a ratio to GPT-2 at the same rung, with the matmul FLOPs per second it reaches.

    python benchmarks/families.py [--sizes 100k,2m] [--steps 30]

Byte-level tokenizer, python-stdlib, 128-token samples, batch 16, no evaluation; the first 5 steps are warm-up and
not timed. Run it on an idle machine: the CPU's model and flags are printed beside the numbers.
"""

from __future__ import annotations

import argparse
import time

from isoflop.config.parts import DataConfig, OptimizerConfig
from isoflop.data.prepare import prepare_data
from isoflop.engines.base import Pack, RunSpec
from isoflop.hardware import describe_cpu
from isoflop.models.build import model_facts
from isoflop.models.counts import flops_per_token
from isoflop.models.families import FAMILIES, scratch_spec
from isoflop.tokenization.resolve import load_tokenizer

WARMUP, SEQ_LEN, BATCH = 5, 128, 16


def speed(engine, spec: str, data, steps: int) -> float:
    """Tokens per second of ``steps`` training steps after ``WARMUP`` untimed ones."""
    def trained(count: int) -> float:
        run = RunSpec("bench", "bench", 1, spec, 0.0, len(data.train_chunks), count,
                      OptimizerConfig(batch_size=BATCH, learning_rate=1e-3), ())
        started = time.perf_counter()
        for _ in engine.train(Pack((run,)), data, lambda done: None):
            pass
        return time.perf_counter() - started

    trained(WARMUP)  # first-call costs (the head kernel's build, allocations) out of the timing
    seconds = trained(WARMUP + steps) - trained(WARMUP)
    return steps * BATCH * SEQ_LEN / seconds


def main() -> None:
    from isoflop.config.parts import EngineConfig
    from isoflop.engines.fast import FastEngine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k,2m")
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    tokenizer = load_tokenizer("bytes")
    data = prepare_data(DataConfig(train_data="python-stdlib", seq_len=SEQ_LEN, chunking="packed"), tokenizer,
                        BATCH * 4, 1, "")
    engine = FastEngine(EngineConfig(engine="fast"))
    print(f"CPU: {describe_cpu()}; fast engine, fp32, one thread, {SEQ_LEN} tokens x batch {BATCH}")
    print("| model | N total | tokens/s | vs GPT-2 | matmul GFLOP/s |\n|---|---|---|---|---|")
    for size in args.sizes.split(","):
        baseline = None
        for family in FAMILIES:
            spec = scratch_spec(family, size)
            facts = model_facts(spec, len(tokenizer))
            rate = speed(engine, spec, data, args.steps)
            baseline = baseline or rate
            print(f"| {spec.removeprefix('scratch:')} | {facts.parameters.total:,} | {rate:,.0f} | {rate / baseline:.2f} "
                  f"| {rate * flops_per_token(facts, SEQ_LEN, 'matmul') / 1e9:.1f} |", flush=True)


if __name__ == "__main__":
    main()
