"""The audit log's hash chain: what a row's hash covers (pure; no I/O).

A row's hash is SHA-256 over the previous row's hash and the row's own content in one
canonical JSON form (sorted keys, UTC time to the microsecond). Changing any field of
any row, or removing a row from the middle, breaks the link after it; ``duncall audit
verify`` (``dialer.store.audit_chain.verify``) walks the chain and names the first
broken link.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

GENESIS = "0" * 64  # the "previous hash" of the first row ever written


def utc(at: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; everything written to the audit log is UTC.
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


def normal_detail(detail: Any) -> Any:
    """``detail`` as the JSON column gives it back (tuples become lists, and so on)."""
    return json.loads(json.dumps(detail if detail is not None else {}))


def link_hash(
    prev_hash: str, seq: int, at: dt.datetime, user_name: str, action: str, target: str, detail: Any
) -> str:
    content = json.dumps(
        {
            "seq": seq,
            "at": utc(at).isoformat(timespec="microseconds"),
            "user": user_name,
            "action": action,
            "target": target or "",
            "detail": normal_detail(detail),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()
