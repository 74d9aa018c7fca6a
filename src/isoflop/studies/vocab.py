"""The vocabulary study: the same isoFLOP ladder trained with several tokenizers, compared in bits per byte.

Each tokenizer gets its own isoFLOP study (``OUTPUT/NAME/``, the ordinary runner: resumable,
never losing a run); ``bpe:N`` stands for a byte-level BPE of N tokens trained first on the
study's own training corpus (``OUTPUT/tokenizers/bpe-N/``, reused when it is there). FLOPs
are counted in the ``full`` convention, which includes the embedding and the LM head: that
is where vocabularies differ. Loss per token is not comparable across tokenizers; bits per
byte is, so the comparison is made in bits per byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.parts import TokenizerTrainingConfig
from ..config.studies import VOCAB_DEFAULTS, IsoflopsConfig, VocabConfig
from ..errors import UsageError
from ..lock import FolderLock
from ..report.document import Document
from ..tokenization.resolve import load_tokenizer
from ..tokenization.train import check_settings
from .runner import StudyOutcome, run_study

BPE_PREFIX = "bpe:"


@dataclass(frozen=True)
class VocabArm:
    """One tokenizer of the vocabulary study: its folder name, its tokenizer, its isoFLOP study's outcome."""

    name: str  # the sub-folder and the label
    tokenizer: str  # what the sub-study's --tokenizer is
    outcome: StudyOutcome


def arm_name(spec: str) -> str:
    """The folder (and label) of a tokenizer in the vocabulary study."""
    if spec.startswith(BPE_PREFIX):
        return "bpe-" + spec[len(BPE_PREFIX):]
    return Path(spec).name if Path(spec).is_dir() else spec.replace("/", "-")


def vocab_config(preset: str | None, config_file: str | None, overrides: dict[str, Any]) -> VocabConfig:
    """The vocabulary study's config: its defaults (the isoflops preset ``vocab``) < another isoflops preset < file
    < options, validated once, every tokenizer checked before any ladder trains."""
    from ..config.load import build_composed
    from ..config.presets import PRESETS

    # A preset replaces the vocab defaults wholly, as it replaced them when it was applied to an isoflops study.
    reset = {name: IsoflopsConfig.defaults().get(name, IsoflopsConfig.model_fields[name].get_default(call_default_factory=True))
             for name in VOCAB_DEFAULTS}
    presets = {name: reset | values for name, values in PRESETS["isoflops"].items()}
    config = build_composed(VocabConfig, config_file, overrides, preset, presets)
    names = [arm_name(spec) for spec in config.tokenizers]
    if len(set(names)) < len(names):
        raise UsageError(f"--tokenizers names {', '.join(names)}: each needs its own name (folder)")
    if config.flop_convention != "full":
        raise UsageError("the vocabulary study counts FLOPs in the full convention (embeddings and LM head included: "
                         "where vocabularies differ); drop --flop-convention 6N")
    for spec in config.tokenizers:
        if spec.startswith(BPE_PREFIX):
            check_settings(TokenizerTrainingConfig(vocab_size=_bpe_size(spec)), f"--tokenizers {spec}")
        else:
            load_tokenizer(spec)
    return config


def arm_config(config: VocabConfig, tokenizer: str, name: str) -> IsoflopsConfig:
    """The isoFLOP study of one tokenizer: every setting of ``config``, in ``OUTPUT/NAME``."""
    values = {key: value for key, value in config.flat().items() if key != "tokenizers"}
    return IsoflopsConfig(**values | {"tokenizer": tokenizer, "output": str(Path(config.output) / name)})


def run_vocab_study(config: VocabConfig, echo: Callable[[str], None], progress: bool) -> tuple[Path, list[VocabArm], Document, list[Path]]:
    """Every arm's ladder, then the comparison report (the root folder is locked throughout, each arm's folder
    by its own study); returns the root, the arms, the report and the files it wrote."""
    from ..report.vocab import build_vocab_report

    root = Path(config.output)
    arms = []
    with FolderLock(root, echo=echo):
        for spec in config.tokenizers:
            name = arm_name(spec)
            tokenizer = _trained(spec, root, config, echo, progress) if spec.startswith(BPE_PREFIX) else spec
            echo(f"vocabulary study: {name} ({tokenizer})")
            arms.append(VocabArm(name, tokenizer, run_study(arm_config(config, tokenizer, name), echo=echo, progress=progress)))
        document, files = build_vocab_report(root, arms)
    return root, arms, document, files


def dry_run_vocab_study(config: VocabConfig, estimate: bool = False) -> list[str]:
    """Every arm's plan (``studies.dry_run``); a BPE not trained yet is planned at the size asked for. ``estimate``:
    each arm's wall time here (``studies.estimate``), and the whole study's (the arms train one after another)."""
    from .dry_run import planned
    from .estimate import duration
    from .estimate import estimate as estimated

    root, lines, total, untrained = Path(config.output), [], 0.0, []
    for spec in config.tokenizers:
        name = arm_name(spec)
        folder = root / "tokenizers" / name
        tokenizer, vocab_size = (str(folder), None) if spec.startswith(BPE_PREFIX) else (spec, None)
        if spec.startswith(BPE_PREFIX) and not folder.is_dir():
            vocab_size = _bpe_size(spec)  # planning needs only the vocabulary size
            untrained.append(spec)
            lines.append(f"{spec}: not trained yet (it is trained on {config.data.train_data} first, into {folder}); "
                         f"planned at {vocab_size:,} tokens, which a small corpus may not reach")
        arm = arm_config(config, tokenizer, name)
        arm_lines, todo = planned(arm, vocab_size)
        lines += arm_lines
        if estimate and todo:
            timed = estimated(arm, todo, vocab_size)
            lines.append(timed.line())
            total += timed.seconds
    if estimate:
        training = f"; training {', '.join(untrained)} first is not counted" if untrained else ""
        lines.append(f"estimate for the whole vocabulary study: about {duration(total)} of wall time on this machine "
                     f"(the {len(config.tokenizers)} tokenizers' ladders one after another{training})")
    return lines


def _bpe_size(spec: str) -> int:
    try:
        return int(spec[len(BPE_PREFIX):])
    except ValueError:
        raise UsageError(f"--tokenizers {spec!r}: write bpe:N with N the vocabulary size, e.g. bpe:4096") from None


def _trained(spec: str, root: Path, config: VocabConfig, echo, progress: bool) -> str:
    """The folder of the BPE ``spec`` stands for, trained on the study's corpus unless already there."""
    from ..config.tools import TokenizerTrainConfig
    from ..tokenization.train import RECORD, train_tokenizer

    size = _bpe_size(spec)
    folder = root / "tokenizers" / f"bpe-{size}"
    record_path = folder / RECORD
    if record_path.is_file():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if record.get("corpus") != config.data.train_data or record.get("vocab_size_requested") != size:
            raise UsageError(f"{folder} holds a tokenizer trained on {record.get('corpus')!r} with "
                             f"{record.get('vocab_size_requested')} tokens, not {config.data.train_data!r} with {size}; "
                             "remove it or choose another --output")
        return str(folder)
    settings = TokenizerTrainConfig(train_data=config.data.train_data, text_column=config.data.text_column,
                                    encoding=config.data.encoding, vocab_size=size)
    record = train_tokenizer(settings, folder, progress=progress)
    echo(f"trained {spec} on {config.data.train_data} in {record['seconds']:.1f} s → {folder}")
    return str(folder)
