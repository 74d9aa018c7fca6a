"""The configuration parts every study, recipe and tool composes. Each setting is declared here once.

A composed config (``config.compose``) sets its own defaults for a part (``DEFAULTS``), presets
and files override them, and the CLI options are generated from these fields. ``EXCLUSIVE``
names settings of a part that say the same thing two ways: give one, and a default of the other
set lower down (a recipe's default warmup in steps) gives way.
"""

from __future__ import annotations

import codecs
import math
import re
from typing import ClassVar, Literal

from pydantic import AliasChoices, Field, create_model, field_validator, model_validator

from ..data.chunking import OLD_NAMES, ChunkingRule
from ..models.families import DEFAULT_FAMILY, FAMILIES, scratch_spec, split_scratch
from ..models.specs import SCRATCH_PREFIX
from ..errors import UsageError
from ..progress import HEARTBEAT_SECONDS
from .engines import AUTO, ENGINES, engine_names
from .base import KEYED_WHEN_SET, MAX_SEED, NOT_IDENTITY, Part
from .compose import Composed

# The classic exercise, named once.
CLASSIC_SEQ_LEN = 64
CLASSIC_BATCH_SIZE = 1
CLASSIC_LEARNING_RATE = 1e-4
CLASSIC_EVAL_SAMPLES = 10
# torch.optim.AdamW's defaults, which the Trainer (and so the classic exercise) uses.
ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999
ADAM_EPSILON = 1e-8
# The classic exercise leaves clipping and weight decay at the Trainer's defaults.
MAX_GRAD_NORM = 1.0
WEIGHT_DECAY = 0.0

Schedule = Literal["linear", "cosine", "wsd"]
CooldownShape = Literal["1-sqrt", "linear"]
# Hägele et al. (2024): a cooldown of 20 % of the steps, shaped 1 - sqrt, matches a cosine schedule.
WSD_COOLDOWN_FRACTION = 0.2
WSD_COOLDOWN_SHAPE = "1-sqrt"
Precision = Literal["fp32", "bf16", "fp16"]
FlopConvention = Literal["6N", "full", "matmul"]
Family = Literal[FAMILIES]
LrRule = Literal["fixed", "table", "power", "step-law"]
BatchRule = Literal["fixed", "step-law"]
Beta2Rule = Literal["fixed", "half-life"]
# beta2's default half-life in tokens: that of 0.95 at 524,288 tokens per step (Llama 2 and 3).
BETA2_HALF_LIFE = 524_288 * math.log(0.5) / math.log(0.95)
# The power rule's defaults: OLMo-core's exponent, at a reference size of 1M non-embedding parameters.
LR_POWER_N0, LR_POWER_P = 1e6, 1 / 3


class CorpusConfig(Part):
    """Which text: a source spec, and the column that holds its text."""

    train_data: str = Field(
        "python-docs", validation_alias=AliasChoices("train_data", "corpus"),
        description="training text: python-docs, python-stdlib, hub:NAME[:CONFIG][#SPLIT], or a .txt/.jsonl/.parquet file or folder",
    )
    text_column: str = Field("text", description="column holding the text in Hub, .jsonl and .parquet data")
    encoding: str | None = Field(
        None, description="text encoding of local .txt and .jsonl files, e.g. latin-1 (default: utf-8)",
        json_schema_extra=KEYED_WHEN_SET,
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return codecs.lookup(value).name
        except LookupError:
            raise ValueError(f"--encoding {value!r} is no text encoding Python knows; try utf-8, latin-1 or cp1252") from None

    @property
    def text_encoding(self) -> str:
        return self.encoding or "utf-8"


class DataConfig(CorpusConfig):
    """Where the text comes from and how it is cut into samples."""

    validation_data: str | None = Field(
        None, description="validation text, same forms; default: the validation split of --train-data (required for local files)"
    )
    chunking: ChunkingRule = Field(
        "per-row", description="per-row (formerly seed): each row cut into full windows, rows never join; packed: rows "
        "joined with EOS; concatenated: rows joined without a separator (group_texts)",
        json_schema_extra={"keyed_as": {"per-row": "seed"}},
    )

    @field_validator("chunking", mode="before")
    @classmethod
    def _old_rule_name(cls, value):
        return OLD_NAMES.get(value, value)
    seq_len: int = Field(CLASSIC_SEQ_LEN, gt=0, validation_alias=AliasChoices("seq_len", "block_size"),
                         description="tokens per sample (a window, or a block of group_texts)")
    holdout: float | None = Field(
        None, gt=0, lt=1, description="stream --train-data and set this share of its documents aside as the validation "
        "set, chosen by a hash of each document's text (the same documents at every run and budget): for corpora "
        "without a validation split, such as FineWeb", json_schema_extra=KEYED_WHEN_SET,
    )

    pretokenized: bool | None = Field(
        None, description="--text-column holds token ids (lists of ints, e.g. input_ids) made by --tokenizer: read as "
        "they are, streamed, not tokenized again (.jsonl, .parquet or a Hub dataset)", json_schema_extra=KEYED_WHEN_SET,
    )

    @field_validator("pretokenized")
    @classmethod
    def _off_is_unset(cls, value: bool | None) -> bool | None:
        return value or None  # --no-pretokenized is the default: every key stays

    @model_validator(mode="after")
    def _one_validation_set(self):
        if self.holdout is not None and self.validation_data is not None:
            raise ValueError("--holdout sets the validation set aside from --train-data; drop --validation-data, or "
                             "drop --holdout")
        return self


class TokenizerConfig(Part):
    """Which tokenizer turns the text into ids."""

    tokenizer: str = Field("gpt2", description="tokenizer: gpt2 (offline), bytes (one token per byte, offline), a local folder, or a Hub name")


class ModelConfig(Part):
    """How every model of a study is configured (which models: see the study's own settings)."""

    dropout: float | None = Field(None, ge=0, lt=1, description="dropout of every model (default: the model's own)")
    family: Family | None = Field(
        None, description="the block of every scratch: model: gpt2 (LayerNorm, GELU, learned positions, tied head; the "
        "default), llama (RMSNorm, SwiGLU, RoPE, untied head) or qwen3 (as llama, with QK-norm, GQA 2 and a tied head); "
        "see isoflop.models.families", json_schema_extra=KEYED_WHEN_SET,
    )

    @field_validator("family")
    @classmethod
    def _gpt2_is_the_default(cls, family: str | None) -> str | None:
        return None if family == DEFAULT_FAMILY else family  # so that naming the default keeps every run's key

    def scratch(self, size: str) -> str:
        """The spec of a ladder rung in this family: ``scratch:25m``, ``scratch:llama-25m``."""
        return scratch_spec(self.family or DEFAULT_FAMILY, size)

    def spec(self, model: str) -> str:
        """``model`` in this family: a ``scratch:SIZE`` moved into it; anything else as it is (a checkpoint's family
        is its own config's, so naming another is refused)."""
        if self.family is None:
            return model
        if not model.startswith(SCRATCH_PREFIX) or split_scratch(model)[0] != DEFAULT_FAMILY:
            raise UsageError(f"--family {self.family} applies to scratch:SIZE models; {model!r} has its own family (its "
                             "config's): drop --family, or train scratch:SIZE")
        return self.scratch(split_scratch(model)[1])


class OptimizerConfig(Part):
    """AdamW with warmup then decay to 0, gradient-norm clipping; the batch it steps on."""

    batch_size: int = Field(CLASSIC_BATCH_SIZE, gt=0, description="samples per optimizer step")
    learning_rate: float = Field(1e-3, gt=0, description="peak learning rate (per step, AdamW)")
    schedule: Schedule = Field("linear", description="after warmup: linear or cosine decay to 0, or wsd (warmup-stable-"
                               "decay: the peak rate, then a cooldown to 0 over --cooldown-fraction of the steps)")
    cooldown_fraction: float | None = Field(
        None, gt=0, le=1, description=f"wsd: fraction of each run's steps spent cooling down to 0 (default "
        f"{WSD_COOLDOWN_FRACTION})", json_schema_extra=KEYED_WHEN_SET,
    )
    cooldown_shape: CooldownShape | None = Field(
        None, description=f"wsd: the cooldown's shape, 1-sqrt or linear (default {WSD_COOLDOWN_SHAPE})",
        json_schema_extra=KEYED_WHEN_SET,
    )
    warmup_fraction: float = Field(0.0, ge=0, lt=1, description="fraction of each run's steps spent warming up linearly from 0")
    warmup_steps: int | None = Field(
        None, ge=0, description="optimizer steps spent warming up linearly from 0, instead of --warmup-fraction",
        json_schema_extra=KEYED_WHEN_SET,
    )
    weight_decay: float = Field(WEIGHT_DECAY, ge=0, description="AdamW decoupled weight decay (per step, times the learning rate)")
    max_grad_norm: float = Field(MAX_GRAD_NORM, gt=0, description="clip the global gradient L2 norm to this value")
    adam_beta1: float = Field(ADAM_BETA1, ge=0, lt=1, description="AdamW first-moment decay")
    adam_beta2: float = Field(ADAM_BETA2, ge=0, lt=1, description="AdamW second-moment decay")
    adam_epsilon: float = Field(ADAM_EPSILON, gt=0, description="AdamW denominator epsilon")
    lr_rule: LrRule | None = Field(
        None, description="each run's peak rate by a rule (training.rules): fixed (--learning-rate), table (the "
        "study's per-size rates), power (c·(N/N0)^-p of non-embedding N, OLMo-core's form), step-law (1.79·N^-0.713·"
        "D^0.307, Li et al. 2025); default: the study's own (isoflops: table, scarcity: fixed)",
        json_schema_extra=KEYED_WHEN_SET,
    )
    lr_power_c: float | None = Field(None, gt=0, description="power rule: the rate at N0 (default --learning-rate)",
                                     json_schema_extra=KEYED_WHEN_SET)
    lr_power_n0: float | None = Field(None, gt=0, description=f"power rule: the reference size N0 in non-embedding "
                                      f"parameters (default {LR_POWER_N0:g})", json_schema_extra=KEYED_WHEN_SET)
    lr_power_p: float | None = Field(None, ge=0, description=f"power rule: the exponent p (default {LR_POWER_P:.4g}, "
                                     "OLMo-core's 1/3)", json_schema_extra=KEYED_WHEN_SET)
    batch_rule: BatchRule | None = Field(
        None, description="each run's batch by a rule: fixed (--batch-size) or step-law (0.58·D^0.571 tokens, Li et al. "
        "2025, in whole samples); default fixed", json_schema_extra=KEYED_WHEN_SET,
    )
    beta2_rule: Beta2Rule | None = Field(
        None, description="AdamW's beta2: fixed (--adam-beta2) or half-life (0.5^(tokens per step / --beta2-half-life): "
        "the same memory in tokens at every batch); default fixed", json_schema_extra=KEYED_WHEN_SET,
    )
    beta2_half_life: float | None = Field(
        None, gt=0, description=f"half-life rule: beta2's half-life in tokens (default {BETA2_HALF_LIFE:,.0f}: beta2 0.95 "
        "at 524,288 tokens per step, Llama's setting)", json_schema_extra=KEYED_WHEN_SET,
    )

    EXCLUSIVE: ClassVar[tuple[tuple[str, ...], ...]] = (("warmup_fraction", "warmup_steps"),)

    @model_validator(mode="after")
    def _power_settings_go_with_the_power_rule(self):
        named = [name for name in ("lr_power_c", "lr_power_n0", "lr_power_p") if getattr(self, name) is not None]
        if named and self.lr_rule != "power":
            raise ValueError(f"--{named[0].replace('_', '-')} applies to --lr-rule power; add it, or drop the setting")
        if self.beta2_half_life is not None and self.beta2_rule != "half-life":
            raise ValueError("--beta2-half-life applies to --beta2-rule half-life; add it, or drop the setting")
        return self

    @model_validator(mode="before")
    @classmethod
    def _cooldown_of_wsd(cls, values):
        """A wsd schedule's cooldown defaults are set (so its runs are keyed by them); other schedules have none."""
        if not isinstance(values, dict):
            return values
        if values.get("schedule") == "wsd":
            defaults = {"cooldown_fraction": WSD_COOLDOWN_FRACTION, "cooldown_shape": WSD_COOLDOWN_SHAPE}
            return values | {name: value for name, value in defaults.items() if values.get(name) is None}
        for name in ("cooldown_fraction", "cooldown_shape"):
            if values.get(name) is not None:
                raise ValueError(f"--{name.replace('_', '-')} applies to --schedule wsd only; add --schedule wsd, or drop it")
        return values

    @model_validator(mode="after")
    def _one_warmup(self):
        if self.warmup_steps is not None and self.warmup_fraction:
            raise ValueError("--warmup-fraction and --warmup-steps both set the warmup; give one")
        return self

    def warmup_for(self, steps: int) -> int:
        """Warmup steps of a run of ``steps`` optimizer steps."""
        return self.warmup_steps if self.warmup_steps is not None else int(self.warmup_fraction * steps)

    def describe_schedule(self) -> str:
        """The schedule in words: "cosine decay, 5% warmup", "wsd (the peak rate, then a 1-sqrt cooldown over the last
        20% of steps), 32 warmup steps"."""
        if self.warmup_steps is not None:
            warmup = f"{self.warmup_steps} warmup steps"
        else:
            warmup = f"{self.warmup_fraction:.0%} warmup" if self.warmup_fraction else "no warmup"
        if self.schedule == "wsd":
            return (f"wsd (the peak rate, then a {self.cooldown_shape} cooldown to 0 over the last "
                    f"{self.cooldown_fraction:.0%} of steps), {warmup}")
        return f"{self.schedule} decay, {warmup}"

    def cooldown_for(self, steps: int) -> int:
        """Cooldown steps of a run of ``steps`` optimizer steps (0 unless the schedule is wsd)."""
        return max(1, round(self.cooldown_fraction * steps)) if self.schedule == "wsd" else 0


class EvaluationConfig(Part):
    """How often a run is evaluated, and on how many validation samples."""

    eval_samples: int = Field(CLASSIC_EVAL_SAMPLES, gt=0, description="validation samples per evaluation")
    evals_per_run: int | None = Field(
        None, gt=0, description="about this many evaluations per run: every steps/N steps, and at the last step (default: after every step)"
    )
    eval_every: int | None = Field(
        None, gt=0, description="evaluate every this many optimizer steps, and at the last, instead of --evals-per-run",
        json_schema_extra=KEYED_WHEN_SET,
    )

    EXCLUSIVE: ClassVar[tuple[tuple[str, ...], ...]] = (("evals_per_run", "eval_every"),)

    @model_validator(mode="after")
    def _one_frequency(self):
        if self.evals_per_run is not None and self.eval_every is not None:
            raise ValueError("--evals-per-run and --eval-every both set how often to evaluate; give one")
        return self

    def eval_steps(self, steps: int) -> tuple[int, ...]:
        """The optimizer steps after which the validation set is evaluated (1-based)."""
        if self.eval_every is not None:
            every = self.eval_every
        elif self.evals_per_run is None or self.evals_per_run >= steps:
            return tuple(range(1, steps + 1))
        else:
            every = max(1, steps // self.evals_per_run)
        return tuple(sorted(set(range(every, steps + 1, every)) | {steps}))


class PrecisionConfig(Part):
    """The arithmetic a run trains in."""

    precision: Precision = Field(
        "fp32", validation_alias=AliasChoices("precision", "mixed_precision"),
        description="fp32; bf16 autocast (the study engines: a CUDA GPU, or with the fast and reference engines a CPU "
        "with avx512_bf16 or amx_bf16; pretrain: where the hardware has it); fp16 (pretrain only, a CUDA GPU)",
    )

    @field_validator("precision", mode="before")
    @classmethod
    def _accelerate_name(cls, value):
        # Accelerate's name for fp32, as older pretrain commands gave it (--mixed-precision no).
        return "fp32" if value == "no" else value


class StreamConfig(Part):
    """How a streamed corpus is read: shuffled through a buffer as 🤗 datasets does, optionally capped."""

    shuffle_buffer: int | None = Field(
        None, ge=0, validation_alias=AliasChoices("shuffle_buffer", "buffer_size"),
        description="shuffle through a buffer of this many documents (0 or none: the corpus order)",
    )
    max_documents: int | None = Field(None, ge=0, description="read only this many documents (each pass)")
    max_chars: int | None = Field(None, ge=0, description="stop reading once this many characters were read (each pass)")


class SplitConfig(Part):
    """Which half of an embedded or Hub corpus a tool reads."""

    split: Literal["train", "validation"] = Field(
        "train", description="which half of an embedded or Hub corpus (validation: the half a trained tokenizer did not see)",
    )


class TokenizerTrainingConfig(Part):
    """How a byte-level BPE is trained (``isoflop tokenizer train``, and the vocabulary study's ``bpe:N``)."""

    vocab_size: int = Field(4096, gt=0, description="size of the vocabulary, special tokens included")
    base: str = Field("gpt2", description="the pipeline to keep: gpt2 (byte-level, GPT-2's pre-tokenizer), bytes "
                      "(byte-level, no word split), or a tokenizer folder")
    min_frequency: int = Field(2, ge=1, description="merges of pairs seen fewer times are not learned")
    special_tokens: tuple[str, ...] = Field((), description="extra special tokens, comma-separated (<|endoftext|> is always there)")


class Seeded(Part):
    """One seed for everything random in a single run or tool (studies have their grid of ``seeds``)."""

    seed: int = Field(0, ge=0, le=MAX_SEED, description="seed of the initialisation, shuffle, dropout and sampling (0 to 2^32-1)")


class SamplingConfig(Seeded):
    """How ``isoflop generate`` completes a prompt: the same settings and seed for every model compared."""

    max_new_tokens: int = Field(64, gt=0, description="tokens to generate after the prompt")
    num_return_sequences: int = Field(1, gt=0, description="samples per model (greedy decoding gives one)")
    temperature: float = Field(0.8, ge=0, description="sampling temperature (0: greedy decoding)")
    top_k: int = Field(50, ge=0, description="sample among the k likeliest tokens (0: all)")
    top_p: float = Field(0.95, gt=0, le=1, description="sample among the likeliest tokens holding this much probability")


class Output(Part):
    """Where a command writes."""

    output: str = Field("", description="output folder", json_schema_extra=NOT_IDENTITY,
                        validation_alias=AliasChoices("output", "out"))
    heartbeat_seconds: float = Field(
        HEARTBEAT_SECONDS, gt=0, description="when stderr is not a terminal (a batch system's log, a redirect), progress "
        "is a line per run stored and one every this many seconds, never bar frames", json_schema_extra=NOT_IDENTITY,
    )


TRACKERS = ("tensorboard", "wandb", "mlflow")
# The package each tracker needs.
TRACKER_PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}


class Tracked(Part):
    """Where a command's training curves go besides its own results: experiment trackers."""

    report_to: tuple[str, ...] = Field((), description="trackers, as the Trainer's --report-to: tensorboard, wandb, mlflow "
                                       "(default: none)", json_schema_extra=NOT_IDENTITY)

    @field_validator("report_to")
    @classmethod
    def _known_trackers(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [t for t in values if t not in TRACKERS]
        if unknown:
            raise ValueError(f"unknown tracker(s) {', '.join(unknown)}; choose from {', '.join(TRACKERS)}")
        return tuple(dict.fromkeys(values))


def _engine_part() -> type[Part]:
    """``engine`` and ``precision``, plus every registered engine's own options (flat, names unique)."""
    fields = {}
    for engine in ENGINES:
        for name, field in engine.options.model_fields.items():
            if name in fields:
                raise TypeError(f"engine option {name!r} is declared by two engines")
            fields[name] = (field.annotation, field)
    part = create_model("EngineConfig", __base__=_EngineChoice, **fields)
    part.__doc__ = "Which engine trains the runs, at which precision, with each engine's own options."
    return part


class _EngineChoice(PrecisionConfig):
    engine: str = Field(
        AUTO,
        description=f"{AUTO} (the fastest engine that supports the study), "
        + ", ".join(f"{e.name} ({e.summary})" for e in ENGINES),
    )
    checkpoint_seconds: float = Field(
        60.0, ge=0, description="seconds between checkpoints of a run (fast engine) or pack (batched) in training "
        "(0: after every step); a killed or interrupted study resumes it from its last checkpoint, with the numbers "
        "of an uninterrupted run", json_schema_extra=NOT_IDENTITY,
    )

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        if value != AUTO and value not in engine_names():
            raise ValueError(f"unknown engine {value!r}; choose {AUTO}, {', '.join(engine_names())}")
        return value

    @model_validator(mode="after")
    def _options_apply(self):
        """An engine's own option set for another engine does nothing: refuse it (``auto`` may pick any engine)."""
        if self.precision == "fp16":
            raise ValueError("--precision fp16: the study engines train in fp32 or bf16 (fp16 needs loss scaling, "
                             "which they do not do); use bf16 on a CUDA GPU, or fp32")
        if self.engine == AUTO:
            return self
        for other in ENGINES:
            for name, field in other.options.model_fields.items():
                if other.name != self.engine and getattr(self, name) != field.default:
                    raise ValueError(f"--{_flag(name)} is an option of the {other.name} engine and does nothing with "
                                     f"--engine {self.engine}; drop it")
        if self.engine == "reference" and self.checkpoint_seconds != type(self).model_fields["checkpoint_seconds"].default:
            raise ValueError("--checkpoint-seconds does nothing with --engine reference (the Trainer's runs are not "
                             "checkpointed: a killed run starts over); drop it, or use the fast or batched engine")
        return self

    def options_for(self, name: str) -> Part:
        """The typed options of engine ``name``, taken from this config."""
        from .engines import entry

        options = entry(name).options
        return options(**{key: getattr(self, key) for key in options.model_fields})


EngineConfig = _engine_part()


class ExecutionConfig(Part):
    """Where packs of runs are trained (this process, worker processes, a Ray cluster), and how often a pack is
    restarted."""

    executor: Literal["auto", "inprocess", "processes", "ray", "slurm"] = Field(
        "auto", description="where packs of runs are trained: inprocess (this process), processes (worker "
        "processes, single-threaded), ray (tasks on a Ray cluster; pip install 'isoflop[ray]'), slurm (one SLURM "
        "job array per round, a pack per task; pip install 'isoflop[slurm]'), or auto (processes for the fast "
        "engine when there are several packs and cores, else inprocess)",
        json_schema_extra=NOT_IDENTITY,
    )
    workers: int | None = Field(
        None, gt=0, description="worker processes of the processes executor (default: one per CPU core); with ray, "
        "the most packs running at once (default: as many as the cluster's resources allow)",
        json_schema_extra=NOT_IDENTITY,
    )
    ray_address: str | None = Field(
        None, description="the Ray cluster to use: auto (the one this node belongs to) or ray://HOST:PORT; "
        "default: start a local Ray instance sized to this machine", json_schema_extra=NOT_IDENTITY,
    )
    ray_cpus_per_pack: float = Field(1.0, gt=0, description="CPUs each Ray task (one pack) requests",
                                     json_schema_extra=NOT_IDENTITY)
    ray_gpus_per_pack: float | None = Field(
        None, ge=0, description="GPUs each Ray task requests (default: 1 when the cluster has GPUs, else 0)",
        json_schema_extra=NOT_IDENTITY,
    )
    max_attempts: int = Field(
        3, gt=0, validation_alias=AliasChoices("max_attempts", "ray_max_attempts"),
        description="times a pack is started on the processes, ray or slurm executor when its worker or task dies "
        "(killed, out of memory, a node lost) or, on slurm, is stopped by its time limit or a preemption; then "
        "processes and slurm store its runs as failed and ray stops the study (a run that fails on its own, e.g. "
        "NaN, is never retried)", json_schema_extra=NOT_IDENTITY,
    )

    @model_validator(mode="after")
    def _options_apply(self):
        """Options of another executor do nothing: refuse them instead of ignoring them."""
        if self.executor == "inprocess" and self.workers is not None:
            raise ValueError("--workers does nothing with --executor inprocess (one process trains every pack); drop it")
        if self.executor != "ray":
            for name in RAY_ONLY:
                if getattr(self, name) != type(self).model_fields[name].default:
                    raise ValueError(f"--{_flag(name)} applies to --executor ray only; add --executor ray, or drop it")
        return self


RAY_ONLY = ("ray_address", "ray_cpus_per_pack", "ray_gpus_per_pack")
SLURM_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")


def slurm_seconds(text: str) -> int:
    """A SLURM time limit in seconds: M, M:S, H:M:S, D-H, D-H:M or D-H:M:S, as ``sbatch --time`` reads it."""
    match = SLURM_TIME.match(text.strip())
    if match is None:
        raise ValueError(f"--slurm-time {text!r} is not a SLURM time limit; write minutes (90), H:M:S (1:30:00) or "
                         "D-H:M:S (1-12:00:00)")
    days, first, second, third = match.groups()
    if days is not None:  # D-H, D-H:M, D-H:M:S
        return int(days) * 86400 + int(first) * 3600 + int(second or 0) * 60 + int(third or 0)
    if third is not None:  # H:M:S
        return int(first) * 3600 + int(second) * 60 + int(third)
    return int(first) * 60 + int(second or 0)  # M or M:S


class SlurmConfig(Part):
    """How the slurm executor asks SLURM for its tasks (one job array per round, one pack per task), and whether
    the command waits for them."""

    slurm_partition: str | None = Field(None, description="the partition (sbatch --partition; default: the "
                                        "cluster's default partition)", json_schema_extra=NOT_IDENTITY)
    slurm_account: str | None = Field(None, description="the account charged (sbatch --account)",
                                      json_schema_extra=NOT_IDENTITY)
    slurm_qos: str | None = Field(None, description="the quality of service (sbatch --qos)", json_schema_extra=NOT_IDENTITY)
    slurm_time: str = Field("1:00:00", description="each task's time limit (sbatch --time: minutes, H:M:S or "
                            "D-H:M:S); a pack that needs longer checkpoints and requeues itself", json_schema_extra=NOT_IDENTITY)
    slurm_gpus_per_pack: int = Field(0, ge=0, description="GPUs each task (one pack) asks for (sbatch --gpus-per-node)",
                                     json_schema_extra=NOT_IDENTITY)
    slurm_cpus_per_pack: int = Field(1, gt=0, description="CPUs each task (one pack) asks for (sbatch --cpus-per-task)",
                                     json_schema_extra=NOT_IDENTITY)
    slurm_mem: str | None = Field(None, description="memory each task asks for, e.g. 16G (sbatch --mem)",
                                  json_schema_extra=NOT_IDENTITY)
    slurm_array_parallelism: int | None = Field(None, gt=0, description="the most tasks of one array running at once "
                                                "(sbatch --array=...%N; default: all)", json_schema_extra=NOT_IDENTITY)
    slurm_constraint: str | None = Field(None, description="node features required (sbatch --constraint)",
                                         json_schema_extra=NOT_IDENTITY)
    slurm_sbatch: tuple[str, ...] = Field((), description="more sbatch options, one per flag, as OPTION=VALUE or "
                                          "OPTION (e.g. --slurm-sbatch mail-type=END)", json_schema_extra=NOT_IDENTITY)
    slurm_signal_seconds: int = Field(120, gt=0, description="seconds before a task's end that SLURM warns it (sbatch "
                                      "--signal=USR2@N): the pack checkpoints and requeues itself",
                                      json_schema_extra=NOT_IDENTITY)
    slurm_poll_seconds: float = Field(5.0, gt=0, description="seconds between the driver's looks at the queue and "
                                      "the finished runs", json_schema_extra=NOT_IDENTITY)
    detach: bool = Field(False, description="submit the tasks and return at once, printing their job ids; "
                         "'isoflop status OUTPUT' follows them, the same command again goes on",
                         json_schema_extra=NOT_IDENTITY)

    @field_validator("slurm_time")
    @classmethod
    def _time_limit(cls, value: str) -> str:
        if slurm_seconds(value) <= 0:
            raise ValueError(f"--slurm-time {value!r} is no time at all; give each task minutes at least")
        return value.strip()

    @field_validator("slurm_sbatch")
    @classmethod
    def _options(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(value.strip().removeprefix("#SBATCH").strip().lstrip("-") for value in values)
        for value in cleaned:
            if not value or not re.match(r"^[a-z][a-z0-9-]*(=.+)?$", value):
                raise ValueError(f"--slurm-sbatch {value!r} is not an sbatch option; write it as OPTION=VALUE, e.g. "
                                 "mail-type=END")
        return cleaned

    @model_validator(mode="after")
    def _signal_before_end(self):
        if self.slurm_signal_seconds >= slurm_seconds(self.slurm_time):
            raise ValueError(f"--slurm-signal-seconds {self.slurm_signal_seconds} is not shorter than --slurm-time "
                             f"{self.slurm_time}: the warning would come before the task starts; lower it")
        return self

    def changed(self) -> list[str]:
        """The settings given another value than their default."""
        return [name for name, field in type(self).model_fields.items() if getattr(self, name) != field.default]


def _flag(name: str) -> str:
    return name.replace("_", "-")


class TrainingParts(Composed):
    """The parts every config that trains language models composes: data, tokenizer, model, optimizer and
    evaluation (the studies and pretraining; each sets its own defaults for them)."""

    data: DataConfig = Field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig)
    model_options: ModelConfig = Field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
