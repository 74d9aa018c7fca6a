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

from ..config.load import build_config
from ..config.studies import IsoflopsConfig
from ..errors import UsageError
from ..lock import FolderLock
from ..report.document import Document
from ..tokenization.resolve import load_tokenizer
from .runner import StudyOutcome, run_study

BPE_PREFIX = "bpe:"
DEFAULT_TOKENIZERS = ("bytes", "bpe:1024", "bpe:4096")
DEFAULT_PRESET = "vocab"
DEFAULT_OUTPUT = "isoflop-runs/vocab"


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


def run_vocab_study(tokenizers: tuple[str, ...], preset: str | None, config_file: str | None, overrides: dict[str, Any],
                    echo: Callable[[str], None], progress: bool) -> tuple[Path, list[VocabArm], Document, list[Path]]:
    """Every arm's ladder, then the comparison report (the root folder is locked throughout, each arm's folder
    by its own study); returns the root, the arms, the report and the files it wrote."""
    from ..report.vocab import build_vocab_report

    base = _checked(tokenizers, preset, config_file, overrides)
    root, names = Path(base.output).parent, [arm_name(spec) for spec in tokenizers]
    arms = []
    with FolderLock(root, echo=echo):
        for spec, name in zip(tokenizers, names):
            tokenizer = _trained(spec, root, base, echo, progress) if spec.startswith(BPE_PREFIX) else spec
            config = build_config(preset or DEFAULT_PRESET, config_file,
                                  {**overrides, "tokenizer": tokenizer, "output": str(root / name)}, kind="isoflops")
            echo(f"vocabulary study: {name} ({tokenizer})")
            arms.append(VocabArm(name, tokenizer, run_study(config, echo=echo, progress=progress)))
        document, files = build_vocab_report(root, arms)
    return root, arms, document, files


def dry_run_vocab_study(tokenizers: tuple[str, ...], preset: str | None, config_file: str | None,
                        overrides: dict[str, Any]) -> list[str]:
    """Every arm's plan (``studies.dry_run``); a BPE not trained yet is planned at the size asked for."""
    from .dry_run import dry_run

    base = _checked(tokenizers, preset, config_file, overrides)
    root, lines = Path(base.output).parent, []
    for spec, name in zip(tokenizers, [arm_name(spec) for spec in tokenizers]):
        folder = root / "tokenizers" / name
        tokenizer, vocab_size = (str(folder), None) if spec.startswith(BPE_PREFIX) else (spec, None)
        if spec.startswith(BPE_PREFIX) and not folder.is_dir():
            vocab_size = _bpe_size(spec)  # planning needs only the vocabulary size
            lines.append(f"{spec}: not trained yet (it is trained on {base.data.train_data} first, into {folder}); planned "
                         f"at {vocab_size:,} tokens, which a small corpus may not reach")
        config = build_config(preset or DEFAULT_PRESET, config_file,
                              {**overrides, "tokenizer": tokenizer, "output": str(root / name)}, kind="isoflops")
        lines += dry_run(config, vocab_size)
    return lines


def _checked(tokenizers: tuple[str, ...], preset: str | None, config_file: str | None, overrides: dict[str, Any]) -> IsoflopsConfig:
    """The first arm's config, once every tokenizer and setting is checked (before any ladder trains)."""
    from ..tokenization.train import TrainSettings, check_settings

    if len(tokenizers) < 2:
        raise UsageError("--tokenizers needs at least two tokenizers to compare, e.g. bytes,bpe:1024,bpe:4096")
    names = [arm_name(spec) for spec in tokenizers]
    if len(set(names)) < len(names):
        raise UsageError(f"--tokenizers names {', '.join(names)}: each needs its own name (folder)")
    root = Path(overrides.get("output") or DEFAULT_OUTPUT)
    base = build_config(preset or DEFAULT_PRESET, config_file, {**overrides, "output": str(root / names[0])}, kind="isoflops")
    if base.flop_convention != "full":
        raise UsageError("the vocabulary study counts FLOPs in the full convention (embeddings and LM head included: "
                         "where vocabularies differ); drop --flop-convention 6N")
    for spec in tokenizers:  # every tokenizer is checked before any ladder trains
        if spec.startswith(BPE_PREFIX):
            check_settings(TrainSettings(corpus=base.data.train_data, vocab_size=_bpe_size(spec)), f"--tokenizers {spec}")
        else:
            load_tokenizer(spec)
    return base


def _bpe_size(spec: str) -> int:
    try:
        return int(spec[len(BPE_PREFIX):])
    except ValueError:
        raise UsageError(f"--tokenizers {spec!r}: write bpe:N with N the vocabulary size, e.g. bpe:4096") from None


def _trained(spec: str, root: Path, config: IsoflopsConfig, echo, progress: bool) -> str:
    """The folder of the BPE ``spec`` stands for, trained on the study's corpus unless already there."""
    from ..tokenization.train import RECORD, TrainSettings, train_tokenizer

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
    record = train_tokenizer(TrainSettings(corpus=config.data.train_data, vocab_size=size), folder, progress=progress)
    echo(f"trained {spec} on {config.data.train_data} in {record['seconds']:.1f} s → {folder}")
    return str(folder)
