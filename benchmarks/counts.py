"""The counts table: each family at a few rungs, its parameters and FLOPs per token in each convention, and what
torch's FlopCounterMode measures in one training step (eager attention, and SDPA), and the Trainer's own count.

    python benchmarks/counts.py [--seq-len 128] [--vocab 50257] [--sizes 0.8k,100k,5m]

``matmul`` / FlopCounterMode (eager) is 1 by construction (tests/test_counts.py pins it); the SDPA column shows what
the counter misses where PyTorch's CPU attention kernel hides its matmuls; ``full`` / ``matmul`` is how far the
Appendix F count (embedding counted as a matmul) is from what executes; ``Trainer`` is 6 × tokens × the Trainer's
parameters without embeddings (``floating_point_ops``) over ``matmul``.
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from isoflop.models.build import build_model, model_config, model_facts
from isoflop.models.counts import every_convention
from isoflop.models.families import FAMILIES, scratch_spec


def measured(spec: str, vocab: int, seq_len: int, attention: str) -> float:
    """FlopCounterMode's FLOPs per token of one training step (forward and backward) of a batch of 2."""
    config = model_config(spec, vocab)
    config._attn_implementation = attention
    model = build_model(spec, config, seed=0)
    ids = torch.randint(0, vocab, (2, seq_len))
    with FlopCounterMode(display=False) as counter:
        model(input_ids=ids, labels=ids).loss.backward()
    return counter.get_total_flops() / ids.numel()


def trainer_count(spec: str, vocab: int) -> float:
    """The HF Trainer's FLOPs per token (its ``floating_point_ops``): 6 × the model's parameters without embeddings
    (``num_parameters(exclude_embeddings=True)``)."""
    return 6 * build_model(spec, model_config(spec, vocab), seed=0).num_parameters(exclude_embeddings=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=50257)
    parser.add_argument("--sizes", default="0.8k,100k,5m")
    args = parser.parse_args()
    print(f"vocabulary {args.vocab:,}, {args.seq_len} tokens per sequence; FLOPs are training FLOPs per token")
    print("| model | N total | N non-emb. | N matmul | 6N | full | matmul | full / matmul | counter (eager) / matmul "
          "| counter (SDPA) / matmul | Trainer / matmul |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for family in FAMILIES:
        for size in args.sizes.split(","):
            spec = scratch_spec(family, size)
            facts = model_facts(spec, args.vocab)
            counts = every_convention(facts, args.seq_len)
            matmul = counts["matmul"]
            eager, sdpa = (measured(spec, args.vocab, args.seq_len, kind) / matmul for kind in ("eager", "sdpa"))
            print(f"| {spec.removeprefix('scratch:')} | {facts.parameters.total:,} | {facts.parameters.non_embedding:,} "
                  f"| {facts.matmul:,} | {counts['6N']:.4g} | {counts['full']:.4g} | {matmul:.4g} "
                  f"| {counts['full'] / matmul:.2f} | {eager:.4f} | {sdpa:.4f} "
                  f"| {trainer_count(spec, args.vocab) / matmul:.2f} |", flush=True)


if __name__ == "__main__":
    main()
