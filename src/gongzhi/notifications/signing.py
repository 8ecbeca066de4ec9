"""The webhook signature scheme (standard library only, so receivers can copy this file).

The sender computes ``HMAC-SHA256(secret, f"{timestamp}.".encode() + body)`` over the exact body
bytes and sends, with the POST:

``X-Gongzhi-Timestamp``  Unix time in whole seconds when the request was signed
``X-Gongzhi-Signature``  ``v1=<lower-case hex digest>``
``X-Gongzhi-Delivery``   the delivery id (the same on every retry: use it to drop duplicates)

A receiver recomputes the digest with its copy of the secret, compares in constant time, and
rejects a timestamp further than the replay window (default 300 s) from its own clock.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SCHEME = "v1"
REPLAY_WINDOW_SECONDS = 300
TIMESTAMP_HEADER = "X-Gongzhi-Timestamp"
SIGNATURE_HEADER = "X-Gongzhi-Signature"
DELIVERY_HEADER = "X-Gongzhi-Delivery"
EVENT_HEADER = "X-Gongzhi-Event"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Gongzhi-Signature`` value for ``body`` signed at ``timestamp``."""
    mac = hmac.new(secret.encode("utf-8"), f"{int(timestamp)}.".encode("ascii") + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def verify(secret: str, timestamp: str | int, body: bytes, signature: str, *, now: float | None = None,
           window: int = REPLAY_WINDOW_SECONDS) -> bool:
    """True when ``signature`` is ours for ``body`` at ``timestamp`` and the timestamp is fresh."""
    try:
        ts = int(str(timestamp).strip())
    except ValueError:
        return False
    now = time.time() if now is None else now
    if abs(now - ts) > window:
        return False
    expected = sign(secret, ts, body)
    # several signatures may be sent during a secret rotation: "v1=aaa,v1=bbb"
    return any(hmac.compare_digest(expected, part.strip()) for part in str(signature).split(","))
