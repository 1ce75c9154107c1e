"""Reason codes a guard gives for a denial — the words an auditor reads in the ledger."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    TIMEZONE_UNKNOWN = "timezone_unknown"
    HOLIDAY = "holiday"
    OUTSIDE_WINDOW = "outside_window"
    NO_CONSENT = "no_consent"
    ACCOUNT_7_IN_7 = "account_7_in_7"  # the account's rolling attempt cap (7 in 168 h by default)
    AFTER_CONVERSATION = "after_conversation"  # a right-party conversation within the lockout
    PHONE_DAILY_CAP = "phone_daily_cap"  # the number's rolling attempt cap (3 in 24 h by default)
    MIN_GAP = "min_gap"  # too soon after the account's last attempt
    CONNECTED_DAILY_CAP = "connected_daily_cap"  # CN preset: connected calls per local calendar day
    ABANDON_LOCKOUT = "abandon_lockout"  # UK preset: an abandoned call to this number too recently
    PHONE_BLOCKED = "phone_blocked"  # the number is wrong/disconnected/reassigned/blocked for the account
    DNC = "dnc"  # on a suppression list, or reported disconnected/reassigned since consent


FLAG_PREFIX = "flag:"
PHONE_ACTIVE = "active"  # the one phone status that lets a number be dialled

# Counter reasons in the order the Redis script reports them; every layer uses this order.
FREQUENCY_ORDER: tuple[Reason, ...] = (
    Reason.ACCOUNT_7_IN_7,
    Reason.AFTER_CONVERSATION,
    Reason.PHONE_DAILY_CAP,
    Reason.MIN_GAP,
    Reason.CONNECTED_DAILY_CAP,
    Reason.ABANDON_LOCKOUT,
)


def flag_reason(flag: str) -> str:
    return f"{FLAG_PREFIX}{flag}"
