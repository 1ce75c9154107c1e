"""Numbers as the suppression lists keep them: E.164, parsed by phonenumbers."""

from __future__ import annotations

import re

import phonenumbers

from foundation.errors import InputError

_LIST_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def e164(text: str, region: str | None = None) -> str:
    """``text`` as E.164; ValueError saying what is wrong when it is not a possible number."""
    raw = text.strip()
    if not raw:
        raise ValueError("empty number")
    try:
        number = phonenumbers.parse(raw, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        hint = (
            ""
            if region or raw.startswith("+")
            else " (start it with + and the country code, or pass --region)"
        )
        raise ValueError(f"{raw!r} is not a phone number{hint}") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"{raw!r} has the wrong number of digits for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def number_arg(text: str, region: str | None = None) -> str:
    """``e164`` for a command-line argument: a malformed number is an ``InputError``."""
    try:
        return e164(text, region)
    except ValueError as exc:
        raise InputError(str(exc), "give the number in E.164 form, e.g. +12125550123") from None


def list_name_arg(name: str) -> str:
    if not _LIST_NAME.match(name):
        raise InputError(
            f"list name {name!r} is not valid",
            "use lower-case letters, digits, '.', '_' or '-' (up to 64), e.g. internal or us-dnc-2026-12",
        )
    return name
