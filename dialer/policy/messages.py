"""Whether one message (SMS, e-mail) may go now: the dial rules that apply to every contact,
and the channel's own.

A message is a contact: the account's stop flags, the debtor's local calling window and
holidays apply as to a call (Reg F §1006.6(b)(1)(i) speaks of communications, not calls).
On top: the debtor's opt-out for this channel, no e-mail to an address known to be a work
address (§1006.22(f)(3)), no SMS to a number the carrier failed ``SMS_UNREACHABLE_AFTER``
times in a row, and the per-channel caps of the rules file.  Pure: the guard
(``dialer.messaging.guard``) supplies the facts and the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from dialer.policy.decide import calendar_reasons, local_day_start
from dialer.policy.reasons import Reason, flag_reason
from dialer.policy.rules import Rules
from dialer.policy.zones import zones_for

WEEK = dt.timedelta(days=7)
# Hard failures in a row (a receipt saying undeliverable, the SMSC refusing the number) after
# which a number is unreachable by SMS for the account, until a message to it is delivered.
SMS_UNREACHABLE_AFTER = 3


class MessageReason(StrEnum):
    OPTED_OUT = "opted_out"  # the debtor asked for no more messages on this channel
    WORK_EMAIL = "work_email"  # the only address is the debtor's work address
    NO_ADDRESS = "no_address"  # nothing to send to on this channel
    UNREACHABLE = "unreachable"  # the last messages to this address all failed (SMS_UNREACHABLE_AFTER)
    DAILY_CAP = "channel_daily_cap"  # the channel's messages per local calendar day
    WEEKLY_CAP = "channel_weekly_cap"  # the channel's messages in any rolling 168 h


@dataclass(frozen=True, slots=True)
class MessageRequest:
    channel: str
    at: dt.datetime  # timezone-aware
    address: str | None  # None: the account has none on this channel
    timezone: str | None  # the account's IANA zone
    zone_phone: str | None = None  # a number to place the debtor by when the zone is unknown
    flags: frozenset[str] = frozenset()
    opted_out: bool = False
    work_address: bool = False
    sent: Sequence[dt.datetime] = ()  # earlier allowed messages of this channel to this account
    failures: int = 0  # the latest messages to this address that failed, in a row (none delivered since)


def failures_in_a_row(statuses: Sequence[str]) -> int:
    """How many of the latest messages (oldest first; delivered or failed only) failed in a row."""
    run = 0
    for status in reversed(statuses):
        if status != "failed":
            break
        run += 1
    return run


def message_reasons(request: MessageRequest, rules: Rules) -> list[str]:
    """Every reason the message may not go at ``request.at``; empty: it may."""
    reasons: list[str] = [flag_reason(f) for f in sorted(request.flags & rules.deny_flags)]
    if request.address is None:
        reasons.append(MessageReason.NO_ADDRESS)
    if request.opted_out:
        reasons.append(MessageReason.OPTED_OUT)
    if request.work_address:
        reasons.append(MessageReason.WORK_EMAIL)
    if request.channel == "sms" and request.failures >= SMS_UNREACHABLE_AFTER:
        reasons.append(MessageReason.UNREACHABLE)
    zones = zones_for(request.zone_phone or "", request.timezone)
    if not zones:
        reasons.append(Reason.TIMEZONE_UNKNOWN)
    else:
        reasons.extend(calendar_reasons(request.at, zones, rules))
    caps = rules.caps_for(request.channel)
    past = [t for t in request.sent if t <= request.at]
    if caps.per_day:
        day_start = local_day_start(request.at, zones)
        if sum(t >= day_start for t in past) >= caps.per_day:
            reasons.append(MessageReason.DAILY_CAP)
    if caps.per_week and sum(request.at - WEEK < t for t in past) >= caps.per_week:
        reasons.append(MessageReason.WEEKLY_CAP)
    return [str(r) for r in reasons]
