"""The debtor's local time zones: the account's own when known, else those of the number.

``phonenumbers`` maps a number to every zone its prefix may lie in — one for
+1 212, forty-two for a US toll-free number, sixteen for a Russian mobile — and
the guard dials only when the window is open in all of them.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone

UNKNOWN_ZONE = "Etc/Unknown"  # what phonenumbers answers for a number it cannot place


@lru_cache(maxsize=4096)
def zone(name: str) -> ZoneInfo | None:
    """The IANA zone ``name``, or None when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=65536)
def parse_number(phone: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None


def normalize(phone: str) -> str:
    """E.164 form of ``phone`` when it parses, else ``phone`` unchanged (so it still compares equal)."""
    number = parse_number(phone)
    if number is None:
        return phone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=65536)
def _number_zone_names(phone: str) -> tuple[str, ...]:
    number = parse_number(phone)
    if number is None:
        return ()
    names = tuple(pn_timezone.time_zones_for_number(number))
    return () if UNKNOWN_ZONE in names else names


def zones_for(phone: str, timezone: str | None) -> tuple[ZoneInfo, ...]:
    """Every zone the debtor may be in; empty when unknown (the guard then denies)."""
    if timezone:
        known = zone(timezone)
        return (known,) if known is not None else ()
    zones = tuple(z for z in (zone(name) for name in _number_zone_names(phone)) if z is not None)
    # A zone name phonenumbers knows but this tzdata lacks: we cannot tell that zone's time.
    return zones if len(zones) == len(_number_zone_names(phone)) else ()


def region_for(phone: str) -> str | None:
    """ISO region of the number (``US``, ``CA``, ``CN``), or None when it cannot be placed."""
    number = parse_number(phone)
    if number is None:
        return None
    return phonenumbers.region_code_for_number(number)
