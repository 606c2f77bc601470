"""Slack's request signature, checked on the raw bytes before anything parses them.

`v0=` + HMAC-SHA256 of `v0:{timestamp}:{body}` keyed with the signing secret, and a timestamp
within five minutes of now (Slack's replay window). A missing or wrong signature is 401; a
timestamp header that is not a number is a malformed request, 400.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

REPLAY_WINDOW_S = 300


def refusal(secret: str, raw: bytes, headers: Mapping[str, str], now: float) -> int | None:
    """The status to refuse the request with (400 or 401), or None if Slack signed it."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not timestamp or not signature:
        return 401
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return 400
    if abs(now - int(timestamp)) > REPLAY_WINDOW_S:
        return 401
    base = b"v0:" + timestamp.encode() + b":" + raw
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(expected.encode(), signature.encode()) else 401
