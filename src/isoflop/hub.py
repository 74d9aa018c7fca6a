"""Is the Hugging Face Hub reachable? Asked once, quickly, before any download.

huggingface_hub retries an unreachable host for almost a minute before failing; a
user without internet should hear at once that a name needs the Hub, and what to pass
instead.
"""

from __future__ import annotations

import functools
import os
import socket
from urllib.parse import urlparse

from .errors import UsageError

DEFAULT_ENDPOINT = "https://huggingface.co"
CONNECT_TIMEOUT_SECONDS = 3.0


def offline_mode() -> bool:
    """HF_HUB_OFFLINE=1: the user asks for the local cache only, so no probe is made."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


@functools.lru_cache(maxsize=1)
def hub_reachable() -> bool:
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
