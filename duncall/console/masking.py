"""Masking debtors' phone numbers and names for roles that do not need them."""

from __future__ import annotations

import re

KEEP_DIGITS = 2  # enough to tell two numbers of one account apart, not to dial either


def mask_phone(number: str) -> str:
    digits = [i for i, ch in enumerate(number) if ch.isdigit()]
    keep = set(digits[-KEEP_DIGITS:])
    return "".join(ch if (not ch.isdigit() or i in keep) else "*" for i, ch in enumerate(number))


def _short(name: str) -> str:
    # A Latin initial says little; the first character of a Chinese name is the surname itself.
    return f"{name[0]}." if name.isascii() else "*" * len(name)


def initials(*names: str) -> str:
    return " ".join(_short(n.strip()) for n in names if n and n.strip())


def mask_text(text: str, names: list[str]) -> str:
    """Replace each of ``names`` in a transcript line by its initial (the bot greets debtors by name)."""
    for name in sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True):
        pattern = re.escape(name) if not name.isascii() else rf"\b{re.escape(name)}\b"
        text = re.sub(pattern, _short(name), text, flags=re.IGNORECASE)
    return text
