"""Completing a prompt with one or several models, reproducibly: the same prompt, settings and seed for each."""

from __future__ import annotations

from dataclasses import dataclass

from ..config.parts import SamplingConfig


@dataclass(frozen=True)
class Completions:
    """One model's completions of the prompt."""

    model: str
    parameters: int
    texts: list[str]


@dataclass(frozen=True)
class Generator:
    """A model ready to complete one prompt: loaded, and the prompt checked against its context."""

    spec: str
    tokenizer: object
    model: object
    prompt_ids: object  # the prompt's tokens, a [1, length] tensor


def prepare(spec: str, prompt: str, sampling: SamplingConfig) -> Generator:
    """Load ``spec`` and check that ``prompt`` plus ``sampling.max_new_tokens`` fits its context (one line if not)."""
    from transformers import AutoModelForCausalLM

    from ..errors import UsageError
    from ..models.build import context_length, load_pretrained
    from ..tokenization.resolve import load_tokenizer

    if not prompt:
        raise UsageError("--prompt is empty: give the text to complete (a model needs at least one token to start from)")
    tokenizer = load_tokenizer(spec)
    model = load_pretrained(spec, AutoModelForCausalLM.from_pretrained)
    if len(tokenizer) > model.config.vocab_size:
        raise UsageError(f"{spec}: its tokenizer has {len(tokenizer):,} tokens but the model only {model.config.vocab_size:,}")
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    context, length = context_length(model.config), ids.shape[1]
    if length + sampling.max_new_tokens > context:
        room = f"use --max-new-tokens {context - length} or less" if length < context else "shorten the prompt"
        raise UsageError(f"{spec}: the prompt's {length} tokens plus --max-new-tokens {sampling.max_new_tokens} exceed "
                         f"the model's context of {context} tokens; {room}")
    return Generator(spec, tokenizer, model, ids)


def generate(generator: Generator, sampling: SamplingConfig) -> Completions:
    """The prepared model's completions of its prompt under ``sampling`` (greedy at temperature 0)."""
    import torch

    tokenizer, model = generator.tokenizer, generator.model
    model.eval()
    greedy = sampling.temperature == 0
    torch.manual_seed(sampling.seed)
    with torch.no_grad():
        output = model.generate(
            input_ids=generator.prompt_ids, attention_mask=torch.ones_like(generator.prompt_ids),
            max_new_tokens=sampling.max_new_tokens, do_sample=not greedy,
            num_return_sequences=sampling.num_return_sequences if not greedy else 1,
            pad_token_id=tokenizer.eos_token_id,
            **({} if greedy else {"temperature": sampling.temperature, "top_k": sampling.top_k, "top_p": sampling.top_p}),
        )
    start = generator.prompt_ids.shape[1]
    texts = [tokenizer.decode(row[start:], skip_special_tokens=True) for row in output]
    from ..models.build import count_parameters

    return Completions(generator.spec, count_parameters(model.config).total, texts)
