"""Pretraining throughput: isoflop's plain Accelerate loop against the HF Trainer on the same model and data.

    python benchmarks/pretrain_throughput.py [--tokenizer FOLDER|gpt2|bytes] [--steps 60] [--json]

Both train GPT-2 `mini` from the same seed on the same packed python-stdlib windows (batch 16 ×
128 tokens, AdamW, cosine schedule with 10 % warmup, clipping at 1.0, no evaluation), for the
same number of steps; tokens per second are training tokens over the training loop's wall time
(model building and data packing excluded for both).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from itertools import islice
from pathlib import Path

import torch

from isoflop.config.recipes import PretrainConfig
from isoflop.data.packed import ConstantLengthDataset, measure_chars_per_token
from isoflop.recipes.base import gpt2_config, stream_options
from isoflop.recipes.pretrain import pretrain
from isoflop.tokenization.resolve import load_tokenizer


def trainer_tokens_per_second(config: PretrainConfig, steps: int) -> float:
    from transformers import GPT2LMHeadModel, Trainer, TrainingArguments, default_data_collator

    data, optimizer = config.data, config.optimizer
    tokenizer = load_tokenizer(config.tokenizer.tokenizer)
    options = stream_options(data, config.stream, "train", config.seed)
    cpt = measure_chars_per_token(tokenizer, data.train_data, options).value
    windows = list(islice(ConstantLengthDataset(tokenizer, data.train_data, options, data.seq_len, cpt), steps * optimizer.batch_size))
    rows = [{"input_ids": torch.tensor(w), "labels": torch.tensor(w)} for w in windows]
    torch.manual_seed(config.seed)
    model = GPT2LMHeadModel(gpt2_config(config.size, config.gpt2_overrides, config.model_options.dropout, data.seq_len,
                                        len(tokenizer), tokenizer.eos_token_id))
    with tempfile.TemporaryDirectory() as scratch:
        arguments = TrainingArguments(
            output_dir=scratch, per_device_train_batch_size=optimizer.batch_size, learning_rate=optimizer.learning_rate,
            weight_decay=optimizer.weight_decay, lr_scheduler_type=optimizer.schedule,
            warmup_steps=optimizer.warmup_for(steps), max_steps=steps, max_grad_norm=optimizer.max_grad_norm,
            adam_beta1=optimizer.adam_beta1, adam_beta2=optimizer.adam_beta2, adam_epsilon=optimizer.adam_epsilon,
            save_strategy="no", eval_strategy="no",
            logging_strategy="no", report_to=[], disable_tqdm=True, seed=config.seed, dataloader_pin_memory=False,
        )
        trainer = Trainer(model=model, args=arguments, train_dataset=rows, data_collator=default_data_collator)
        started = time.perf_counter()
        trainer.train()
        return steps * optimizer.batch_size * data.seq_len / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokenizer", default="bytes")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = PretrainConfig(tokenizer=args.tokenizer, max_steps=args.steps, warmup_steps=args.steps // 10,
                                eval_every=10**9, eval_samples=16, checkpoint_every=10**9, output=str(Path(folder) / "run"))
        plain = pretrain(config, progress=False, echo=lambda _: None).tokens_per_second
    trainer = trainer_tokens_per_second(config, args.steps)
    result = {"tokenizer": args.tokenizer, "steps": args.steps, "threads": torch.get_num_threads(),
              "plain_loop_tokens_per_second": round(plain), "trainer_tokens_per_second": round(trainer),
              "ratio": round(plain / trainer, 3)}
    if args.json:
        print(json.dumps(result))
        return
    print(f"GPT-2 mini, batch 16 × 128 tokens, {args.steps} steps, tokenizer {args.tokenizer}, {result['threads']} threads")
    print(f"plain Accelerate loop: {plain:,.0f} tokens/s")
    print(f"HF Trainer:            {trainer:,.0f} tokens/s")
    print(f"ratio:                 {plain / trainer:.2f}×")


if __name__ == "__main__":
    main()
