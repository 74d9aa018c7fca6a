"""The tools' configs, composed of the shared parts: training, comparing and inspecting tokenizers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from .base import Part
from .compose import Composed
from .parts import CorpusConfig, Output, Seeded, SplitConfig, StreamConfig, TokenizerTrainingConfig

TOKENIZERS_FOLDER = "isoflop-runs/tokenizers"


class TokenizerTrainConfig(Composed, Seeded, Output):
    """``isoflop tokenizer train``: a byte-level BPE trained on a streamed corpus (``seed``: of the shuffle buffer)."""

    DEFAULTS: ClassVar[dict[str, Any]] = {"train_data": "python-stdlib"}

    corpus: CorpusConfig = Field(default_factory=CorpusConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    stream: StreamConfig = Field(default_factory=StreamConfig)
    training: TokenizerTrainingConfig = Field(default_factory=TokenizerTrainingConfig)

    def folder(self) -> Path:
        """Where the tokenizer is written: ``--output``, else ``isoflop-runs/tokenizers/CORPUS-VOCAB``."""
        if self.output:
            return Path(self.output)
        return Path(TOKENIZERS_FOLDER) / f"{Path(self.corpus.train_data).name.replace(':', '-')}-{self.training.vocab_size}"


class TokenizerCompareConfig(Composed, Seeded, Output):
    """``isoflop tokenizer compare``: tokenizers measured on the same streamed documents."""

    DEFAULTS: ClassVar[dict[str, Any]] = {"train_data": "python-stdlib", "split": "validation",
                                          "output": f"{TOKENIZERS_FOLDER}/compare"}

    corpus: CorpusConfig = Field(default_factory=CorpusConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    stream: StreamConfig = Field(default_factory=StreamConfig)
    text: str | None = Field(None, description="sample text shown side by side (default: the start of the first document)")


class TokenizerInspectConfig(Part):
    """``isoflop tokenizer inspect``: what to show of one tokenizer."""

    count: int = Field(10, gt=0, description="how many merges and long tokens to show")
    text: str | None = Field(None, description="show how this text is split")
    file: str | None = Field(None, description="show how this file's text is split")
    keywords: str | None = Field(None, description="python (Python's keywords) or a file with one keyword per line: "
                                 "which are single tokens")
