"""One progress bar of isoflop's own: the libraries' bars and routine warnings kept off the terminal."""

from __future__ import annotations

import logging
import os


def silence_libraries() -> None:
    """No Hub, datasets or transformers bars; transformers and Accelerate log errors only (their routine
    warnings, such as the tied LM head being dropped from a checkpoint, say nothing a user must act on)."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    logging.getLogger("accelerate").setLevel(logging.ERROR)
