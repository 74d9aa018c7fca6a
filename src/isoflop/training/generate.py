"""Completing a prompt with one or several models, reproducibly: the same prompt, settings and seed for each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sampling:
    max_new_tokens: int = 64
    num_return_sequences: int = 1
    temperature: float = 0.8  # 0: greedy
    top_k: int = 50
    top_p: float = 0.95
    seed: int = 0


@dataclass(frozen=True)
class Completions:
    model: str
    parameters: int
    texts: list[str]


def generate(spec: str, prompt: str, sampling: Sampling) -> Completions:
    import torch
    from transformers import AutoModelForCausalLM

    from ..errors import UsageError
    from ..models.build import load_pretrained
    from ..tokenization.resolve import load_tokenizer

    tokenizer = load_tokenizer(spec)
    model = load_pretrained(spec, AutoModelForCausalLM.from_pretrained)
    if len(tokenizer) > model.config.vocab_size:
        raise UsageError(f"{spec}: its tokenizer has {len(tokenizer):,} tokens but the model only {model.config.vocab_size:,}")
    model.eval()
    inputs = tokenizer(prompt, return_tensors="pt")
    greedy = sampling.temperature == 0
    torch.manual_seed(sampling.seed)
    with torch.no_grad():
        output = model.generate(
            **inputs, max_new_tokens=sampling.max_new_tokens, do_sample=not greedy,
            num_return_sequences=sampling.num_return_sequences if not greedy else 1,
            pad_token_id=tokenizer.eos_token_id,
            **({} if greedy else {"temperature": sampling.temperature, "top_k": sampling.top_k, "top_p": sampling.top_p}),
        )
    start = inputs["input_ids"].shape[1]
    texts = [tokenizer.decode(row[start:], skip_special_tokens=True) for row in output]
    return Completions(spec, sum(p.numel() for p in model.parameters()), texts)
