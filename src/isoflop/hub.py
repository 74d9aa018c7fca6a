"""Is the Hugging Face Hub reachable? Asked once, quickly, before any download.

huggingface_hub retries an unreachable host for almost a minute before failing; a
user without internet should hear at once that a name needs the Hub, and what to pass
instead.
"""

from __future__ import annotations

import functools
import os
import re
import socket
from urllib.parse import urlparse

from .errors import UsageError

DEFAULT_ENDPOINT = "https://huggingface.co"
CONNECT_TIMEOUT_SECONDS = 3.0
# What a Hub repository id can be: NAME or OWNER/NAME. Anything else (./x, ~/x, /x, a/b/c) can only be a path.
REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def offline_mode() -> bool:
    """HF_HUB_OFFLINE=1: the user asks for the local cache only, so no probe is made."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


@functools.lru_cache(maxsize=1)
def hub_reachable() -> bool:
    """Whether the Hugging Face Hub answers (a short TCP connect to its endpoint)."""
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname, port), timeout=CONNECT_TIMEOUT_SECONDS):
            return True
    except OSError:
        return False


def ensure_reachable(what: str, advice: str) -> None:
    """Raise a one-line UsageError when ``what`` would need the Hub and the Hub cannot be reached."""
    if offline_mode() or hub_reachable():
        return
    raise UsageError(f"{what} needs the Hugging Face Hub, which is unreachable from here; {advice}")


def looks_like_path(spec: str) -> bool:
    """Whether ``spec`` reads as a local path rather than a Hub repository id."""
    return spec.startswith((".", "~", "/")) or REPO_ID.fullmatch(spec) is None


def ensure_folder_or_hub(what: str, spec: str, advice: str) -> None:
    """For a model or tokenizer ``spec`` that is not an existing folder: refuse a path at once ("no such folder"),
    and a Hub name when the Hub is unreachable, saying that it is not a folder here either."""
    if looks_like_path(spec):
        raise UsageError(f"{what} {spec!r}: no such folder; check the path, or {advice}")
    if offline_mode() or hub_reachable():
        return
    raise UsageError(f"{what} {spec!r} is no folder here, and as a Hub name it needs the Hugging Face Hub, which is "
                     f"unreachable from here; check the path, or {advice}")
