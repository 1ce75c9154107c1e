"""Logging that keeps PII out of message text.

Call sites pass PII (phone numbers, names, amounts, transcripts) only through
``pii=...``; the default formatter drops it, and only a handler configured with
``DUNCALL_LOG_PII=1`` (e.g. a protected audit sink) writes it.
"""

from __future__ import annotations

import logging
from typing import Any

from foundation.settings import get_settings


class _PiiFilter(logging.Filter):
    def __init__(self, show_pii: bool) -> None:
        super().__init__()
        self.show_pii = show_pii

    def filter(self, record: logging.LogRecord) -> bool:
        fields = getattr(record, "fields", None) or {}
        pii = getattr(record, "pii", None) or {}
        parts = [f"{k}={v}" for k, v in fields.items()]
        if self.show_pii:
            parts += [f"{k}={v}" for k, v in pii.items()]
        elif pii:
            parts.append(f"pii_fields={','.join(sorted(pii))}")
        record.extra_text = (" " + " ".join(parts)) if parts else ""
        return True


def setup(level: str | None = None) -> None:
    handler = logging.StreamHandler()
    settings = get_settings()
    handler.addFilter(_PiiFilter(settings.log_pii))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s%(extra_text)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or settings.log_level)


def kv(**fields: Any) -> dict[str, Any]:
    """``log.info("call answered", extra=kv(call_id=...))`` — non-PII structured fields."""
    return {"fields": fields}


def kv_pii(pii: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"fields": fields, "pii": pii}
