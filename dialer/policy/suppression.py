"""When a number-level suppression applies to a dial: pure, so the facts lookup and tests agree.

A do-not-call entry applies to every dial of its number.  A disconnected or
reassigned report voids consent given *before* it: the number may now be someone
else's.  Consent recorded after the report (the debtor re-verified the number)
is not touched by it; an unknown consent date, or a report without a date, is
taken as the strict case.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum


class SuppressionKind(StrEnum):
    """What a list says about its numbers."""

    DNC = "dnc"  # do not call this number, whoever it belongs to
    DISCONNECTED = "disconnected"  # disconnected on the reported date
    REASSIGNED = "reassigned"  # reassigned, or answered as a wrong number, on the reported date


def report_applies(kind: str, reported_on: dt.date | None, consent_date: dt.date | None) -> bool:
    """Whether one active suppression entry stops a dial to a number with ``consent_date``."""
    if kind == SuppressionKind.DNC or kind not in SuppressionKind.__members__.values():
        return True  # an unknown kind is a do-not-call: never read an entry as permission
    if reported_on is None or consent_date is None:
        return True
    # Same day: we cannot tell which came first, so the report wins.
    return reported_on >= consent_date
