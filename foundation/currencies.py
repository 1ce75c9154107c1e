"""ISO 4217 currency codes, from pycountry's copy of the ISO standard (kept up to date upstream).

One list for every edge that reads a currency (accounts, payments): "any three letters" let a
typo such as ``USN`` or ``RMB`` through, and an amount in an unknown currency cannot be spoken
or compared.
"""

from __future__ import annotations

import functools

import pycountry


@functools.cache
def iso4217_codes() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies)


def is_currency(code: str) -> bool:
    """Whether ``code`` (upper case) is an ISO 4217 alphabetic code."""
    return code in iso4217_codes()
