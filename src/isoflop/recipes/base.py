"""What every recipe shares, and the protocol a recipe follows.

A recipe is one module with one entry function ``recipe(config, ...) -> result`` that goes through
the same five steps, so that a new training loop is one module:

1. **set up** from its validated config (``config.recipes``): the output folder checked
   (``CheckpointFolder.starting_point``), tokenizer, model, the optimizer of ``training.optim``, data;
2. **train** with checkpoints (``CheckpointFolder.save``: complete or absent) and metrics appended
   to ``OUTPUT/metrics.jsonl`` as it goes;
3. **resume** from the last checkpoint when asked, to the same numbers as an uninterrupted run;
4. **save** the final model with its tokenizer (``save_model``: complete or absent);
5. **record** the run in ``OUTPUT/results.sqlite`` (``recipes.record``), where ``isoflop show`` lists it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config.parts import DataConfig, StreamConfig
from ..config.recipes import CHAIN_TOKENIZER
from ..errors import UsageError
from ..files import atomic_folder

CHECKPOINTS = "checkpoints"
POSITION = "position.json"
METRICS = "metrics.jsonl"
MODEL = "model"
KEEP_CHECKPOINTS = 2


@dataclass(frozen=True)
class RecipeResult:
    """What a training recipe reports: its size, what it trained on, and the validation loss before and after."""

    folder: Path
    parameters: int
    non_embedding: int
    steps: int
    tokens: int
    flops: dict[str, float]  # convention → training FLOPs
    final_eval_loss: float
    first_eval_loss: float
    tokens_per_second: float
    chars_per_token: object  # data.packed.CharsPerToken
    seconds: float
    main_process: bool  # under a multi-process launch, only the main process reports


class CheckpointFolder:
    """A recipe's output folder: its checkpoints (``checkpoints/step-K``), metrics and final model."""

    def __init__(self, out: Path, what: str):
        self.out, self.what = out, what

    def latest(self) -> Path | None:
        found = sorted((p for p in (self.out / CHECKPOINTS).glob("step-*") if (p / POSITION).is_file()),
                       key=lambda p: int(p.name.split("-")[1]))
        return found[-1] if found else None

    def starting_point(self, resume: bool) -> Path | None:
        """The checkpoint to resume from (None: start afresh), or one line saying why this --output cannot go on."""
        checkpoint, out = self.latest(), self.out
        if (out / MODEL).exists():
            if resume:
                raise UsageError(f"--resume: nothing to resume, the run in {str(out)!r} finished (its model is in "
                                 f"{out / MODEL}); nothing was changed; choose a new --output to train again")
            raise UsageError(f"--output {str(out)!r} holds a finished {self.what} run ({out / MODEL}); choose a new --output")
        if resume and checkpoint is None:
            raise UsageError(f"--resume: {out}/{CHECKPOINTS}/ holds no checkpoint; run without --resume to start")
        if not resume and checkpoint is not None:
            raise UsageError(f"--output {str(out)!r} holds an interrupted {self.what} run (last checkpoint: "
                             f"{checkpoint.name}); pass --resume to continue it, or choose a new --output")
        return checkpoint

    def interruption_advice(self) -> str:
        """What to do after Ctrl-C or SIGTERM, from what the run left in the folder."""
        checkpoint = self.latest()
        if checkpoint is None:
            return f"no checkpoint was written yet in {self.out}; run the same command again to start over"
        return f"the last checkpoint ({checkpoint}) is kept; run the same command with --resume to continue from it"

    @staticmethod
    def position(checkpoint: Path) -> tuple[int, int]:
        """The optimizer steps done and the windows consumed at ``checkpoint``."""
        position = json.loads((checkpoint / POSITION).read_text())
        return position["step"], position["windows"]

    def truncate_metrics(self, step: int) -> None:
        """Drop what was logged after the checkpoint: those steps are about to be trained again."""
        path = self.out / METRICS
        if path.is_file():
            kept = [line for line in path.read_text().splitlines() if json.loads(line)["step"] <= step]
            path.write_text("".join(line + "\n" for line in kept))

    def save(self, step: int, consumed: int, save_state: Callable[[str], None], main: bool,
             barrier: Callable[[], None] = lambda: None) -> None:
        """``step-K`` complete or absent: saved under a temporary name (``save_state`` on every process), renamed by
        the main process, older ones pruned."""
        final = self.out / CHECKPOINTS / f"step-{step}"
        partial = self.out / CHECKPOINTS / f".step-{step}.partial"
        save_state(str(partial))
        if main:
            (partial / POSITION).write_text(json.dumps({"step": step, "windows": consumed}))
            partial.rename(final)
            for old in sorted(self.out.glob(f"{CHECKPOINTS}/step-*"), key=lambda p: int(p.name.split("-")[1]))[:-KEEP_CHECKPOINTS]:
                shutil.rmtree(old, ignore_errors=True)
        barrier()


def append_metrics(out: Path, metrics: list[dict], main: bool) -> None:
    """Append metric lines to ``OUTPUT/metrics.jsonl`` (by the main process)."""
    if main and metrics:
        out.mkdir(parents=True, exist_ok=True)
        with (out / METRICS).open("a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(m) + "\n" for m in metrics)


def save_model(model, tokenizer, out: Path) -> None:
    """``OUTPUT/model`` complete or absent: the model and its tokenizer, loadable by ``from_pretrained``."""
    with atomic_folder(out / MODEL) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)


def load_recipe_tokenizer(spec: str):
    """The recipe's tokenizer, with one line when the chain's default folder is not trained yet."""
    from ..tokenization.resolve import load_tokenizer

    if spec == CHAIN_TOKENIZER and not Path(spec).is_dir():
        raise UsageError(f"tokenizer folder {spec!r} does not exist yet: run isoflop tokenizer train first, "
                         "or pass --tokenizer gpt2, bytes or another folder")
    return load_tokenizer(spec)


def stream_options(data: DataConfig, stream: StreamConfig, split: str, seed: int):
    """The ``StreamOptions`` of the data and stream parts, for ``split``."""
    from ..data.stream import StreamOptions

    return StreamOptions(split=split, text_column=data.text_column, buffer_size=stream.shuffle_buffer, seed=seed,
                         max_documents=stream.max_documents, max_chars=stream.max_chars, encoding=data.text_encoding)


def validation_source(data: DataConfig) -> tuple[str, str]:
    """The validation text and its split: ``--validation-data`` whole, else the validation split of the training data."""
    return (data.validation_data, "train") if data.validation_data else (data.train_data, "validation")


def validation_windows(tokenizer, data: DataConfig, samples: int, chars_per_token: float, separator: int | None) -> list[list[int]]:
    """The first ``samples`` windows of the validation text, the same for every step and process."""
    from itertools import islice

    from ..data.packed import ConstantLengthDataset
    from ..data.stream import StreamOptions

    source, split = validation_source(data)
    fixed = ConstantLengthDataset(tokenizer, source, StreamOptions(split=split, text_column=data.text_column, encoding=data.text_encoding), data.seq_len,
                                  chars_per_token, infinite=False, separator=separator)
    windows = list(islice(fixed, samples))
    if len(windows) < samples:
        raise UsageError(f"the validation text holds {len(windows)} windows of {data.seq_len} tokens, fewer than the "
                         f"{samples} of --eval-samples; lower it")
    return windows


def gpt2_config(size: str, overrides: dict[str, float], dropout: float | None, seq_len: int, vocab_size: int, eos: int):
    """The ``GPT2Config`` of a scratch ``size`` with ``overrides``, checked against the sequence length."""
    from transformers import GPT2Config

    from ..models.specs import GPT2_CONTEXT, SCRATCH_SIZES

    shape = SCRATCH_SIZES[size]
    values = {"n_layer": shape.n_layer, "n_embd": shape.n_embd, "n_head": shape.n_head, "n_positions": GPT2_CONTEXT}
    if dropout is not None:
        values |= {"resid_pdrop": dropout, "embd_pdrop": dropout, "attn_pdrop": dropout}
    for name, value in overrides.items():
        if name not in GPT2Config().to_dict():
            raise UsageError(f"--gpt2-overrides: GPT2Config has no field {name!r}")
        values[name] = int(value) if float(value).is_integer() else value
    if values["n_embd"] % values["n_head"]:
        raise UsageError(f"n_embd {values['n_embd']} is not a multiple of n_head {values['n_head']}")
    if seq_len > values["n_positions"]:
        raise UsageError(f"--seq-len {seq_len} exceeds the model's context ({values['n_positions']} positions)")
    return GPT2Config(vocab_size=vocab_size, bos_token_id=eos, eos_token_id=eos, **values)


def flops_of(model_config, non_embedding: int, seq_len: int, tokens: int) -> dict[str, float]:
    """Training FLOPs of ``tokens`` tokens of a GPT-2 in each convention of ``models.counts``."""
    from ..models.build import architecture
    from ..models.counts import every_convention
    from ..models.specs import ModelFacts, ParameterCount, matmul_parameters

    arch = architecture(model_config)
    facts = ModelFacts(arch, ParameterCount(0, non_embedding), arch.n_positions, matmul_parameters(arch))
    return {convention: per_token * tokens for convention, per_token in every_convention(facts, seq_len).items()}
