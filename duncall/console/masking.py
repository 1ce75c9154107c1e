"""Masking debtors' phone numbers and names for roles that do not need them."""

from __future__ import annotations

import re

import phonenumbers

KEEP_DIGITS = 2  # enough to tell two numbers of one account apart, not to dial either


def mask_phone(number: str) -> str:
    """``+13105550188`` → ``+1********88``: the country stays readable (which rules applied), the rest not."""
    keep_prefix = 0
    if number.startswith("+"):
        try:
            country = phonenumbers.parse(number).country_code
            keep_prefix = len(str(country)) if country else 0
        except phonenumbers.NumberParseException:
            keep_prefix = 0
    digits = [i for i, ch in enumerate(number) if ch.isdigit()]
    keep = set(digits[:keep_prefix]) | set(digits[-KEEP_DIGITS:])
    return "".join(ch if (not ch.isdigit() or i in keep) else "*" for i, ch in enumerate(number))


def _short(name: str) -> str:
    # A Latin initial says little; the first character of a Chinese name is the surname itself.
    if not name.isascii():
        return "*" * len(name)
    return " ".join(f"{word[0]}." for word in name.split())


def initials(*names: str) -> str:
    return " ".join(_short(n.strip()) for n in names if n and n.strip())


def mask_text(text: str, names: list[str]) -> str:
    """Replace each of ``names`` in a transcript line by its initials (the bot greets debtors by name)."""
    for name in sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True):
        pattern = re.escape(name) if not name.isascii() else rf"\b{re.escape(name)}\b"
        text = re.sub(pattern, _short(name), text, flags=re.IGNORECASE)
    return text
