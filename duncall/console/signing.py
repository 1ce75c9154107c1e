"""Signed webhook requests: HMAC-SHA256 over ``<unix seconds>.<raw body>`` with a shared secret.

The header is ``X-Duncall-Signature: t=<unix seconds>,v1=<hex digest>``.  The timestamp
is part of the signed text, so it cannot be changed without the secret; a request
whose timestamp is more than ``TOLERANCE_S`` from the server's clock is refused, which
bounds replays to that window (the payment id's idempotency covers the rest).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

from duncall.console.errors import ApiError

HEADER = "X-Duncall-Signature"
TOLERANCE_S = 300
_FORMAT = re.compile(r"t=(\d{1,12}),v1=([0-9a-f]{64})")
_FIX = f"sign t.<raw body> with HMAC-SHA256 and the shared secret; send {HEADER}: t=<unix seconds>,v1=<hex>"


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for ``body`` sent at ``timestamp`` (what the payment provider computes)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str | None, body: bytes, now: dt.datetime) -> None:
    """Return if ``header`` signs ``body`` recently; else an ``ApiError`` 401 with a one-line reason."""
    if not header:
        raise ApiError(401, f"the {HEADER} header is missing", _FIX)
    match = _FORMAT.fullmatch(header.strip())
    if match is None:
        raise ApiError(401, f"the {HEADER} header is not t=<unix seconds>,v1=<64 hex digits>", _FIX)
    timestamp, digest = int(match.group(1)), match.group(2)
    expected = signature(secret, body, timestamp).partition(",v1=")[2]
    if not hmac.compare_digest(expected, digest):  # constant time: no byte-by-byte oracle
        raise ApiError(401, "the signature does not match the body", _FIX)
    skew = abs(now.timestamp() - timestamp)
    if skew > TOLERANCE_S:
        raise ApiError(
            401,
            f"the signature's timestamp is {int(skew)} s from the server's clock (over {TOLERANCE_S} s)",
            "sign each delivery when it is sent; check both clocks",
        )
