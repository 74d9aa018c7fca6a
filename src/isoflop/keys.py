"""Stable keys: a short hash of canonical JSON, so equal configs give equal keys on every machine."""

from __future__ import annotations

import hashlib
import json
from typing import Any

KEY_LENGTH = 16


def stable_key(payload: dict[str, Any]) -> str:
    """A 16-hex-digit key of ``payload``: equal payloads, equal keys, on every machine."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:KEY_LENGTH]
